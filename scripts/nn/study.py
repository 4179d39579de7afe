"""The quantization study: TFX (TENT) against fixed-point baselines on trained networks.

For every dataset, network and training seed whose weights are in ``models/`` (``make
train-models`` makes them), every width n in 3..8 and every scheme of :mod:`golden.ptq` (and
the posit and FP schemes with the other exponent sizes, :func:`study_runs`):
post-training quantization (batch norm folded; formats chosen on the calibration split; bias
correction on unless switched off), then accuracy on every test image with the bit-exact
integer engine (the fast plan of :mod:`golden.engine`, identical to the reference), optionally
also with simulated (fake) quantization, beside the float32-trained model's float64 accuracy;
and the quantized model's MACs and memory traffic per inference. Mean and spread over seeds.
Results of a combination are cached under ``build/accuracy/cache`` by the digest of the model
file and of ``golden/`` and the options.

Writes ``build/accuracy/accuracy.json``, ``accuracy.md`` and ``accuracy.png``.

Entry point: :mod:`scripts.accuracy`.
"""

import functools
import json
import time
from pathlib import Path

import numpy as np

from golden.datasets import load
from golden.family import parse_family
from golden.network import fold, load_network
from golden.ptq import (FP_SCHEMES, FULL_MX_SCHEMES, FXP_SCHEMES, POSIT_SCHEMES, SCHEMES,
                        TFX_SCHEMES, calibration_samples, quantize_network, scheme_family)
from golden.models import ARCHITECTURES, model_path
from scripts.designs import family_variants, variant_name
from scripts.executor import run_jobs
from scripts.records import digest, markdown_table, write_report
from sim.toolchain import BUILD, ROOT

__all__ = ["WIDTHS", "HEADLINE", "SEEDS", "ARCHITECTURES", "summarise", "verdict", "markdown",
           "run_study", "evaluate", "evaluate_run", "study_runs", "run_name", "run_label"]

OUT = BUILD / "accuracy"
WIDTHS = (3, 4, 5, 6, 7, 8)
HEADLINE = "fashion-mnist"  # declared before any run: it separates formats at 3-5 bits
SEEDS = (0, 1, 2)


def golden_digest():
    return digest(*sorted((ROOT / "golden").glob("*.py")))


#: The searched schemes of each kind that pick from the kind's other families
#: (:func:`scripts.designs.family_variants`).
VARIANT_SCHEMES = {kind: tuple(s for s in schemes if s not in FULL_MX_SCHEMES)
                   for kind, schemes in (("posit", POSIT_SCHEMES), ("fp", FP_SCHEMES))}


def run_name(scheme, n, family=None):
    """A run's key in the results: ``"<scheme>/<n>"``, and the family's spec after another
    slash when it is not the kind's default (``"fp/8/fp:8,5"``)."""
    return f"{scheme}/{n}" if family is None else f"{scheme}/{n}/{family.spec}"


def study_runs(n_values, schemes, variants=True):
    """(scheme, n, family) of every run: every scheme at every width with its kind's default
    family (None), and with ``variants`` each of the other families
    (:func:`scripts.designs.family_variants`) with its kind's schemes among ``schemes``."""
    runs = [(scheme, n, None) for n in n_values for scheme in schemes]
    if variants:
        runs += [(scheme, n, family) for n in n_values
                 for family in family_variants(n)
                 for scheme in VARIANT_SCHEMES[family.kind] if scheme in schemes]
    return runs


def run_label(scheme, n, family=None):
    """A run in progress lines: ``"fp-channel n=8 FP8/E5"``."""
    return f"{scheme} n={n}" + ("" if family is None else f" {family.label}")


def evaluate_run(network, x, y, samples, scheme, n, family=None, *, fake=False,
                 bias_correction=True, float_predictions=None):
    """One run of the study or of ``tent compare``: ``network`` quantized with ``scheme`` at
    width ``n`` (``family``: another of the kind's families) on the calibration ``samples``
    (:func:`golden.ptq.calibration_samples`), then evaluated on the test images ``x`` with
    labels ``y`` by the bit-exact integer engine. Returns {"integer": accuracy, ["fake":
    simulated quantization's accuracy,] ["agreement": share of images whose class is the
    float model's ``float_predictions``,] "formats", "traffic", "seconds"}."""
    start = time.monotonic()
    q = quantize_network(network, scheme, n, samples=samples, family=family,
                         bias_correction=bias_correction)
    predictions = q.predict(x)
    result = {"integer": float(np.mean(predictions == y)), "formats": q.formats(),
              "traffic": q.traffic()}
    if float_predictions is not None:
        result["agreement"] = float(np.mean(predictions == float_predictions))
    if fake:
        result["fake"] = float(np.mean(q.predict(x, engine="fake") == y))
    result["seconds"] = time.monotonic() - start
    return result


