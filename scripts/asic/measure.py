"""The gate-level runs of the energy report: its designs and workloads, each design mapped to
standard cells, simulated bit-exact and its energy estimated (:mod:`scripts.asic.report` has
the whole method). Every run is cached by its inputs (``build/report/cache``)."""

import json
import time
from pathlib import Path

import numpy as np

from golden.models import model_path
from golden.ptq import MX_SPREAD
from scripts.designs import ASIC, ENERGY, build_schemes, family_variants, format_key, spec_stem
from scripts.records import digest
from sim.common import CLOCK_PERIOD_NS
from sim.toolchain import BUILD, ROOT
from .energy import Conditions

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
    n: :data:`scripts.designs.ENERGY`'s, the other exponent sizes
    (:func:`scripts.designs.family_variants`) in their kind's design, labelled by
    :func:`scripts.designs.format_key`, then each kind's unsigned and W-MX builds running
    their scheme (:func:`scripts.designs.build_schemes`), labelled by
    :func:`scripts.designs.design_key`."""
    designs = {d.kind: d for d in ENERGY}
    return ([(d.kind, d.family(n), d.form, d.scheme) for d in ENERGY]
            + [(format_key(f), f, designs[f.kind].form, designs[f.kind].scheme)
               for f in family_variants(n)]
            + [(kind + build, designs[kind].family(n), designs[kind].form, scheme)
               for kind, build, scheme in build_schemes()])


def layer_workload(family, scheme, limits, mx_spread=MX_SPREAD):
    """Codes and layer of conv1 of the Fashion-MNIST ConvNet on FIRST_ROW.. of image 0, the
    network quantized for ``limits``; the layer is the one the build for the scheme runs
    (its unsigned variants, block-scaled weights: :func:`build_options`)."""
    from golden.conv import im2col
    from golden.datasets import load
    from golden.network import fold, load_network
    from golden.ptq import quantize_network

    network = fold(load_network(MODEL))
    q = quantize_network(network, scheme, family.n, load("fashion-mnist", "calibration")[0],
                         family=family, limits=limits, mx_spread=mx_spread)
    x = load("fashion-mnist", "test")[0][:1]
    node = next(node for node in network.nodes if node.name == LAYER)
    codes = q.run_integer(x, keep=True)[node.inputs[0]]
    rows, _ = im2col(codes, node["weight"].shape[2:], stride=node["stride"],
                     padding=node["padding"])
    step = q.steps[LAYER]
    return rows[FIRST_ROW:FIRST_ROW + M], step.w_codes, step.layer(q.hardware_family, limits)


def build_options(family, scheme, mx_spread=MX_SPREAD):
    """What the array that runs ``scheme`` on ``family`` adds: block shifters
    (``mx_block``, ``mx_spread``) for a block-scaled (W-MX) scheme, else nothing (a layer's
    own family, its unsigned variants included, is the layer's
    :attr:`~golden.layers.Layer.family`)."""
    from golden.ptq import MX_SCHEMES, mx_format

    if scheme not in MX_SCHEMES:
        return {}
    return {"mx_block": mx_format(scheme, family).block, "mx_spread": mx_spread}


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
            limits=None, log=print, mx_spread=MX_SPREAD, **options):
    """Map, simulate and estimate one report design on one workload; the result entry, named
    in the cache by ``label`` and n for its kind's default family, else by the family's spec.
    ``limits``: the scaling stage's registers (None: the family's default, as the accuracy
    study quantizes); ``options`` go to the :class:`hdl.accelerator.Accelerator`
    (``hold_idle``)."""
    from hdl.accelerator import Accelerator

    default = family.default_limits()
    chosen = default if limits is None else limits
    a, w, layer = (layer_workload(family, scheme, chosen, mx_spread) if workload == "layer"
                   else random_workload(family, limits=chosen))
    array = Accelerator(family=layer.family, form=form, rows=rows, cols=cols, max_K=K,
                        depth=DEPTH, limits=chosen, **build_options(family, scheme, mx_spread),
                        **options)
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
    from amaranth.back import verilog
    from sim.runner import run_cocotb
    from .activity import dump_module, read_toggles
    from .energy import load_gate_netlist, net_energy
    from .liberty import load_library
    from .mapping import map_to_cells, simulation_models
    from .timing import SETTLE, annotate_module, sdf_for

    family = array.family
    # Amaranth's own Verilog, as the area flows read it: the netlist does not depend on how
    # the benches' RTL is exported.
    design = map_to_cells(verilog.convert(array, name="accelerator", emit_src=False),
                          "accelerator",
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
