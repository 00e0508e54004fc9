"""Benchmark runners behind `tipwatch bench TARGET` (the scripts in ``benchmarks/`` call them too)."""
