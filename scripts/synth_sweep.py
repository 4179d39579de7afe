"""``make synth-sweep``: TFX against fixed point on an FPGA (posit and the minifloat beside them
over the widths), area and fmax over widths and array sizes, and the largest-array search
(:mod:`scripts.fpga.sweep`).

    python -m scripts.synth_sweep [--board icebreaker] [--seeds 5] [--jobs 2] [--clock-mhz 24]
                                  [--formats tfx fxp posit fp] [--no-search]
"""

import argparse
import sys

from scripts.executor import check_scheduler
from scripts.fpga.boards import board_named
from scripts.fpga.flow import SynthConfig
from scripts.fpga.sweep import WIDTH_FORMATS, markdown, run_sweep


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.synth_sweep",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="icebreaker")
    parser.add_argument("--seeds", type=int, default=5, help="placement seeds 1..SEEDS")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rows", type=int, default=2, help="array size of the width sweep")
    parser.add_argument("--cols", type=int, default=2)
    parser.add_argument("--clock-mhz", type=float,
                        help="every build's clock (default: the board's, 24 MHz from the "
                             "iCEBreaker's PLL)")
    parser.add_argument("--formats", nargs="+", default=list(WIDTH_FORMATS),
                        choices=WIDTH_FORMATS,
                        help="formats of the width sweep (TFX and FXP always)")
    parser.add_argument("--no-search", action="store_true",
                        help="only the width sweep, no largest-array search")
    parser.add_argument("--scheduler", default=None,
                        help="a Dask scheduler's address (tcp://host:8786): build on its "
                             "workers (each needs the Debian tools too)")
    args = parser.parse_args(argv)
    try:
        board_named(args.board)
        SynthConfig(board=args.board, clock_mhz=args.clock_mhz).resolved()  # the clock
        if args.seeds < 1 or args.jobs < 1:
            raise ValueError(f"--seeds and --jobs must be at least 1, not {args.seeds} and "
                             f"{args.jobs}")
        if args.scheduler is not None:
            check_scheduler(args.scheduler)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    record = run_sweep(args.board, seeds=range(1, args.seeds + 1), jobs=args.jobs,
                       size=(args.rows, args.cols), clock_mhz=args.clock_mhz,
                       formats=args.formats, search=not args.no_search,
                       scheduler=args.scheduler)
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
