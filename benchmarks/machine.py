"""One line naming the machine a benchmark ran on, for the results it writes."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def describe(*extras: str) -> str:
    """CPUs and model, RAM, Python, then `extras` (library versions), then the 1-minute load."""

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    model = next((ln.split(":", 1)[1].strip() for ln in run("lscpu").splitlines() if ln.startswith("Model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines() if Path("/proc/meminfo").exists() else []
    mem = next((ln.split(":", 1)[1].strip() for ln in meminfo if ln.startswith("MemTotal")), "?")
    parts = [f"{run('nproc')} CPUs ({model})", f"{mem} RAM", f"Python {platform.python_version()}", *extras]
    return ", ".join(parts) + f", load {os.getloadavg()[0]:.2f}"
