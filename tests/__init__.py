"""speechbrain-ast tests (a package, so that ``tests.helpers`` is ours even where
another distribution installs a top-level ``tests`` package, as dcase_util does)."""
