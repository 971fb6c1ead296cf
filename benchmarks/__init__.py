"""Side-by-side benchmarks of nexus against plain DuckDB, native xgboost and a bare training loop.

Run `python -m benchmarks.run` from the repository root; see docs/benchmarks.md.
"""
