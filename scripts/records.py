"""Writing a report: the JSON record, and its Markdown tables beside it; cache keys."""

import hashlib
import json
from pathlib import Path

__all__ = ["write_report", "digest"]


def digest(*parts):
    """A short key (16 hex digits) of ``parts`` in order: files (:class:`~pathlib.Path`, their
    bytes), bytes, and anything else as its ``str``."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            part = part.read_bytes()
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()[:16]


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
