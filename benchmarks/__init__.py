"""Rerunnable benchmarks (`python -m benchmarks.plan_throughput --help`)."""
