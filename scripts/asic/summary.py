"""The energy report's figures from its runs' entries (:mod:`scripts.asic.measure`): TFX
beside FXP, every format, the glitch factor, the FPGA view."""

import json
from pathlib import Path

from golden.family import FORMAT_KINDS
from scripts.designs import key_order
from sim.toolchain import BUILD, ROOT
from .energy import BLOCKS
from .measure import COLS, DATAPATH, INFERENCE_MACS, ROWS

def timing_of(entry):
    return entry.get("timing", "zero-delay")


def zero_delay_runs(entries):
    """The zero-delay entries by (design, n, workload, (rows, cols))."""
    return {(e["design"], e["n"], e["workload"], tuple(e["array"])): e for e in entries
            if timing_of(e) == "zero-delay"}


def glitch_rows(entries):
    """Per design with a timed run: its blocks' toggles and energy per MAC, zero-delay and
    timed, and their ratio (the glitch factor); the same for the whole and the core."""
    zero = zero_delay_runs(entries)
    rows = []
    for timed in (e for e in entries if timing_of(e) == "timed"):
        base = zero.get((timed["design"], timed["n"], timed["workload"], tuple(timed["array"])))
        if base is None:
            continue
        block = lambda e, b, key: e["energy"]["blocks"][b][key] / e["macs"]
        blocks = {b: {"toggles": [block(base, b, "toggles"), block(timed, b, "toggles")],
                      "pj": [block(base, b, "total"), block(timed, b, "total")]}
                  for b in BLOCKS}
        whole = [per_mac(base), per_mac(timed)]
        core = [core_per_mac(base), core_per_mac(timed)]
        rows.append({"design": timed["design"], "n": timed["n"], "workload": timed["workload"],
                     "array": timed["array"], "period_ns": timed["slack"]["period_ns"],
                     "blocks": blocks, "whole_pj": whole, "core_pj": core})
    return rows


def main_rows(record):
    """The summary rows of the ``ROWS x COLS`` array."""
    return [row for row in record["rows"] if row["array"] == [ROWS, COLS]]


def per_mac(entry, blocks=BLOCKS):
    return sum(entry["energy"]["blocks"][b]["total"] for b in blocks) / entry["macs"]


def core_per_mac(entry):
    return entry["energy"]["units"]["core"]["total"] / entry["macs"]


def area(entry, blocks=BLOCKS):
    return sum(entry["energy"]["blocks"][b]["area_um2"] for b in blocks)


def summarise(entries):
    """Rows of TFX beside FXP per (n, workload), with the ratios."""
    rows = []
    index = zero_delay_runs(entries)
    order = lambda kv: (kv[0][3], kv[0][1], kv[0][2])
    for (design, n, workload, shape), tfx in sorted(index.items(), key=order):
        fxp = index.get(("fxp", n, workload, shape))
        if design != "tfx" or fxp is None:
            continue
        row = {"n": n, "workload": workload, "array": list(shape)}
        for scope, blocks in (("whole", BLOCKS), ("datapath", DATAPATH)):
            row[scope] = {
                "tfx_pj_per_mac": per_mac(tfx, blocks), "fxp_pj_per_mac": per_mac(fxp, blocks),
                "energy_ratio": per_mac(tfx, blocks) / per_mac(fxp, blocks),
                "tfx_area_um2": area(tfx, blocks), "fxp_area_um2": area(fxp, blocks),
                "area_ratio": area(tfx, blocks) / area(fxp, blocks)}
        core_area = lambda e: e["energy"]["units"]["core"]["area_um2"]
        row["core"] = {"tfx_pj_per_mac": core_per_mac(tfx), "fxp_pj_per_mac": core_per_mac(fxp),
                       "energy_ratio": core_per_mac(tfx) / core_per_mac(fxp),
                       "area_ratio": core_area(tfx) / core_area(fxp)}
        row["blocks"] = {b: {"tfx": tfx["energy"]["blocks"][b]["total"] / tfx["macs"],
                             "fxp": fxp["energy"]["blocks"][b]["total"] / fxp["macs"]}
                         for b in BLOCKS}
        row["toggles_per_mac"] = {b: {"tfx": tfx["energy"]["blocks"][b]["toggles"] / tfx["macs"],
                                      "fxp": fxp["energy"]["blocks"][b]["toggles"] / fxp["macs"]}
                                  for b in BLOCKS}
        row["units"] = {u: {d: e["energy"]["units"].get(u, {}).get("total", 0.0) / e["macs"]
                            for d, e in (("tfx", tfx), ("fxp", fxp))}
                        for u in sorted(set(tfx["energy"]["units"]) | set(fxp["energy"]["units"]))}
        row["layer_nj"] = {"tfx": tfx["energy"]["total_pj"] / 1e3,
                           "fxp": fxp["energy"]["total_pj"] / 1e3}
        row["inference_uj"] = {d: row["whole"][f"{d}_pj_per_mac"] * INFERENCE_MACS / 1e6
                               for d in ("tfx", "fxp")}
        rows.append(row)
    return rows


#: The blocks the every-format table shows one by one.
FORMAT_BLOCKS = ("decoders", "multipliers", "accumulators", "scaling", "registers")


def format_rows(entries):
    """Every measured design per (n, workload, array), zero-delay: whole, datapath and core
    energy per MAC, area, its blocks, and the whole energy and area against FXP's and TFX's at
    the same n, workload and array (where those were measured)."""
    groups = {}
    for (design, n, workload, shape), entry in zero_delay_runs(entries).items():
        groups.setdefault((shape, n, workload), {})[design] = entry
    rows = []
    for (shape, n, workload), by_design in sorted(groups.items()):
        figures = {}
        for design in sorted(by_design, key=key_order):
            e = by_design[design]
            figures[design] = {
                "family": e.get("family"), "formats": e.get("formats"),
                "whole_pj_per_mac": per_mac(e), "datapath_pj_per_mac": per_mac(e, DATAPATH),
                "core_pj_per_mac": core_per_mac(e), "area_um2": area(e),
                "core_area_um2": e["energy"]["units"]["core"]["area_um2"],
                "blocks": {b: e["energy"]["blocks"][b]["total"] / e["macs"] for b in BLOCKS},
                "inference_uj": per_mac(e) * INFERENCE_MACS / 1e6}
        for base in ("fxp", "tfx"):
            if base in figures:
                for f in figures.values():
                    f[f"energy_vs_{base}"] = f["whole_pj_per_mac"] / figures[base][
                        "whole_pj_per_mac"]
                    f[f"core_vs_{base}"] = f["core_pj_per_mac"] / figures[base]["core_pj_per_mac"]
                    f[f"area_vs_{base}"] = f["area_um2"] / figures[base]["area_um2"]
        rows.append({"n": n, "workload": workload, "array": list(shape), "designs": figures})
    return rows


def fpga_figures(path=BUILD / "synth" / "sweep" / "icebreaker" / "sweep.json"):
    """iCE40 logic cells, DSPs and fmax per (n, format) from ``make synth-sweep``, or None."""
    if not Path(path).exists():
        return None
    sweep = json.loads(Path(path).read_text())
    path = Path(path)
    figures = {"source": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
               "board": sweep["board"],
               "size": sweep["width_size"], "by_n": {}}
    for row in sweep["widths"]:
        if row["dsp"]:
            figures["by_n"][str(row["n"])] = {fmt: {k: row[fmt].get(k) for k in
                                                    ("logic", "dsps", "fmax_mhz", "fits")}
                                              for fmt in FORMAT_KINDS if fmt in row}
    return figures
