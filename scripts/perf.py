"""Simulated cycles and utilisation of a matrix product on the accelerator, TFX beside FXP.

For each array size and variant (TFX ses-form, TFX int-form, FXP), runs one M x K x N product
of random codes through the accelerator in cocotb (Icarus, RTL), streaming as fast as the array
takes it (no input gaps, no output stalls), checks every output code against the golden model,
and records the cycles from the first input transfer to the last result, both included:
weight loading, tile switches, the config barrier per column tile and the final drain are all
inside. Utilisation = M*K*N useful MACs / (rows * cols * cycles). Writes
``build/perf/perf.json`` and ``build/perf/perf.md``.

    python -m scripts.perf [--gemm 64 64 64] [--sizes 2x2 4x4 8x8] [--n 8] [--is-max 3]
"""

import argparse
import json
import tempfile
from pathlib import Path

from golden.arith import DEFAULT_LIMITS
from golden.family import FXPFamily, TFXFamily
from hdl.accelerator import Accelerator
from scripts.report import write_report
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb

__all__ = ["measure", "variants"]


def variants(n, is_max):
    return [("TFX ses", TFXFamily(n, is_max), "ses"), ("TFX int", TFXFamily(n, is_max), "int"),
            ("FXP", FXPFamily(n), "int")]


def measure(family, form, rows, cols, gemm, *, depth=64, limits=DEFAULT_LIMITS, seed=7):
    """Cycle record of one product (see the module); raises if any output code is wrong."""
    M, K, N = gemm
    array = Accelerator(family=family, form=form, rows=rows, cols=cols, max_K=K, depth=depth,
                        limits=limits)
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
             f"stalls; accumulator depth {record['depth']}), `python -m scripts.perf`.", "",
             "| array | variant | cycles | utilisation | ideal cycles |",
             "|---|---|---:|---:|---:|"]
    for row in record["rows"]:
        ideal = row["useful_macs"] // (row["rows"] * row["cols"])
        lines.append(f"| {row['rows']}x{row['cols']} | {row['variant']} | {row['cycles']} | "
                     f"{100 * row['utilisation']:.1f} % | {ideal} |")
    return "\n".join(lines) + "\n"


def _size(text):
    try:
        rows, cols = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"array size must look like 4x4, not {text!r}")
    return rows, cols


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemm", type=int, nargs=3, default=[64, 64, 64], metavar=("M", "K", "N"))
    parser.add_argument("--sizes", type=_size, nargs="+", default=[(2, 2), (4, 4), (8, 8)])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--is-max", type=int, default=3)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--out", default="build/perf")
    args = parser.parse_args(argv)
    rows = []
    for r, c in args.sizes:
        for label, family, form in variants(args.n, args.is_max):
            stats = measure(family, form, r, c, args.gemm, depth=args.depth)
            rows.append({"rows": r, "cols": c, "variant": label, "family": family.spec,
                         "form": form, **stats})
            print(f"{r}x{c} {label:<8} {stats['cycles']:>7} cycles  utilisation "
                  f"{100 * stats['utilisation']:5.1f} %", flush=True)
    record = {"gemm": args.gemm, "depth": args.depth, "simulator": "Icarus (cocotb), RTL",
              "method": "cycles from the first input transfer to the last result", "rows": rows}
    write_report(args.out, "perf", record, markdown(record))


if __name__ == "__main__":
    main()
