"""The integer engines against the float64 forward: seconds per image on the same images.

For each model (Fashion-MNIST ConvNet and ResNet, seed 0) and case (scheme, width and
family): the fast engine (:mod:`golden.engine`, what the study uses), the reference engine
(``run_integer``) on a slice, and the float64 ``Network.forward``; the fast engine's codes are
checked equal to the reference's on that slice. The cases include the formats whose sums pass
2**53 units (FP8 E5M2, E4M3 and posit at n = 8), which run in wide steps, and the full-MX
schemes, which run in :mod:`golden.fullmx` (no reference engine: their tests check them
against exact Fraction references). One BLAS thread.
"""

import time

import numpy as np

from golden.datasets import load
from golden.family import parse_family
from golden.models import model_path
from golden.network import fold, load_network
from golden.ptq import calibration_samples, quantize_network
from scripts.records import markdown_table

__all__ = ["run_engine_benchmark", "markdown"]


def _seconds(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


#: (scheme, n, family spec or None) of every case.
CASES = (("tfx-channel", 4, None), ("tfx-channel", 8, None), ("fxp-channel", 4, None),
         ("fxp-channel", 8, None), ("posit-channel", 8, None), ("fp-channel", 8, None),
         ("fp-channel", 8, "fp:8,5"), ("tfx-mx-full", 4, None), ("fxp-mx-full", 4, None),
         ("posit-mx-full", 8, None), ("fp-mx-full", 8, None))


def run_engine_benchmark(*, dataset="fashion-mnist", models=("convnet", "resnet"),
                         cases=CASES, images=1000, reference_images=100, repeats=3):
    x = load(dataset, "test")[0][:images]
    rows = []
    for model in models:
        network = fold(load_network(model_path(dataset, model, 0)))
        samples = calibration_samples(network, load(dataset, "calibration")[0][:1000])
        forward = _seconds(lambda: network.predict(x), repeats)
        for scheme, n, spec in cases:
            family = None if spec is None else parse_family(spec)
            q = quantize_network(network, scheme, n, samples=samples, family=family)
            fast = _seconds(lambda: q.predict(x), repeats)
            row = {"model": model, "scheme": scheme, "n": n, "family": spec, "images": images,
                   "float64_forward_s": forward, "fast_s": fast,
                   "fast_over_forward": fast / forward}
            if q.full_mx:
                rows.append({**row, "reference_s": None})
                print(f"{model} {scheme} n={n}: full MX {fast:.2f} s, forward {forward:.2f} s",
                      flush=True)
                continue
            label = q.format_of(network.output).label
            part = x[:reference_images]
            reference = _seconds(lambda: q.run_integer(part), 1) * images / len(part)
            if not np.array_equal(q.plan().codes(part), q.run_integer(part)):
                raise AssertionError(f"{model} {scheme} n={n} {label}: fast codes differ")
            precisions = list(q.plan().precisions().values())
            rows.append({**row, "reference_s": reference,
                         "reference_over_fast": reference / fast,
                         "float32_products": precisions.count("float32"),
                         "wide_products": precisions.count("wide"),
                         "products": len(precisions)})
            print(f"{model} {scheme} n={n} {spec or ''}: fast {fast:.2f} s, forward "
                  f"{forward:.2f} s ({fast / forward:.2f}x), reference {reference:.1f} s",
                  flush=True)
    return {"dataset": dataset, "images": images, "reference_images": reference_images,
            "repeats": repeats, "rows": rows,
            "method": "scripts.bench.engine: best of `repeats` wall-clock runs, one BLAS "
                      "thread; reference engine timed on `reference_images` and scaled"}


def markdown(record):
    lines = ["# Integer engine speed", "",
             f"Made by `python -m scripts.bench_engine` (`make bench`): {record['dataset']}, "
             f"{record['images']} test images, best of {record['repeats']} runs, one BLAS "
             f"thread; the reference engine (`run_integer`) timed on "
             f"{record['reference_images']} images and scaled. The fast engine's codes equal "
             f"the reference's on those images. The full-MX schemes run in `golden.fullmx` "
             f"(FP32 between products), which has no reference engine.", ""]
    lines += markdown_table(
        ["model", "scheme", "n", "family", "float64 forward s", "fast engine s",
         "fast / forward", "reference s", "float32 / wide products"],
        [(r["model"], r["scheme"], r["n"], r.get("family") or "default",
          f"{r['float64_forward_s']:.2f}", f"{r['fast_s']:.2f}",
          f"{r['fast_over_forward']:.2f}",
          "" if r["reference_s"] is None else f"{r['reference_s']:.1f}",
          "full MX" if r["reference_s"] is None else
          f"{r['float32_products']} / {r.get('wide_products', 0)} of {r['products']}")
         for r in record["rows"]])
    return "\n".join(lines) + "\n"
