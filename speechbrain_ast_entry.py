"""The ``speechbrain-ast`` console script, outside the package on purpose.

Importing ``speechbrain_ast`` imports torch and torchaudio. A plain ``pip
install`` of this project on a CPU-only machine can leave PyPI's CUDA-built
torchaudio beside a CPU torch, and then ``import torchaudio`` fails with an
``OSError`` before any command runs: a long traceback that does not say what
to do. This module imports nothing of the stack itself, so it can turn that
failure into one line that names the fix.

Authors
 * speechbrain-ast contributors 2026
"""

import sys

EXIT_STACK = 3
ADVICE = (
    "from a checkout, `bash scripts/setup_env.sh .venv` builds a working environment "
    "(CPU torch, torchaudio, speechbrain); in this environment, "
    "`python -m speechbrain_ast_fix_wheels` makes a CUDA-built torchaudio importable "
    "beside a CPU-only torch"
)


def main(argv=None):
    """Run ``speechbrain-ast``, or say in one line why its stack cannot be imported.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The command's exit code, or 3 when the stack cannot be imported.
    """
    try:
        from speechbrain_ast.cli import main as command_main
    except (ImportError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(
            f"speechbrain-ast: cannot import its stack ({type(error).__name__}: {reason}); "
            + ADVICE,
            file=sys.stderr,
        )
        return EXIT_STACK
    return command_main(argv)


if __name__ == "__main__":
    sys.exit(main())
