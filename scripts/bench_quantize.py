"""``make bench``: quantizer throughput, TFX against the project's own vectorised FXP quantizer
(:mod:`scripts.bench.quantize`). Writes build/bench/quantize.json.

    python -m scripts.bench_quantize [--count 10000000] [--repeats 5]
"""

import argparse
from pathlib import Path

from scripts.bench.quantize import markdown, run_benchmark
from scripts.records import write_report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_quantize",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="build/bench/quantize.json")
    args = parser.parse_args(argv)
    record = run_benchmark(count=args.count, repeats=args.repeats)
    out = Path(args.out)
    write_report(out.parent, out.stem, record, markdown(record))


if __name__ == "__main__":
    main()