class _ModelCache:
    """One trained model's cached results: {"float": a, run_name(...): result}, stored in
    ``cache/<model>.json`` under a key of the model file, the golden model's code and the
    options (a different key starts afresh)."""

    def __init__(self, path, test_images, bias_correction, cache):
        self.key = (f"{digest(Path(path))}-{golden_digest()}-{test_images}-"
                    f"{'bc' if bias_correction else 'nobc'}")
        cache.mkdir(parents=True, exist_ok=True)
        self.file = cache / f"{Path(path).stem}.json"
        stored = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.results = stored["results"] if stored.get("key") == self.key else {}

    def todo(self, runs, fake):
        """The runs (and "float") without a result yet."""
        missing = [] if "float" in self.results else [None]
        return missing + [run for run in runs if run_name(*run) not in self.results
                          or (fake and "fake" not in self.results[run_name(*run)])]

    def store(self, run, result):
        self.results["float" if run is None else run_name(*run)] = (
            result if run is not None else result["float"])
        self.file.write_text(json.dumps({"key": self.key, "results": self.results}))


@functools.lru_cache(maxsize=3)
def _model_network(path):
    """A trained model, folded, once per worker process."""
    return fold(load_network(path))


@functools.lru_cache(maxsize=3)
def _model_inputs(path, dataset, test_images):
    """A trained model (folded) and its test images and labels, once per worker process."""
    x, y = load(dataset, "test")
    return (_model_network(path),
            *((x[:test_images], y[:test_images]) if test_images else (x, y)))


@functools.lru_cache(maxsize=3)
def _model_samples(path, dataset):
    return calibration_samples(_model_network(path), load(dataset, "calibration")[0])


def _study_job(shared, item):
    """One job of the study (on any worker): a run's result, or the float accuracy."""
    path, dataset, test_images, run, fake, bias_correction = item
    network, x, y = _model_inputs(path, dataset, test_images)
    if run is None:
        return {"float": float(np.mean(network.predict(x) == y))}
    scheme, n, spec = run
    return evaluate_run(network, x, y, _model_samples(path, dataset), scheme, n,
                        None if spec is None else parse_family(spec), fake=fake,
                        bias_correction=bias_correction)


def _run_jobs(models, runs, test_images, fake, bias_correction, jobs, scheduler, progress):
    """Every missing result of ``models`` ({(path, dataset): _ModelCache}), through
    :func:`scripts.executor.run_jobs`; ``progress(line)`` after each run (None: cached)."""
    items = []
    for (path, dataset), stored in models.items():
        todo = stored.todo(runs, fake)
        for _ in range(len(runs) - len([run for run in todo if run is not None])):
            progress(None)
        items += [(str(path), dataset, test_images,
                   None if run is None else (run[0], run[1], run[2] and run[2].spec),
                   fake, bias_correction) for run in todo]
    for item, result in run_jobs(_study_job, None, items, jobs=jobs, scheduler=scheduler):
        path, dataset, _, run, _, _ = item
        run = None if run is None else (run[0], run[1], run[2] and parse_family(run[2]))
        models[(Path(path), dataset)].store(run, result)
        if run is not None:
            progress(f"{Path(path).stem} {run_label(*run)}: {result['integer']:.4f} "
                     f"({result['seconds']:.0f} s)")


def evaluate(path, dataset, n_values, schemes, test_images, progress, cache=OUT / "cache", *,
             fake=False, bias_correction=True, variants=True, jobs=1, scheduler=None):
    """Accuracies of one trained model: {"float": a, run_name(...):
    {"integer": a, ["fake": a,] "formats": ..., "traffic": ...}} for every one of
    :func:`study_runs`, cached. ``progress(line)`` after each one."""
    stored = _ModelCache(path, test_images, bias_correction, cache)
    runs = study_runs(n_values, schemes, variants)
    _run_jobs({(Path(path), dataset): stored}, runs, test_images, fake, bias_correction, jobs,
              scheduler, progress)
    return stored.results


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


def best(row, schemes):
    """The scheme of ``schemes`` with the highest mean integer accuracy in a width's row."""
    return max(schemes, key=lambda s: row[s]["integer"]["mean"])


