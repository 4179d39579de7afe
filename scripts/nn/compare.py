"""``tent compare``: the project's answer for the user's own network.

Every format kind (TFX, fixed point, posit, minifloat, and the other exponent sizes) with every
one of its schemes, at every width asked for, on the user's float network, calibration images
and labelled test images:

- accuracy of the bit-exact integer engine on every test image, and agreement with the float
  network (the same runs as the accuracy study: :func:`scripts.nn.study.evaluate_run`);
- energy per MAC and area of the format's accelerator, from a ``make report`` energy record
  (named in the output), energy per inference from them and the memory traffic
  (:func:`scripts.asic.inference.inference_energy`);
- memory bits per inference.

Runs go through :func:`scripts.executor.run_jobs` (local processes, or a Dask cluster) and are
cached by network, images and code, so a rerun, or one with another width, computes only what
is new. Writes ``compare.json``, ``compare.md`` (the README's answer table, for this network)
and ``pareto.png``.
"""

import json
from pathlib import Path

import numpy as np

from golden.family import FORMAT_KINDS, parse_family
from golden.ptq import SCHEMES, scheme_family, scheme_kind
from scripts.asic.inference import (SRAM_PJ_PER_BIT, SRAM_SOURCE, answer_rows, answer_section,
                                    pareto_front, per_mac_by_width, priced_point)
from scripts.designs import format_key, key_kind, key_label, key_order, variant_name
from scripts.executor import run_jobs
from scripts.nn.study import evaluate_run, golden_digest, run_label, run_name, study_runs
from scripts.records import digest, markdown_table

__all__ = ["compare_runs", "run_compare", "price", "markdown", "plot"]

WIDTHS = (4, 5, 6, 8)


def compare_runs(widths, kinds=FORMAT_KINDS, schemes=SCHEMES, variants=True):
    """(scheme, n, family spec or None) of every run: the study's runs
    (:func:`scripts.nn.study.study_runs`) of ``schemes`` whose kind is among ``kinds``."""
    return [(scheme, n, None if family is None else family.spec)
            for scheme, n, family in study_runs(widths, schemes, variants)
            if scheme_kind(scheme) in kinds]


def _evaluate(shared, run):
    """One run on a worker: ``shared`` = (network, x, y, samples, float predictions, bias
    correction)."""
    network, x, y, samples, float_predictions, bias_correction = shared
    scheme, n, spec = run
    return evaluate_run(network, x, y, samples, scheme, n,
                        None if spec is None else parse_family(spec),
                        bias_correction=bias_correction, float_predictions=float_predictions)


def run_compare(network, x, y, calibrate, runs, *, cache, key, bias_correction=True, jobs=2,
                scheduler=None, progress=None):
    """The result of every run (by :func:`scripts.nn.study.run_name`), from the cache file
    ``cache`` when its ``key`` matches, else computed (``jobs`` local processes, or the Dask
    ``scheduler``) and stored there. ``calibrate()`` gives the calibration samples
    (:func:`golden.ptq.calibration_samples`), called only when some run is not cached.
    ``progress(line)`` after each run (None: a cached one). Returns (results, float
    predictions' accuracy)."""
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    if stored.get("key") != key:
        stored = {"key": key, "results": {}}
    results = stored["results"]
    float_predictions = network.predict(x)
    todo = [run for run in runs if run_key(run) not in results]
    if progress:
        for _ in range(len(runs) - len(todo)):
            progress(None)
    shared = (network, x, y, calibrate() if todo else None, float_predictions, bias_correction)
    for run, result in run_jobs(_evaluate, shared, todo, jobs=jobs, scheduler=scheduler):
        results[run_key(run)] = result
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(stored))
        if progress:
            family = None if run[2] is None else parse_family(run[2])
            progress(f"{run_label(run[0], run[1], family)}: accuracy "
                     f"{100 * result['integer']:.2f} % ({result['seconds']:.0f} s)")
    accuracy = float(np.mean(float_predictions == y))
    return {run_key(run): results[run_key(run)] for run in runs}, accuracy


def run_key(run):
    """A run's key in the results: :func:`scripts.nn.study.run_name` of (scheme, n, spec)."""
    return run_name(run[0], run[1], None if run[2] is None else parse_family(run[2]))


def cache_key(network_file, x, y, calibration_x, bias_correction):
    """What a cached result depends on: the network file, the images and labels, the
    calibration images, the golden model's code and the options."""
    return digest(Path(network_file), np.ascontiguousarray(x).tobytes(),
                  np.ascontiguousarray(y).tobytes(),
                  np.ascontiguousarray(calibration_x).tobytes(), golden_digest(),
                  f"bc={bias_correction}")


def price(record, energy):
    """Energy per inference of every run whose format and width the energy record measured:
    the points of :func:`scripts.asic.inference.pareto_front` and ``answer_rows``."""
    per_mac = per_mac_by_width(energy)
    points = []
    for run in record["runs"]:
        point = priced_point(per_mac, run["scheme"], run["format"], run["n"], run["traffic"],
                             dataset=record["data"], model=record["network_name"],
                             label=run["label"], accuracy=run["accuracy"], std=0.0)
        if point is not None:
            points.append(point)
    return points


