"""Benchmarks: ``python -m benchmarks.<name>``; results are appended to benchmarks/RESULTS.md."""
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """The machine a result was measured on, as RESULTS.md records it."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}"


def busy() -> str:
    """How busy the machine was when a run started (a shared machine's other work slows every figure)."""
    try:
        return f"load average {os.getloadavg()[0]:.1f} over the minute before the run"
    except OSError:
        return "load average unknown"


def report(text: str, write: bool) -> None:
    """Print a result (markdown, headed by its title) and, if asked, append it to RESULTS.md."""
    print(text)
    if write:
        with RESULTS.open("a") as fh:
            fh.write("\n" + text)