def width_row(runs, n, fake, variants=True, schemes=SCHEMES):
    """Summaries of every one of ``schemes`` at width ``n`` over the seeds' results, and the
    verdicts: each TFX scheme against each fixed-point scheme, and the best TFX scheme
    against the best of fixed point, posit and the minifloats (those of them among
    ``schemes``); with ``variants`` the other families' runs (:func:`variant_rows`) under
    ``"variants"``."""
    engines = ("integer", "fake") if fake else ("integer",)
    summary = lambda name: {engine: summarise([r[name][engine] for r in runs])
                            for engine in engines}
    row = {s: summary(run_name(s, n)) for s in schemes}
    ours = [s for s in TFX_SCHEMES if s in schemes]
    kinds = {kind: [s for s in kind_schemes if s in schemes] for kind, kind_schemes in
             (("fxp", FXP_SCHEMES), ("posit", POSIT_SCHEMES), ("fp", FP_SCHEMES))}
    row["verdicts"] = {t: {f: verdict(row[t]["integer"], row[f]["integer"])
                           for f in kinds["fxp"]} for t in ours}
    row["best"] = {}
    if ours:
        tfx = row["best"]["tfx"] = best(row, ours)
        for kind, present in kinds.items():
            if present:
                other = row["best"][kind] = best(row, present)
                name = "verdict" if kind == "fxp" else f"verdict_{kind}"
                row["best"][name] = verdict(row[tfx]["integer"], row[other]["integer"])
    if variants:
        row["variants"] = variant_rows(row, n, summary)
    return row


def variant_rows(row, n, summary):
    """Per other family of width ``n`` (:func:`scripts.designs.family_variants`), by spec:
    its label, kind, each of its schemes' summaries (``summary(run name)``), the best of
    them, and the verdicts of it against the best of its kind's default family and of the
    best TFX scheme against it."""
    tfx = row["best"].get("tfx")
    if tfx is None or any(kind not in row["best"] for kind in VARIANT_SCHEMES):
        return {}
    variants = {}
    for family in family_variants(n):
        schemes = {s: summary(run_name(s, n, family)) for s in VARIANT_SCHEMES[family.kind]}
        top = max(schemes, key=lambda s: schemes[s]["integer"]["mean"])
        default = row[row["best"][family.kind]]
        variants[family.spec] = {
            "label": family.label, "kind": family.kind, "schemes": schemes, "best": top,
            "verdict_vs_default": verdict(schemes[top]["integer"], default["integer"]),
            "verdict_tfx": verdict(row[tfx]["integer"], schemes[top]["integer"])}
    return variants


