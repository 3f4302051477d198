"""Benchmarks and metric parity against PyPI `tracker-exporter` 2.0.0 (`make bench`); not tests."""
