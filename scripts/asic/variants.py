"""``make report-variants``: what unsigned activations and block-scaled weights (W-MX) cost in
energy, each build against its plain twin on the same trained layer (:mod:`scripts.asic.measure`:
conv1 of the Fashion-MNIST ConvNet, 4x4 array, n = 8, zero-delay gate-level simulation).

    python -m scripts.asic.variants [--jobs 2]

Writes ``build/report/variants.json`` and ``variants.md``: energy per MAC of every build, by
unit (the block shifters and their queue show as units of their own) and by block, and each
variant's ratio to its twin.
"""

import argparse
import sys

from golden._checks import check_int
from scripts.designs import family_for
from scripts.executor import run_jobs
from scripts.records import markdown_table, write_report
from golden.ptq import MX_SPREAD
from .measure import OUT, measure

#: (twin label, variant label, kind, form, twin scheme, variant scheme, what the variant adds,
#: the variant's largest block shift)
PAIRS = (
    ("TFX per tensor", "TFX W-MX (blocks of 32)", "tfx", "ses", "tfx", "tfx-mx",
     "block shifters"),
    ("FXP per tensor", "MXINT8 W-MX (blocks of 32)", "fxp", "int", "fxp-layer", "fxp-mx",
     "block shifters"),
    ("FXP per tensor", "MXINT8 W-MX (blocks of 32), spread 4", "fxp", "int", "fxp-layer",
     "fxp-mx", "block shifters (spread 4)", 4),
    ("TFX per channel", "TFX per channel, unsigned activations", "tfx", "ses", "tfx-channel",
     "tfx-channel-unsigned", "unsigned variants"),
    ("FXP per channel, signed", "FXP per channel, unsigned (fxp-channel)", "fxp", "int",
     "fxp-channel-signed", "fxp-channel", "unsigned variants"),
)
N = 8


def _job(shared, item):
    label, kind, form, scheme, spread = item
    return measure(label, family_for(kind, N), form, scheme, "layer", mx_spread=spread,
                   log=lambda text: print(text, flush=True))


def _items(pair):
    """The (label, kind, form, scheme, spread) of a pair's twin and variant."""
    twin, variant, kind, form, twin_scheme, variant_scheme, _, *spread = pair
    spread = spread[0] if spread else MX_SPREAD
    suffix = "" if spread == MX_SPREAD else f"-s{spread}"
    return ((f"{kind}-{twin_scheme}", kind, form, twin_scheme, MX_SPREAD),
            (f"{kind}-{variant_scheme}{suffix}", kind, form, variant_scheme, spread))


def per_mac(entry, group):
    """{name: pJ per MAC} of an entry's energy ``group`` ("units" or "blocks")."""
    return {name: part["total"] / entry["macs"] for name, part in entry["energy"][group].items()}


def run_variants(*, jobs=2, scheduler=None):
    items = list(dict.fromkeys(item for pair in PAIRS for item in _items(pair)))
    entries = {item[0]: entry for item, entry in run_jobs(_job, None, items, jobs=jobs,
                                                          scheduler=scheduler)}
    rows = []
    for pair in PAIRS:
        twin, variant, kind, form, twin_scheme, variant_scheme, adds = pair[:7]
        row = {"twin": twin, "variant": variant, "adds": adds, "form": form,
               "twin_scheme": twin_scheme, "variant_scheme": variant_scheme}
        for side, item in zip(("twin", "variant"), _items(pair)):
            entry = entries[item[0]]
            row.update({f"{side}_family": entry["family"],
                        f"{side}_pj_per_mac": entry["energy"]["total_pj"] / entry["macs"],
                        f"{side}_units": per_mac(entry, "units"),
                        f"{side}_blocks": per_mac(entry, "blocks"),
                        f"{side}_formats": entry["formats"], f"{side}_cells": entry["cells"]})
        rows.append(row)
    return {"n": N, "workload": "layer", "array": [4, 4], "rows": rows}


def markdown(record):
    lines = ["# Energy: unsigned activations and block-scaled weights", "",
             "Made by `python -m scripts.asic.variants` (`make report-variants`): each build "
             "against its plain twin on conv1 of the Fashion-MNIST ConvNet (8 image rows x "
             "K = 144 x N = 32), n = 8, 4x4 array, osu018 standard cells, zero-delay "
             "gate-level simulation bit-exact against the golden model, as `make report` "
             "measures (`scripts.asic.measure`).", ""]
    lines += markdown_table(
        ["variant", "adds", "twin", "form", "twin pJ/MAC", "variant pJ/MAC", "ratio",
         "cells (twin → variant)"],
        [(r["variant"], r["adds"], r["twin"], r["form"], f"{r['twin_pj_per_mac']:.2f}",
          f"{r['variant_pj_per_mac']:.2f}", f"{r['variant_pj_per_mac'] / r['twin_pj_per_mac']:.3f}",
          f"{r['twin_cells']:,} → {r['variant_cells']:,}") for r in record["rows"]],
        align="llllrrrr")
    for group, title in (("units", "By unit"), ("blocks", "By block")):
        lines += ["", f"## {title} (pJ per MAC; the difference is what the variant adds)"]
        for r in record["rows"]:
            twin, variant = r[f"twin_{group}"], r[f"variant_{group}"]
            names = sorted(set(twin) | set(variant),
                           key=lambda k: -abs(variant.get(k, 0) - twin.get(k, 0)))
            lines += ["", f"**{r['variant']}** against {r['twin']}:", ""]
            lines += markdown_table(
                [group[:-1], "twin", "variant", "difference"],
                [(name, f"{twin.get(name, 0):.2f}", f"{variant.get(name, 0):.2f}",
                  f"{variant.get(name, 0) - twin.get(name, 0):+.2f}") for name in names],
                align="lrrr")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.asic.variants",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)
    try:
        check_int("--jobs", args.jobs, 1, 64)
        record = run_variants(jobs=args.jobs, scheduler=args.scheduler)
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_report(OUT, "variants", record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
