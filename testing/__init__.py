"""Test support: audio servers that tests and benchmarks start (never imported by the runtime)."""
