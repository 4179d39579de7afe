"""Simulated cycles and utilisation of a matrix product on the accelerator, TFX beside FXP.

For each array size and variant (every design of :data:`scripts.designs.ALL`, and TFX's and
FXP's builds with unsigned activations and with block-scaled weights), runs one M x K x N product
of random codes through the accelerator in cocotb (Icarus, RTL), streaming as fast as the array
takes it (no input gaps, no output stalls), checks every output code against the golden model,
and records the cycles from the first input transfer to the last result, both included:
weight loading, tile switches, the config barrier per column tile and the final drain are all
inside. Utilisation = M*K*N useful MACs / (rows * cols * cycles). Writes
``build/perf/perf.json`` and ``build/perf/perf.md``. The designs are
:data:`scripts.designs.ALL`. Entry point: :mod:`scripts.perf`.
"""

import json
import tempfile
from pathlib import Path

from golden.arith import DEFAULT_LIMITS
from hdl.accelerator import Accelerator
from golden.ptq import MX_SPREAD
from scripts.designs import ALL, ASIC, family_for
from scripts.records import markdown_table, write_report
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb

__all__ = ["measure", "variants", "run_perf", "markdown"]


#: Block size of the W-MX builds measured beside the plain designs.
MX_BLOCK = 32


def variants(n, is_max):
    """(label, family, form, accelerator options) of every compared design at width n, then
    TFX's and FXP's (:data:`scripts.designs.ASIC`) builds with unsigned activation variants
    and with block-scaled weights (blocks of :data:`MX_BLOCK`, spread 15)."""
    plain = [(d.label, d.family(n, is_max), d.form, {}) for d in ALL]
    builds = [(f"{d.label} +U", family_for(d.kind, n, is_max, unsigned=True), d.form, {})
              for d in ASIC]
    builds += [(f"{d.label} W-MX{MX_BLOCK}", d.family(n, is_max), d.form,
                {"mx_block": MX_BLOCK, "mx_spread": MX_SPREAD}) for d in ASIC]
    return plain + builds


def measure(family, form, rows, cols, gemm, *, depth=64, limits=DEFAULT_LIMITS, seed=7,
            **options):
    """Cycle record of one product (see the module); raises if any output code is wrong.
    ``options`` go to the :class:`hdl.accelerator.Accelerator` (``mx_block``,
    ``mx_spread``); a W-MX build's weights are all block-scaled."""
    M, K, N = gemm
    array = Accelerator(family=family, form=form, rows=rows, cols=cols, max_K=K, depth=depth,
                        limits=limits, **options)
    with tempfile.TemporaryDirectory() as directory:
        stats = Path(directory) / "stats.json"
        p = {**accelerator_params(array), "gemm": [M, K, N], "seed": seed,
             "stats": str(stats)}
        result = run_cocotb(verilog_text=export_verilog(array, "accelerator"),
                            toplevel="accelerator", test_module="sim.tb_perf", params=p)
        if not result.passed:
            raise RuntimeError(f"the {rows}x{cols} {family.label} run failed; see {result.log}")
        return json.loads(stats.read_text())


def markdown(record):
    M, K, N = record["gemm"]
    lines = [f"Simulated {M}x{K}x{N} matrix product (Icarus, RTL, no input gaps or output "
             f"stalls; accumulator depth {record['depth']}), `python -m scripts.perf`.", ""]
    lines += markdown_table(
        ["array", "variant", "cycles", "utilisation", "ideal cycles"],
        [(f"{row['rows']}x{row['cols']}", row["variant"], row["cycles"],
          f"{100 * row['utilisation']:.1f} %", row["useful_macs"] // (row["rows"] * row["cols"]))
         for row in record["rows"]], align="llrrr")
    return "\n".join(lines) + "\n"


def run_perf(*, gemm=(64, 64, 64), sizes=((2, 2), (4, 4), (8, 8)), n=8, is_max=3, depth=64,
             out="build/perf"):
    """Every size and design; writes the record and its table to ``out`` and returns it."""
    rows = []
    for r, c in sizes:
        for label, family, form, options in variants(n, is_max):
            stats = measure(family, form, r, c, gemm, depth=depth, **options)
            rows.append({"rows": r, "cols": c, "variant": label, "family": family.spec,
                         "form": form, **options, **stats})
            print(f"{r}x{c} {label:<14} {stats['cycles']:>7} cycles  utilisation "
                  f"{100 * stats['utilisation']:5.1f} %", flush=True)
    record = {"gemm": list(gemm), "depth": depth, "simulator": "Icarus (cocotb), RTL",
              "method": "cycles from the first input transfer to the last result", "rows": rows}
    write_report(out, "perf", record, markdown(record))
    return record
