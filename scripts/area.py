"""``make area``: Yosys cell counts of the arithmetic components, TFX beside FXP
(:mod:`scripts.bench.area`).

    python -m scripts.area [--n 8] [--is-max 3] [--K 64]
"""

import argparse

from scripts.bench.area import run_area


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.area",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--is-max", type=int, default=3)
    parser.add_argument("--K", type=int, default=64)
    parser.add_argument("--out", default="build/area")
    args = parser.parse_args(argv)
    run_area(n=args.n, is_max=args.is_max, K=args.K, out=args.out)


if __name__ == "__main__":
    main()
