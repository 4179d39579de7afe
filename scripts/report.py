"""Writing a report: the JSON record, and its Markdown tables beside it."""

import json
from pathlib import Path

__all__ = ["write_report"]


def write_report(directory, stem, record, markdown=None):
    """``<directory>/<stem>.json`` (and ``<stem>.md`` when ``markdown`` is given); says so."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{stem}.json"]
    paths[0].write_text(json.dumps(record, indent=2) + "\n")
    if markdown is not None:
        paths.append(directory / f"{stem}.md")
        paths[1].write_text(markdown)
    print("wrote " + " and ".join(str(path) for path in paths))
