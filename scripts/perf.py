"""``make perf``: simulated cycles and utilisation of a matrix product on the accelerator, TFX
beside FXP (:mod:`scripts.bench.perf`).

    python -m scripts.perf [--gemm 64 64 64] [--sizes 2x2 4x4 8x8] [--n 8] [--is-max 3]
"""

import argparse

from scripts.bench.perf import run_perf


def _size(text):
    try:
        rows, cols = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"array size must look like 4x4, not {text!r}")
    return rows, cols


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.perf",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--gemm", type=int, nargs=3, default=[64, 64, 64], metavar=("M", "K", "N"))
    parser.add_argument("--sizes", type=_size, nargs="+", default=[(2, 2), (4, 4), (8, 8)])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--is-max", type=int, default=3)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--out", default="build/perf")
    args = parser.parse_args(argv)
    run_perf(gemm=args.gemm, sizes=args.sizes, n=args.n, is_max=args.is_max, depth=args.depth,
             out=args.out)


if __name__ == "__main__":
    main()
