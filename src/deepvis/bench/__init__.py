"""Benchmarks printed by ``make bench`` (scripts that print figures, not timed tests)."""
