"""Benchmarks of stvos: ``python -m bench.run`` (the harness) and ``bench/availability.py``."""
