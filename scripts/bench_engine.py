"""``make bench``: the study's fast integer engine against the float64 forward and the
reference engine (:mod:`scripts.bench.engine`). Writes build/bench/engine.{json,md}.

    python -m scripts.bench_engine [--images 1000] [--repeats 3]
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402

from golden._checks import check_int  # noqa: E402
from scripts.bench.engine import markdown, run_engine_benchmark  # noqa: E402
from scripts.records import write_report  # noqa: E402
from sim.toolchain import BUILD  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_engine",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        check_int("--images", args.images, 100, 10000)
        check_int("--repeats", args.repeats, 1, 20)
        record = run_engine_benchmark(images=args.images, repeats=args.repeats)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_report(BUILD / "bench", "engine", record, markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
