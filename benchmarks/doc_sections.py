"""Writing a benchmark's results into a docs page between its own markers, leaving the rest as it is."""

from __future__ import annotations

from pathlib import Path


def replace_marked(path: Path, start: str, end: str, section: str, *, title: str) -> None:
    """Replace the text from `start` to `end` (both markers included in `section`), or append `section`
    to the page (a new page starts with `title`): several benchmarks share one page."""
    text = path.read_text() if path.exists() else f"# {title}\n\n"
    first, last = text.find(start), text.find(end)
    if first >= 0 and last > first:
        text = text[:first] + section.rstrip("\n") + text[last + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")
