"""``make bench``: quantizer throughput, TFX against the project's own vectorised FXP quantizer
(:mod:`scripts.bench.quantize`). Writes build/bench/quantize.json.

    python -m scripts.bench_quantize [--count 10000000] [--repeats 5]
"""

import argparse
import json
from pathlib import Path

from scripts.bench.quantize import run_benchmark


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_quantize",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="build/bench/quantize.json")
    args = parser.parse_args(argv)
    record = run_benchmark(count=args.count, repeats=args.repeats)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