def markdown(record):
    fake = record.get("fake", False)
    schemes = record.get("schemes", list(SCHEMES))
    fxp = [s for s in FXP_SCHEMES if s in schemes]
    channel_column = "tfx-channel" in schemes and bool(fxp)
    lines = ["# Quantization study: TFX (TENT) vs fixed point", "",
             f"Made by `python -m scripts.accuracy` (`make accuracy`). Post-training "
             f"quantization of trained networks (batch norm folded; bias correction "
             f"{'on' if record.get('bias_correction', True) else 'off'}); formats chosen on "
             f"each dataset's calibration split; accuracy (%) of the bit-exact integer engine "
             f"on the test split"
             + (", simulated (fake) quantization in parentheses" if fake else "")
             + f", mean ± standard deviation over training seeds. Headline dataset (declared "
             f"before any run): **{record['headline']}**. TFX IS_max per n: "
             + ", ".join(f"n={n}: {scheme_family('tfx', n).IS_max}" for n in WIDTHS) + ".",
             "", "Schemes: `tfx` TENT per-tensor (IS, SC); `tfx-channel` the same with "
             "per-channel weight scales through M; `fxp-channel` per-tensor F, per-channel "
             "weight scales through M, unsigned activations after ReLU; `fxp-channel-signed` "
             "the same with signed activations; `fxp-layer` per-tensor F; `fxp-global` one F "
             "for all weights and one for all activations (each minimising the summed "
             "normalised MSE); `posit`, `posit-channel` and `fp`, `fp-channel` as the TFX "
             "schemes with Posit(n, 1, SC) and the minifloat FP(n, E, SC) (E4M3, E2M3, E2M1 "
             "at n = 8, 6, 4; E = (n - 1) // 2 elsewhere), SC searched per tensor; "
             "`tfx-channel-unsigned`, `posit-channel-unsigned` and `fp-channel-unsigned` the "
             "`-channel` schemes with their kind's unsigned variant for activations after ReLU "
             "(UTFX, UPosit, UFP: the nonnegative half of the format one bit wider; the "
             "accelerator runs them in its `+u` builds); `tfx-mx`, `fxp-mx`, "
             "`posit-mx`, `fp-mx` weight-only block scaling (W-MX, OCP MX: E8M0 scales per "
             "block of 32 weights along K, floor rule, elements TFX(n, IS_max, 0), MXINT(n), "
             "Posit(n, 1, 0), FP(n, E, 0); activations per tensor as `tfx`/`fxp-layer`), "
             "`tfx-mx16`, `fxp-mx16` the same with blocks of 16 (the accelerator runs every "
             "W-MX scheme with block shifters); `tfx-mx-full`, `fxp-mx-full`, "
             "`posit-mx-full`, `fp-mx-full` full MX (weights as W-MX and every matrix "
             "product's activations block-scaled at its input, blocks of 32 along each im2col "
             "row; FP32 between matrix products; the golden model runs them, the accelerator "
             "does not); the same "
             "four posit and FP schemes again with the other exponent sizes (posit es = 0, FP6 "
             "E3M2, FP8 E5M2) in each model's second table, unless `--no-variants`. Verdict of "
             "TFX against a baseline: win or loss when the means differ by more than both "
             "spreads (and 0.2 points), else tie.", ""]
    for entry in record["models"]:
        lines += [f"## {entry['dataset']} / {entry['model']} (seeds {entry['seeds']}, "
                  f"{entry['test_images']} test images, float "
                  f"{_cell(entry['float'])})", ""]
        rows = []
        for n in entry["widths"]:
            row = entry["by_width"][str(n)]
            cells = [_cell(row[s]["integer"]) + (f" ({100 * row[s]['fake']['mean']:.1f})"
                                                 if fake else "") for s in schemes]
            verdicts = ([", ".join(row["verdicts"]["tfx-channel"][f] for f in fxp)]
                        if channel_column else [])
            top = row["best"]
            rows.append((n, *cells, *verdicts,
                         f"{top.get('verdict', '–')} ({top.get('tfx', '–')} vs "
                         f"{top.get('fxp', '–')})",
                         *(f"{top.get('verdict_' + k, '–')} ({top.get(k, '–')})"
                           for k in ("posit", "fp"))))
        lines += markdown_table(["n", *schemes,
                                 *(["tfx-channel vs " + ", ".join(fxp)] if channel_column
                                   else []),
                                 "best TFX vs best FXP", "vs best posit", "vs best FP"], rows)
        lines.append("")
        lines += variant_section(entry)
    if record["missing"]:
        lines += ["Not evaluated (no trained weights in models/; `make train-models`): "
                  + ", ".join(record["missing"]) + ".", ""]
    return "\n".join(lines)


def variant_section(entry):
    """The other families' table of one model (markdown lines; none without variant runs)."""
    rows = [(n, spec, v) for n in entry["widths"]
            for spec, v in entry["by_width"][str(n)].get("variants", {}).items()]
    if not rows:
        return []
    lines = ["Other exponent sizes (posit es = 0, TFX with an uncapped regime; FP6 E3M2 and FP8 "
             "E5M2, the OCP types' second ones), with their kind's schemes; verdicts of the "
             "best of them against the best of the kind's default family, and of the best TFX "
             "scheme against them:", ""]
    table = []
    for n, spec, v in rows:
        row = entry["by_width"][str(n)]
        default = row["best"][v["kind"]]
        cells = [_cell(v["schemes"][s]["integer"]) if s in v["schemes"] else "–"
                 for s in VARIANT_SCHEMES[v["kind"]]]
        table.append((n, v["label"], *cells,
                      f"{_cell(row[default]['integer'])} ({default})", v["verdict_vs_default"],
                      f"{v['verdict_tfx']} ({row['best']['tfx']})"))
    lines += markdown_table(["n", "family", "per-tensor", "per-channel", "per-channel unsigned",
                             "W-MX (k = 32)", "best default", "vs default",
                             "best TFX vs this"], table)
    lines.append("")
    return lines


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
        for scheme in record.get("schemes", SCHEMES):
            means = [100 * entry["by_width"][str(n)][scheme]["integer"]["mean"]
                     for n in entry["widths"]]
            spreads = [100 * entry["by_width"][str(n)][scheme]["integer"]["std"]
                       for n in entry["widths"]]
            axis.errorbar(entry["widths"], means, yerr=spreads, marker="o", capsize=3,
                          label=scheme, linewidth=2 if scheme in TFX_SCHEMES else 1,
                          linestyle="-" if scheme in TFX_SCHEMES else "--")
        axis.axhline(100 * entry["float"]["mean"], color="grey", linestyle=":", label="float")
        axis.set(title=f"{entry['dataset']} / {entry['model']}", xlabel="n (bits)",
                 ylabel="test accuracy (%)", ylim=(0, 100))
    axes[0][0].legend(fontsize=7)
    figure.text(0.01, 0.005, "scripts.accuracy: integer engine, every test image, mean ± std "
                "over seeds", fontsize=7)
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"wrote {path}")


