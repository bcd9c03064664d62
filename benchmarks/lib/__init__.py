"""Code the benchmark scripts share (modules, not scripts: test_benchmarks runs benchmarks/*.py only)."""
