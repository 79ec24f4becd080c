"""Benchmark scripts; figures are reported in the README (rerun with `make bench`)."""
