"""Helpers of `benchmarks.bench_api`: database set-up, load generator, insert ceiling, CPU accounting."""
