"""Benchmarks of crowdtwist_async: run with `python -m benchmarks [--quick]`."""
