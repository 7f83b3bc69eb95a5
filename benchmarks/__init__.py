"""Benchmarks and quality measurements of gankit (not part of the package)."""