def build_record(network_file, data, calibration, images, runs, results, float_accuracy,
                 energy=None, energy_path=None):
    """The ``compare.json`` record: every run's figures, priced when ``energy`` (a ``make
    report`` record) measured its design at its width."""
    rows = []
    for scheme, n, spec in runs:
        family = scheme_family(scheme, n, None if spec is None else parse_family(spec))
        result = results[run_name(scheme, n, None if spec is None else family)]
        traffic = result["traffic"]
        rows.append({"scheme": scheme, "n": n, "family": family.spec,
                     "label": variant_name(scheme, family), "format": format_key(family),
                     "accuracy": result["integer"], "agreement": result["agreement"],
                     "memory_bits": traffic["weight_bits"] + traffic["bias_bits"]
                     + traffic["activation_bits"], "traffic": traffic,
                     "formats": result["formats"]})
    record = {"network": str(network_file), "network_name": Path(network_file).stem,
              "data": data, "calibration": calibration, "images": images,
              "float_accuracy": float_accuracy, "runs": rows}
    if energy is None:
        record["energy"] = None
        return record
    points = price(record, energy)
    priced = {(p["scheme"], p["n"]): p for p in points}
    for row in rows:
        point = priced.get((row["label"], row["n"]))
        if point is not None:
            row.update(pj_per_mac=point["pj_per_mac"], energy_nj=point["energy_nj"],
                       priced_on=point["design"], plain_price=point["plain_price"])
    record["energy"] = {"record": str(energy_path), "library": energy.get("library"),
                        "made": (energy.get("provenance") or {}).get("date"),
                        "commit": (energy.get("provenance") or {}).get("commit"),
                        "sram_source": SRAM_SOURCE, "sram_pj_per_bit": SRAM_PJ_PER_BIT}
    record["answer"] = answer_rows(points, energy)
    record["front"] = [(p["scheme"], p["n"]) for p in pareto_front(points)]
    return record


def markdown(record):
    """``compare.md``: the answer table for this network, then every run."""
    lines = [f"# Which format is worth its silicon: {record['network_name']}", "",
             f"Made by `tent compare {record['network']}`: every format and scheme, "
             f"post-training quantization calibrated on {record['calibration']}, accuracy of "
             f"the bit-exact integer engine on {record['images']:,} images of "
             f"{record['data']} (float network: {100 * record['float_accuracy']:.2f} %).", ""]
    energy = record["energy"]
    if energy is None:
        lines += ["No energy figures: no `make report` energy record was given or found "
                  "(`make report` writes `build/report/energy.json`; `tent compare --energy "
                  "FILE` names one).", ""]
    else:
        lines += [f"Energy per MAC and area: `{energy['record']}` (`make report`, "
                  f"{energy['library']}, made {energy['made'] or 'at an unknown date'}"
                  + (f", commit {energy['commit']}" if energy.get("commit") else "")
                  + f"); energy per inference adds the memory traffic at "
                  f"{SRAM_PJ_PER_BIT['stated']:.1f} pJ/bit ({SRAM_SOURCE}).", ""]
        lines += answer_section(record["answer"], spread=False)[2:]
        front = ", ".join(f"{scheme} n={n}" for scheme, n in record["front"])
        lines += [f"Pareto front (accuracy against energy per inference, every run): {front}.",
                  ""]
    lines += ["## Every run", ""]
    table = []
    for r in sorted(record["runs"], key=lambda r: (r["n"], key_order(r["format"]), r["label"])):
        energy_cells = (("–", "–") if "pj_per_mac" not in r else
                        (f"{r['pj_per_mac']:.1f}", f"{r['energy_nj']['stated'] / 1000:,.2f}"))
        table.append((r["n"], key_label(r.get("priced_on", r["format"])), r["label"], f"{100 * r['accuracy']:.2f}",
                      f"{100 * r['agreement']:.2f}", f"{r['memory_bits'] / 1000:,.1f}",
                      *energy_cells))
    lines += markdown_table(["n", "format", "scheme", "accuracy %", "agrees with float %",
                             "memory kbit", "pJ/MAC", "µJ per inference"], table)
    return "\n".join(lines) + "\n"


def plot(record, path):
    """``pareto.png``: accuracy against energy per inference, every priced run, each format's
    own front as a line and the front of all of them as a grey band."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scripts.asic.inference import LINE_STYLES

    runs = [r for r in record["runs"] if "energy_nj" in r]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10")
    points = [{"accuracy": r["accuracy"], "energy_nj": r["energy_nj"], "format": r["format"],
               "n": r["n"], "scheme": r["label"]} for r in runs]
    formats = sorted({p["format"] for p in points}, key=key_order)
    for i, key in enumerate(formats):
        mine = [p for p in points if p["format"] == key]
        ax.scatter([p["energy_nj"]["stated"] / 1000 for p in mine],
                   [100 * p["accuracy"] for p in mine], s=12, color=colours(i % 10))
        front = pareto_front(mine)
        ax.plot([p["energy_nj"]["stated"] / 1000 for p in front],
                [100 * p["accuracy"] for p in front], linestyle=LINE_STYLES[key_kind(key)],
                marker="o", markersize=4, color=colours(i % 10), label=key_label(key))
    front = pareto_front(points)
    ax.plot([p["energy_nj"]["stated"] / 1000 for p in front],
            [100 * p["accuracy"] for p in front], color="black", alpha=0.2, linewidth=6,
            label="front of all")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (µJ)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{record['network_name']} on {record['data']}", fontsize=9)
    if points:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no energy record: accuracy only (compare.md)", ha="center",
                transform=ax.transAxes)
    fig.text(0.01, 0.005, f"tent compare: make report energy per MAC x MACs + memory bits x "
             f"{SRAM_PJ_PER_BIT['stated']:.1f} pJ/bit; integer-engine accuracy", fontsize=6)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
