"""Benchmarks of speechbrain-ast against its peers (run ``benchmarks/benchmark.py``)."""
