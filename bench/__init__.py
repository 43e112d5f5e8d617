"""Benchmarks of vhbot: run with `python -m bench.run` (see bench/README.md)."""
