"""Benchmarks: side-by-side measurements reported as ratios against a baseline from the same run."""
