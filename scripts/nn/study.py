"""The quantization study: TFX (TENT) against fixed-point baselines on trained networks.

For every dataset, network and training seed whose weights are in ``models/`` (``make
train-models`` makes them), every width n in 3..8 and every scheme of :mod:`golden.ptq`:
post-training quantization (batch norm folded; formats chosen on the calibration split), then
test accuracy of the bit-exact integer engine and of simulated (fake) quantization, beside the
float32-trained model's float64 accuracy. Mean and spread over seeds. Results of a combination
are cached under ``build/accuracy/cache`` by the digest of the model file and of ``golden/``.

Writes ``build/accuracy/accuracy.json``, ``accuracy.md`` and ``accuracy.png``.

Entry point: :mod:`scripts.accuracy`.
"""

import concurrent.futures
import json
import time
from pathlib import Path

import numpy as np

from golden.datasets import DATASETS, load
from golden.network import fold, load_network
from golden.ptq import SCHEMES, calibration_samples, quantize_network, scheme_family
from golden.models import ARCHITECTURES, model_path
from scripts.records import digest, write_report
from sim.toolchain import BUILD, ROOT

__all__ = ["WIDTHS", "HEADLINE", "SEEDS", "ARCHITECTURES", "summarise", "verdict", "markdown",
           "run_study"]

OUT = BUILD / "accuracy"
WIDTHS = (3, 4, 5, 6, 7, 8)
HEADLINE = "fashion-mnist"  # declared before any run: it separates formats at 3-5 bits
SEEDS = (0, 1, 2)
# NumPy inference of 28x28 networks is slow (a ResNet evaluation of 1,000 images takes about
# 30 s): by default their study uses a fixed prefix of the test split (0: all of it).
DEFAULT_TEST_IMAGES = {("digits", "convnet"): 0, ("digits", "resnet"): 0,
                      ("fashion-mnist", "convnet"): 2000, ("fashion-mnist", "resnet"): 1000,
                      ("mnist", "convnet"): 2000, ("mnist", "resnet"): 1000}


def golden_digest():
    return digest(*sorted((ROOT / "golden").glob("*.py")))


def evaluate(path, dataset, n_values, schemes, test_images, progress, cache=OUT / "cache"):
    """Accuracies of one trained model: {"float": a, (scheme, n): {"integer": a, "fake": a}}."""
    key = f"{digest(Path(path))}-{golden_digest()}-{test_images}"
    cache.mkdir(parents=True, exist_ok=True)
    cache_file = cache / f"{Path(path).stem}.json"
    stored = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    if stored.get("key") != key:
        stored = {"key": key, "results": {}}
    results = stored["results"]
    if "float" in results and all(f"{scheme}/{n}" in results for n in n_values
                                  for scheme in schemes):
        return results  # nothing to compute: no model or dataset to load
    network = fold(load_network(path))
    x, y = load(dataset, "test")
    if test_images:
        x, y = x[:test_images], y[:test_images]
    samples = None
    if "float" not in results:
        results["float"] = float(np.mean(network.predict(x) == y))
    for n in n_values:
        for scheme in schemes:
            name = f"{scheme}/{n}"
            if name in results:
                continue
            if samples is None:
                samples = calibration_samples(network, load(dataset, "calibration")[0])
            start = time.monotonic()
            q = quantize_network(network, scheme, n, samples=samples)
            results[name] = {
                "integer": float(np.mean(q.predict(x) == y)),
                "fake": float(np.mean(q.predict(x, engine="fake") == y)),
                "formats": q.formats(),
            }
            progress(f"  {Path(path).stem} {scheme:<11} n={n}: integer "
                     f"{results[name]['integer']:.4f}, fake {results[name]['fake']:.4f} "
                     f"({time.monotonic() - start:.0f} s)")
            cache_file.write_text(json.dumps(stored))
    cache_file.write_text(json.dumps(stored))
    return results


def _print(line):
    print(line, flush=True)


def summarise(values):
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1
            else 0.0, "min": float(values.min()), "max": float(values.max()),
            "seeds": len(values)}


def verdict(tfx, other):
    """"win", "tie" or "loss" of TFX against a baseline: a difference of means larger than
    both spreads (sample standard deviations over seeds) and than 0.2 points counts."""
    margin = max(tfx["std"], other["std"], 0.002)
    difference = tfx["mean"] - other["mean"]
    return "win" if difference > margin else "loss" if difference < -margin else "tie"


def _cell(entry):
    return f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f}"


