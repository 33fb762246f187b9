"""Engine benchmarks: scripts run by hand (`python -m tests.benchmarks.bench_engine`), never collected by pytest."""
