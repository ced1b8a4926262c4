"""Benchmarks for tokenguard: ``python -m bench`` (``make bench``), not part of the tests."""
