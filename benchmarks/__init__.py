"""Benchmarks: ``python -m benchmarks.<name>``; results are appended to benchmarks/RESULTS.md."""
import os
import platform


def machine() -> str:
    """The machine a result was measured on, as RESULTS.md records it."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}"
