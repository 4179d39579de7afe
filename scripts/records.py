"""Writing a report: the JSON record with its provenance, and its Markdown tables beside it;
cache keys."""

import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["write_report", "digest", "provenance"]

ROOT = Path(__file__).resolve().parent.parent


def digest(*parts):
    """A short key (16 hex digits) of ``parts`` in order: files (:class:`~pathlib.Path`, their
    bytes), bytes, and anything else as its ``str``."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            part = part.read_bytes()
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()[:16]


def _process_seconds():
    """Wall-clock seconds since this process started (Linux: from /proc; elsewhere since this
    module was imported)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()


def _git(*args):
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance():
    """How a record was made: command, commit (and whether the work tree differed from it),
    UTC date, machine and the wall time of the process so far."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": " ".join(["python", "-m", _module_name()] + sys.argv[1:]),
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}, {platform.system()} "
                   f"{platform.machine()}, Python {platform.python_version()}",
        "wall_s": round(_process_seconds(), 1),
    }


def _module_name():
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name.removesuffix(".__main__")
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


def write_report(directory, stem, record, markdown=None):
    """``<directory>/<stem>.json`` (and ``<stem>.md`` when ``markdown`` is given); says so.

    ``record`` is a dict; its ``provenance`` (see :func:`provenance`) is added to the file."""
    if not isinstance(record, dict):
        raise TypeError(f"a record is a dict, not {type(record).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{stem}.json"]
    paths[0].write_text(json.dumps({**record, "provenance": provenance()}, indent=2) + "\n")
    if markdown is not None:
        paths.append(directory / f"{stem}.md")
        paths[1].write_text(markdown)
    print("wrote " + " and ".join(str(path) for path in paths))


def markdown_table(header, rows, *, align=None):
    """A Markdown table: ``header`` (cell texts), ``rows`` (sequences of cell texts, each as
    long as the header), ``align`` an optional string of ``l``/``r`` per column (``r`` right-
    aligns: ``---:``). Cells are written as given (an empty one as ``| |``); a row of another
    length is a ValueError."""
    align = align or "l" * len(header)
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} columns, the header {len(header)}")
    lines = ["| " + " | ".join(header) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns")
        lines.append("|" + "".join(f" {cell} |" if str(cell) else " |" for cell in row))
    return lines
