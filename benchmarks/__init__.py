"""Benchmarks: ``python -m benchmarks.<name>``; results are appended to benchmarks/RESULTS.md."""
