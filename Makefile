# speechbrain-ast: `make test` and `make demo` create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint doctest unittest demo bench gpu-check clean

$(STAMP): setup.py constraints.txt scripts/setup_env.sh speechbrain_ast_fix_wheels.py
	bash scripts/setup_env.sh $(VENV)
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) lint
	$(PY) -m pytest --doctest-modules speechbrain_ast tests recipes -q

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) benchmarks/benchmark.py --threads 1

# On a GPU machine; prepared by benchmarks/gpu_check_prepare.sh (see benchmarks/README.md).
gpu-check:
	bash benchmarks/gpu_check.sh

clean:
	rm -rf $(VENV) results .pytest_cache
