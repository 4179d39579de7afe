"""``make report``: TFX against fixed point (and posit and the minifloat beside them),
standard-cell area and energy per MAC from gate-level simulation (:mod:`scripts.asic.report`).

    python -m scripts.report [--widths 4 5 6 8] [--workloads layer random] [--jobs 2]
                             [--scheduler tcp://host:8786]
                             [--no-large] [--no-glitches] [--no-formats] [--no-opensta]
"""

import argparse
import sys

from scripts.asic.measure import OUT, WIDTHS, WORKLOADS
from scripts.asic.report import run_report
from scripts.executor import check_scheduler


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scheduler", default=None,
                        help="a Dask scheduler's address (tcp://host:8786): run the gate-level "
                             "simulations on its workers (each needs the Debian tools too)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--no-opensta", action="store_true",
                        help="skip the OpenSTA cross-check")
    parser.add_argument("--no-large", action="store_true",
                        help="skip the 8x8 array (measured at the widest width)")
    parser.add_argument("--no-glitches", action="store_true",
                        help="skip the timed simulations (the widest width, 4x4)")
    parser.add_argument("--no-formats", action="store_true",
                        help="skip posit and the minifloat (TFX and FXP only)")
    args = parser.parse_args(argv)
    for n in args.widths:
        if not 4 <= n <= 16:
            parser.error(f"width {n} is outside 4..16 (TFX needs n >= 4 for IS_max >= 2)")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    if args.scheduler is not None:
        try:
            check_scheduler(args.scheduler)
        except ValueError as error:
            parser.error(str(error))
    record = run_report(widths=args.widths, workloads=args.workloads, jobs=args.jobs,
                        out=args.out, opensta=not args.no_opensta, large=not args.no_large,
                        glitches=not args.no_glitches, formats=not args.no_formats,
                        scheduler=args.scheduler)
    for row in record["rows"]:
        w, d = row["whole"], row["datapath"]
        print(f"{row['array'][0]}x{row['array'][1]} n={row['n']} {row['workload']:<6} energy/MAC TFX {w['tfx_pj_per_mac']:.2f} "
              f"FXP {w['fxp_pj_per_mac']:.2f} pJ = {w['energy_ratio']:.3f}x (datapath "
              f"{d['energy_ratio']:.3f}x); area {w['area_ratio']:.3f}x (datapath "
              f"{d['area_ratio']:.3f}x)")
    for row in record["formats"]:
        print(f"{row['array'][0]}x{row['array'][1]} n={row['n']} {row['workload']:<6} energy/MAC "
              + ", ".join(f"{design.upper()} {f['whole_pj_per_mac']:.2f} pJ"
                          + (f" ({f['energy_vs_fxp']:.3f}x FXP)" if "energy_vs_fxp" in f else "")
                          for design, f in row["designs"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
