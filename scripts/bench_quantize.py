"""Quantizer throughput: TFX against the project's own vectorised FXP quantizer.

Quantizes the same float64 values (normal, spread over the format's range) with each format,
several times, and reports the median throughput and the TFX/FXP time ratio, measured in one
run. Writes build/bench/quantize.json.

    python -m scripts.bench_quantize [--count 10000000] [--repeats 5]
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from golden import FXP, TFX


def measure(fmt, x, repeats):
    fmt.quantize(x[:1000])  # build lookup tables outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fmt.quantize(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="build/bench/quantize.json")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.count) * 2.0
    pairs = [(TFX(8, 3, 0), FXP(8, 4)), (TFX(6, 2, 0), FXP(6, 3)), (TFX(4, 2, 0), FXP(4, 1)),
             (TFX(16, 8, 0), FXP(16, 12))]
    rows = []
    for tfx, fxp in pairs:
        t_tfx, t_fxp = measure(tfx, x, args.repeats), measure(fxp, x, args.repeats)
        rows.append({"tfx": tfx.label, "fxp": fxp.label, "count": args.count,
                     "tfx_values_per_s": args.count / t_tfx, "fxp_values_per_s": args.count / t_fxp,
                     "tfx_over_fxp_time": t_tfx / t_fxp})
        print(f"{tfx.label:<12} {args.count / t_tfx / 1e6:7.1f} M/s   {fxp.label:<10} "
              f"{args.count / t_fxp / 1e6:7.1f} M/s   TFX/FXP time {t_tfx / t_fxp:.2f}x")
    record = {"benchmark": "quantize float64 -> codes", "statistic": f"median of {args.repeats}",
              "machine": platform.machine(), "python": platform.python_version(),
              "numpy": np.__version__, "results": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
