# speechbrain-ast: `make test` and `make demo` create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint doctest unittest demo bench gpu-check upstream-check clean

$(STAMP): setup.py constraints.txt scripts/setup_env.sh speechbrain_ast_fix_wheels.py
	bash scripts/setup_env.sh $(VENV)
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check recipes  # SpeechBrain's formatting (recipes/ruff.toml)

test: $(STAMP) lint
	$(PY) -m pytest --doctest-modules speechbrain_ast tests recipes scripts/place_in_speechbrain.py -q

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) benchmarks/benchmark.py --threads 1

# On a GPU machine; prepared by benchmarks/gpu_check_prepare.sh (see benchmarks/README.md).
gpu-check:
	bash benchmarks/gpu_check.sh

# SpeechBrain's own checks on our recipes, from a SpeechBrain checkout (needs
# PyPI once for its linters; not part of CI): make upstream-check SB=../speechbrain
SB_LINT := .venv-sblint
upstream-check: $(STAMP)
	@test -n "$(SB)" || { echo "usage: make upstream-check SB=path/to/speechbrain"; exit 2; }
	test -x $(SB_LINT)/bin/ruff || { python3 -m venv $(SB_LINT) && $(SB_LINT)/bin/pip install -q -r $(SB)/lint-requirements.txt; }
	mkdir -p results
	$(PY) scripts/upstream_check.py --sb $(SB) --tools $(SB_LINT)/bin --json results/upstream-check.json; \
	here=$$?; \
	$(PY) scripts/upstream_check.py --sb $(SB) --tools $(SB_LINT)/bin --placed --json results/upstream-check-placed.json; \
	placed=$$?; test $$here -eq 0 && test $$placed -eq 0

clean:
	rm -rf $(VENV) results .pytest_cache
