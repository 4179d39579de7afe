"""Quantizer throughput: TFX against the project's own vectorised FXP quantizer.

Quantizes the same float64 values (normal, spread over the format's range) with each format,
several times, and reports the median throughput and the TFX/FXP time ratio, measured in one
run. Entry point: :mod:`scripts.bench_quantize`.
"""

import platform
import statistics
import time

import numpy as np

from golden import FXP, TFX
from scripts.records import markdown_table

__all__ = ["PAIRS", "measure", "run_benchmark", "markdown"]

#: TFX formats beside the FXP format of the same width that covers a similar range.
PAIRS = ((TFX(8, 3, 0), FXP(8, 4)), (TFX(6, 2, 0), FXP(6, 3)), (TFX(4, 2, 0), FXP(4, 1)),
         (TFX(16, 8, 0), FXP(16, 12)))


def measure(fmt, x, repeats):
    fmt.quantize(x[:1000])  # build lookup tables outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fmt.quantize(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_benchmark(*, count=10_000_000, repeats=5, pairs=PAIRS):
    """Throughput of each pair on ``count`` values (median of ``repeats``), as a record."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(count) * 2.0
    rows = []
    for tfx, fxp in pairs:
        t_tfx, t_fxp = measure(tfx, x, repeats), measure(fxp, x, repeats)
        rows.append({"tfx": tfx.label, "fxp": fxp.label, "count": count,
                     "tfx_values_per_s": count / t_tfx, "fxp_values_per_s": count / t_fxp,
                     "tfx_over_fxp_time": t_tfx / t_fxp})
        print(f"{tfx.label:<12} {count / t_tfx / 1e6:7.1f} M/s   {fxp.label:<10} "
              f"{count / t_fxp / 1e6:7.1f} M/s   TFX/FXP time {t_tfx / t_fxp:.2f}x", flush=True)
    return {"benchmark": "quantize float64 -> codes", "statistic": f"median of {repeats}",
            "machine": platform.machine(), "python": platform.python_version(),
            "numpy": np.__version__, "results": rows}


def markdown(record):
    """The record's table: throughput of each pair and the TFX/FXP time ratio."""
    rows = [(r["tfx"], f"{r['tfx_values_per_s'] / 1e6:.1f}", r["fxp"],
             f"{r['fxp_values_per_s'] / 1e6:.1f}", f"{r['tfx_over_fxp_time']:.2f}x")
            for r in record["results"]]
    count = record["results"][0]["count"] if record["results"] else 0
    lines = ["# Quantizer throughput: TFX against FXP", "",
             f"{count:,} float64 values (normal, sigma = 2) per format, {record['statistic']}, "
             f"numpy {record['numpy']}, Python {record['python']} on {record['machine']}.", ""]
    lines += markdown_table(["TFX", "M values/s", "FXP", "M values/s", "TFX/FXP time"], rows,
                            align="lrlrr")
    return "\n".join(lines) + "\n"
