"""Organisations of the TFX core, measured by the energy flow of ``make report``.

    python -m scripts.asic.explore [--jobs 2]

Each variant is TFX(8, 3) on the report's 4×4 accelerator, the layer workload, mapped,
simulated (zero delay) and estimated exactly as :mod:`scripts.asic.report` does; the kept
design is the report's own (ses form, row-sized partial sums, ``hold_idle``):

- ``ses``: the kept design;
- ``int``: both operands as integers (the weight's and the activation's exponent applied at
  decode, an 11-bit integer product, no run-time shift);
- ``ses, column-wide partial sums``: every PE's partial sum as wide as the column's total,
  as before the row-sized ones (made by elaborating with :func:`hdl.systolic.partial_sum_width`
  giving every row the column's width);
- ``ses, no hold_idle``: data registers that load on every cycle (the FPGA builds' choice),
  so that only the registers with a load enable of their own are clock-gated.

Beside them, posit(8, 1) and FP(8, 4) in the report's design (ses form), each with its
family's default scaling registers (a 64-bit bias, 72 for E5M2, as in the report and the study)
and with a narrower bias with which the Fashion-MNIST ConvNet still quantizes (:data:`BIASES`):
how much of their energy the bias, which sets the accumulators' width, costs. And the other
exponent sizes (:data:`EXPONENT_VARIANTS`: FP6 E3M2, FP8 E5M2, posit es = 0) beside the
studied ones and TFX and FXP, on the random workload.

Writes ``build/report/explore.{json,md}``; runs are cached with the report's.
"""

import argparse
import contextlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from scripts.records import markdown_table, write_report
from .measure import COLS, OUT, ROWS, measure

VARIANTS = ("ses", "int", "ses, column-wide partial sums", "ses, no hold_idle")
#: A narrower bias per format, with which the whole Fashion-MNIST ConvNet still quantizes at
#: n = 8: posit the 32 bits of TFX and FXP (it needs between 25 and 28), FP(8, 4) the
#: smallest, 36 (``quantize_network`` raises at 35: conv1's bias needs 36 bits).
BIASES = {"posit": 32, "fp": 36}
FORMAT_VARIANTS = tuple((kind, bias) for kind in BIASES for bias in (None, BIASES[kind]))
#: The other exponent sizes (kind, n, es or E): the OCP types' second ones (FP6 E3M2, FP8
#: E5M2) and posit es = 0 beside the defaults, on the random workload (``make report``
#: measures them on the trained layer), with TFX and FXP at the same widths.
EXPONENT_VARIANTS = (("fp", 6, 2), ("fp", 6, 3), ("fp", 8, 4), ("fp", 8, 5), ("posit", 8, 1),
                     ("posit", 8, 0), ("tfx", 6, None), ("fxp", 6, None), ("tfx", 8, None),
                     ("fxp", 8, None))


def _progress(text):
    print(text, flush=True)


@contextlib.contextmanager
def column_wide_partial_sums():
    """While active, every PE of a core is elaborated with the column's partial-sum width."""
    import hdl.systolic as systolic
    row_sized = systolic.partial_sum_width
    systolic.partial_sum_width = lambda family, rows: row_sized(family, ROWS)
    try:
        yield
    finally:
        systolic.partial_sum_width = row_sized


def measure_variant(variant):
    """The report entry of one variant (see the module)."""
    from scripts.designs import design

    tfx = design("tfx", "ses")
    patch = (column_wide_partial_sums() if variant == "ses, column-wide partial sums"
             else contextlib.nullcontext())
    with patch:  # the Verilog is elaborated inside
        entry = measure("tfx", tfx.family(8), "int" if variant == "int" else "ses", tfx.scheme,
                        "layer", hold_idle=variant != "ses, no hold_idle",
                        log=_progress)
    return {"variant": variant, **entry}


def measure_format(variant):
    """The report entry of posit or FP at n = 8 with a bias of ``bias`` bits (None: the
    family's default)."""
    from dataclasses import replace

    from scripts.designs import design

    kind, bias = variant
    d = design(kind, "ses")
    family = d.family(8)
    limits = None if bias is None else replace(family.default_limits(), bias_bits=bias)
    entry = measure(kind, family, d.form, d.scheme, "layer", limits=limits,
                    log=_progress)
    return {"variant": f"{family.label}, {entry['bias_bits']}-bit bias", **entry}


def measure_exponent(variant):
    """The report entry of one of :data:`EXPONENT_VARIANTS` on the random workload."""
    from golden.family import parse_family
    from scripts.designs import ENERGY

    kind, n, parameter = variant
    d = next(d for d in ENERGY if d.kind == kind)
    family = d.family(n) if parameter is None else parse_family(f"{kind}:{n},{parameter}")
    entry = measure(kind, family, d.form, d.scheme, "random", log=_progress)
    return {"variant": f"{family.label}, random workload", **entry}


def _measure(variant):
    if isinstance(variant, str):
        return measure_variant(variant)
    return measure_format(variant) if len(variant) == 2 else measure_exponent(variant)


def summary(entry):
    energy, macs = entry["energy"], entry["macs"]
    blocks = energy["blocks"]
    return {"variant": entry["variant"], "pj_per_mac": energy["total_pj"] / macs,
            "core_pj_per_mac": energy["units"]["core"]["total"] / macs,
            "area_mm2": energy["area_um2"] / 1e6,
            "core_area_mm2": energy["units"]["core"]["area_um2"] / 1e6,
            "flops": entry["flops"],
            **{f"{b}_pj_per_mac": blocks[b]["total"] / macs
               for b in ("multipliers", "accumulators", "registers", "decoders", "clock")}}


def markdown(rows):
    lines = [f"TFX(8, 3) organisations, and posit(8, 1) and FP(8, 4) with two bias widths, "
             f"{ROWS}x{COLS} accelerator, layer workload, zero-delay gate-level energy "
             f"(`python -m scripts.asic.explore`, the flow of `make report`).", ""]
    lines += markdown_table(
        ["variant", "pJ/MAC", "core pJ/MAC", "multipliers", "accumulators", "registers",
         "decoders", "clock", "mm²", "core mm²", "flip-flops"],
        [(r["variant"], *(f"{r[key]:.2f}" for key in (
            "pj_per_mac", "core_pj_per_mac", "multipliers_pj_per_mac", "accumulators_pj_per_mac",
            "registers_pj_per_mac", "decoders_pj_per_mac", "clock_pj_per_mac")),
          f"{r['area_mm2']:.3f}", f"{r['core_area_mm2']:.3f}", f"{r['flops']:,}") for r in rows])
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.asic.explore",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        entries = list(pool.map(_measure, (*VARIANTS, *FORMAT_VARIANTS, *EXPONENT_VARIANTS)))
    rows = [summary(entry) for entry in entries]
    record = {"rows": rows, "entries": entries, "made": {"by": "python -m scripts.asic.explore"}}
    write_report(OUT, "explore", record, markdown(rows))
    print(markdown(rows))
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
