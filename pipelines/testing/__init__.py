"""Tiny random-weight models and offline Hugging Face cache replicas, for tests and benchmarks.

Kept out of the engine proper: nothing in `pipelines/` imports this package; only tests
and benchmark scripts do, so the app never pays for (or depends on) these builders.
"""