def markdown(record):
    lines = ["# Quantization study: TFX (TENT) vs fixed point", "",
             f"Made by `python -m scripts.accuracy` (`make accuracy`). Post-training "
             f"quantization of trained networks (batch norm folded); formats chosen on each "
             f"dataset's calibration split; accuracy (%) on the test split, mean ± standard "
             f"deviation over training seeds; the bit-exact integer engine, with simulated "
             f"(fake) quantization in parentheses. Headline dataset (declared before any run): "
             f"**{record['headline']}**. TFX IS_max per n: "
             + ", ".join(f"n={n}: {scheme_family('tfx', n).IS_max}" for n in WIDTHS) + ".",
             "", "Schemes: `tfx` TENT per-tensor (IS, SC); `fxp-channel` the strongest "
             "fixed-point baseline (per-layer F, per-channel weight scales through M, unsigned "
             "activations after ReLU); `fxp-layer` per-tensor F; `fxp-global` one F for the "
             "whole network. Verdict of TFX against a baseline: win or loss when the means "
             "differ by more than both spreads (and 0.2 points), else tie.", ""]
    for entry in record["models"]:
        lines += [f"## {entry['dataset']} / {entry['model']} (seeds {entry['seeds']}, "
                  f"{entry['test_images']} test images, float "
                  f"{_cell(entry['float'])})", "",
                  "| n | " + " | ".join(SCHEMES) + " | TFX vs " + ", ".join(SCHEMES[1:]) + " |",
                  "|---" * (len(SCHEMES) + 2) + "|"]
        for n in entry["widths"]:
            row = entry["by_width"][str(n)]
            cells = [f"{_cell(row[s]['integer'])} ({100 * row[s]['fake']['mean']:.1f})"
                     for s in SCHEMES]
            verdicts = [row["verdicts"][s] for s in SCHEMES[1:]]
            lines.append(f"| {n} | " + " | ".join(cells) + " | " + ", ".join(verdicts) + " |")
        lines.append("")
    if record["missing"]:
        lines += ["Not evaluated (no trained weights in models/; `make train-models`): "
                  + ", ".join(record["missing"]) + ".", ""]
    return "\n".join(lines)


def plot(record, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = record["models"]
    columns = min(2, len(models))
    rows = -(-len(models) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.6 * rows),
                                squeeze=False)
    for axis in axes.flat[len(models):]:
        axis.set_visible(False)
    for axis, entry in zip(axes.flat, models):
        for scheme in SCHEMES:
            means = [100 * entry["by_width"][str(n)][scheme]["integer"]["mean"]
                     for n in entry["widths"]]
            spreads = [100 * entry["by_width"][str(n)][scheme]["integer"]["std"]
                       for n in entry["widths"]]
            axis.errorbar(entry["widths"], means, yerr=spreads, marker="o", capsize=3,
                          label=scheme, linewidth=2 if scheme == "tfx" else 1)
        axis.axhline(100 * entry["float"]["mean"], color="grey", linestyle=":", label="float")
        axis.set(title=f"{entry['dataset']} / {entry['model']}", xlabel="n (bits)",
                 ylabel="test accuracy (%)", ylim=(0, 100))
    axes[0][0].legend(fontsize=7)
    figure.text(0.01, 0.005, "scripts.accuracy: integer engine, mean ± std over seeds",
                fontsize=7)
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"wrote {path}")


def run_study(*, datasets=(HEADLINE, "digits", "mnist"), models=ARCHITECTURES, seeds=SEEDS,
              widths=WIDTHS, test_images=None, jobs=2):
    """Evaluate every model present (``jobs`` at a time, cached); writes the record, its
    tables and plot to ``build/accuracy/`` and returns the record. ``test_images``: how many
    test images (0: all; None: :data:`DEFAULT_TEST_IMAGES`)."""
    if any(not 3 <= n <= 16 for n in widths):
        raise ValueError(f"widths must be from 3 to 16, not {list(widths)}")
    test_images_arg = test_images
    record = {"headline": HEADLINE, "schemes": list(SCHEMES), "models": [], "missing": []}
    tasks, groups = {}, []
    for dataset in datasets:
        for model in models:
            test_images = DEFAULT_TEST_IMAGES[(dataset, model)] if test_images_arg is None \
                else test_images_arg
            paths = {seed: model_path(dataset, model, seed) for seed in seeds}
            present = [seed for seed, path in paths.items() if path.exists()]
            record["missing"] += [path.name for path in paths.values() if not path.exists()]
            if present:
                groups.append((dataset, model, present, test_images))
                for seed in present:
                    tasks[(dataset, model, seed)] = (paths[seed], dataset, widths,
                                                     SCHEMES, test_images, _print)
    with concurrent.futures.ProcessPoolExecutor(max(1, jobs)) as pool:
        futures = {key: pool.submit(evaluate, *task) for key, task in tasks.items()}
        results = {key: future.result() for key, future in futures.items()}
    for dataset, model, present, test_images in groups:
        runs = [results[(dataset, model, seed)] for seed in present]
        entry = {"dataset": dataset, "model": model, "seeds": present,
                 "test_images": test_images or len(load(dataset, "test")[1]),
                 "widths": widths, "float": summarise([r["float"] for r in runs]),
                 "by_width": {}, "formats_seed0": {}}
        for n in widths:
            row = {s: {engine: summarise([r[f"{s}/{n}"][engine] for r in runs])
                       for engine in ("integer", "fake")} for s in SCHEMES}
            row["verdicts"] = {s: verdict(row["tfx"]["integer"], row[s]["integer"])
                               for s in SCHEMES[1:]}
            entry["by_width"][str(n)] = row
            entry["formats_seed0"][str(n)] = {s: runs[0][f"{s}/{n}"]["formats"]
                                              for s in SCHEMES}
        record["models"].append(entry)
    if record["missing"]:
        print("not evaluated, no trained weights (make train-models): "
              + ", ".join(record["missing"]))
    if not record["models"]:
        raise FileNotFoundError("no trained models found in models/ (make train-models)")
    text = markdown(record)
    write_report(OUT, "accuracy", record, text)
    plot(record, OUT / "accuracy.png")
    return record