def _expected_cost(dataset, model):
    """A rough order of the work one model takes: image size and depth."""
    return (0 if dataset == "digits" else 2) + (1 if model == "resnet" else 0)


def run_study(*, datasets=(HEADLINE, "digits", "mnist"), models=ARCHITECTURES, seeds=SEEDS,
              widths=WIDTHS, test_images=0, jobs=2, fake=False, bias_correction=True,
              variants=True, out=OUT, scheduler=None, schemes=SCHEMES):
    """Evaluate every model present (one job per run, ``jobs`` local processes or the
    workers of the Dask ``scheduler``; cached, a progress bar); writes the record, its tables
    and plot to ``out`` and returns the record. ``test_images``: how many test images (0:
    all); ``fake`` adds simulated quantization's accuracy; ``variants`` the other exponent
    sizes (:func:`study_runs`); ``schemes`` a subset of :data:`golden.ptq.SCHEMES`."""
    from tqdm import tqdm

    if any(not 3 <= n <= 16 for n in widths):
        raise ValueError(f"widths must be from 3 to 16, not {list(widths)}")
    schemes = [s for s in SCHEMES if s in schemes]
    if not schemes:
        raise ValueError(f"schemes must be among {', '.join(SCHEMES)}")
    record = {"headline": HEADLINE, "schemes": schemes, "models": [], "missing": [],
              "fake": fake, "bias_correction": bias_correction, "variants": variants,
              "engine": "golden.engine (bit-identical to QuantizedNetwork.run_integer)"}
    tasks, groups = {}, []
    for dataset in datasets:
        for model in models:
            paths = {seed: model_path(dataset, model, seed) for seed in seeds}
            present = [seed for seed, path in paths.items() if path.exists()]
            record["missing"] += [path.name for path in paths.values() if not path.exists()]
            if present:
                groups.append((dataset, model, present))
                for seed in present:
                    tasks[(dataset, model, seed)] = paths[seed]
    runs = study_runs(widths, schemes, variants)
    # Longest first, so that no large model is left running alone at the end.
    order = sorted(tasks, key=lambda key: -_expected_cost(*key[:2]))
    models = {(tasks[key], key[0]): _ModelCache(tasks[key], test_images, bias_correction,
                                                 out / "cache") for key in order}
    with tqdm(total=len(models) * len(runs), unit="eval", desc="accuracy",
              smoothing=0.05) as bar:
        def progress(line):
            bar.update(1)
            if line:
                bar.write(line)

        _run_jobs(models, runs, test_images, fake, bias_correction, jobs, scheduler, progress)
    results = {key: models[(tasks[key], key[0])].results for key in tasks}
    for dataset, model, present in groups:
        runs = [results[(dataset, model, seed)] for seed in present]
        entry = {"dataset": dataset, "model": model, "seeds": present,
                 "test_images": test_images or len(load(dataset, "test")[1]),
                 "widths": list(widths), "float": summarise([r["float"] for r in runs]),
                 "by_width": {}, "formats_seed0": {}, "traffic": {}}
        for n in widths:
            entry["by_width"][str(n)] = width_row(runs, n, fake, variants, schemes)
            entry["formats_seed0"][str(n)] = {
                s if family is None else variant_name(s, family):
                    runs[0][run_name(s, n, family)]["formats"]
                for s, _, family in study_runs([n], schemes, variants)}
            entry["traffic"][str(n)] = runs[0][run_name(schemes[0], n)]["traffic"]
        record["models"].append(entry)
    if record["missing"]:
        print("not evaluated, no trained weights (make train-models): "
              + ", ".join(record["missing"]))
    if not record["models"]:
        raise FileNotFoundError("no trained models found in models/ (make train-models)")
    text = markdown(record)
    write_report(out, "accuracy", record, text)
    plot(record, out / "accuracy.png")
    return record
