"""Energy per inference: the array's measured energy per MAC times the model's MACs, plus the
memory traffic times a per-bit SRAM access energy, for every model, scheme and measured width
of the accuracy study; and the accuracy-versus-energy Pareto fronts.

The memory traffic is counted exactly from the quantized model
(:meth:`golden.ptq.QuantizedNetwork.traffic`: every weight and bias read once, every tensor
written once and read once per consumer). The SRAM energy per bit is not measured here; it is
taken from the literature and scaled to the report's technology:

- Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014: reading
  64 bits from an 8 KB SRAM costs 10 pJ, from 32 KB 20 pJ, from 1 MB 100 pJ (45 nm, 0.9 V);
- scaled to OSU 0.18 µm at 1.8 V by 16 = (180 / 45) x (1.8 / 0.9)**2 (capacitance in proportion
  to the feature size, energy to C V**2).

The stated value is the 32 KB macro (5.0 pJ/bit); the 8 KB (2.5) and 1 MB (25) macros are the
low and high ends, so that a reader sees how far the front moves with the memory.
"""

from golden.family import parse_family
from golden.ptq import scheme_kind
from scripts.designs import key_kind, key_label, key_order, scheme_build, variant_name
from scripts.records import markdown_table

__all__ = ["SRAM_PJ_PER_BIT", "SRAM_SOURCE", "per_mac_by_width", "inference_energy",
           "priced_design", "priced_point", "inference_points", "pareto_front", "best_points",
           "answer_rows", "answer_table", "plain_price_note", "answer_section",
           "markdown_section", "plot_inference"]

#: Each design's line in the Pareto plots.
LINE_STYLES = {"tfx": "-", "fxp": "--", "posit": ":", "fp": "-."}
_SCALE = (180 / 45) * (1.8 / 0.9) ** 2
SRAM_PJ_PER_BIT = {"low": 10 / 64 * _SCALE, "stated": 20 / 64 * _SCALE,
                   "high": 100 / 64 * _SCALE}
SRAM_SOURCE = ("Horowitz, ISSCC 2014 (45 nm: 8 KB / 32 KB / 1 MB SRAM, 10 / 20 / 100 pJ per "
               "64-bit read), scaled x16 to 0.18 um, 1.8 V")


def per_mac_by_width(energy_record):
    """The whole accelerator's energy per MAC on the layer workload, by n and design (its
    :func:`scripts.designs.format_key`): {n: {"tfx": pJ, "fxp": pJ, "posit:8,0": pJ, ...}}
    from a ``make report`` record, on its main array (the one
    every width was measured on). A record without the every-format rows (made before they
    existed) is a ``ValueError``."""
    if "formats" not in energy_record:
        raise ValueError("it has no every-format rows (made before they existed): run make "
                         "report again")
    main = energy_record.get("array")
    return {row["n"]: {design: f["whole_pj_per_mac"] for design, f in row["designs"].items()}
            for row in energy_record["formats"]
            if row["workload"] == "layer" and row.get("array", main) == main}


def inference_energy(traffic, pj_per_mac):
    """Energy of one inference with ``traffic`` (:meth:`golden.ptq.QuantizedNetwork.traffic`)
    on an array at ``pj_per_mac``: the array's nJ, the bits moved and the total nJ at each
    SRAM energy of :data:`SRAM_PJ_PER_BIT`."""
    bits = traffic["weight_bits"] + traffic["bias_bits"] + traffic["activation_bits"]
    array_nj = traffic["macs"] * pj_per_mac / 1000
    return {"pj_per_mac": pj_per_mac, "array_nj": array_nj, "bits": bits,
            "energy_nj": {level: array_nj + bits * e / 1000
                          for level, e in SRAM_PJ_PER_BIT.items()}}


def _accuracy_runs(model, n_text, schemes):
    """(name, scheme, format key, accuracy summary) of every run of one model at one width in
    an accuracy record: each scheme on its kind's default family, then the other families'
    (``"variants"``) under :func:`scripts.designs.variant_name`."""
    row = model["by_width"][n_text]
    for scheme in schemes:
        if scheme in row:
            yield scheme, scheme, scheme_kind(scheme), row[scheme]["integer"]
    for spec, variant in row.get("variants", {}).items():
        family = parse_family(spec)
        for scheme, summary in variant["schemes"].items():
            yield variant_name(scheme, family), scheme, spec, summary["integer"]


def priced_design(measured, scheme, key):
    """The design whose energy prices a run of ``scheme`` on the family of format key ``key``
    (:func:`scripts.designs.format_key`), among the ``measured`` design keys at its width, and
    whether it stands in for an unmeasured build: ``(build, False)`` for the build that runs
    it (:func:`scripts.designs.design_key`: its unsigned variants, its block shifters) when
    measured, else ``(key, key != build)`` for the family's plain design (a record made before
    the builds were, or a build not measured: the other exponent sizes'), else None. None
    too for a scheme that no design runs (full MX: :func:`scripts.designs.scheme_build`)."""
    suffix = scheme_build(scheme)
    if suffix is None:
        return None
    build = key + suffix
    if build in measured:
        return build, False
    return (key, key != build) if key in measured else None


def inference_points(energy_record, accuracy):
    """Every (model, scheme, n) of the accuracy record, the other exponent sizes' included,
    whose design the energy record measured at that width (layer workload): its ``format``
    key, the ``design`` that priced it (:func:`priced_design`), accuracy, MACs, bits moved,
    and energy per inference in nJ at each SRAM energy of :data:`SRAM_PJ_PER_BIT`."""
    per_mac = per_mac_by_width(energy_record)
    points = []
    for model in accuracy["models"]:
        for n_text in model["by_width"]:
            n = int(n_text)
            traffic = model["traffic"][n_text]
            for name, scheme, key, result in _accuracy_runs(model, n_text, accuracy["schemes"]):
                point = priced_point(per_mac, scheme, key, n, traffic,
                                     dataset=model["dataset"], model=model["model"], label=name,
                                     accuracy=result["mean"], std=result["std"],
                                     seeds=result.get("seeds"))
                if point is not None:
                    points.append(point)
    return points


def priced_point(per_mac, scheme, key, n, traffic, *, dataset, model, label, accuracy, std,
                 **more):
    """One run's point (``label``: its name in tables) of ``scheme`` on the family of format
    key ``key`` at width ``n``, priced on :func:`priced_design` among the designs of
    ``per_mac`` (:func:`per_mac_by_width`), with its MACs and energy per inference from
    ``traffic``; ``more`` (``seeds``) goes in before them. None when no design prices it."""
    priced = priced_design(per_mac.get(n, {}), scheme, key)
    if priced is None:
        return None
    design, plain_price = priced
    return {"dataset": dataset, "model": model, "scheme": label, "format": key,
            "design": design, "plain_price": plain_price, "n": n, "accuracy": accuracy,
            "std": std, **more, "macs": traffic["macs"],
            **inference_energy(traffic, per_mac[n][design])}


def pareto_front(points, level="stated"):
    """The points no other point beats on both energy per inference (lower) and accuracy
    (higher)."""
    energy = lambda p: p["energy_nj"][level]
    return sorted((p for p in points if not any(
        energy(q) <= energy(p) and q["accuracy"] >= p["accuracy"]
        and (energy(q), q["accuracy"]) != (energy(p), p["accuracy"]) for q in points)),
        key=energy)


#: How far below its most accurate scheme's mean a format's best scheme may lie (the study's
#: smallest difference that counts, :func:`scripts.nn.study.verdict`).
BEST_MARGIN = 0.002


def best_points(points, level="stated"):
    """Per (dataset, model, n, format key): the format's best point, the cheapest (energy per
    inference at ``level``) of its schemes whose mean accuracy is within
    :data:`BEST_MARGIN` of its most accurate one's, so that a build that adds hardware for
    no measurable accuracy is not chosen."""
    groups = {}
    for p in points:
        groups.setdefault((p["dataset"], p["model"], p["n"], p["format"]), []).append(p)
    best = {}
    for key, group in groups.items():
        top = max(p["accuracy"] for p in group)
        best[key] = min((p for p in group if p["accuracy"] >= top - BEST_MARGIN - 1e-12),
                        key=lambda p: (p["energy_nj"][level], -p["accuracy"]))
    return best


def answer_rows(points, energy_record, level="stated"):
    """Per model, width and design (format): its best scheme's point (:func:`best_points`),
    the area (whole accelerator, main array, layer workload) and energy per MAC of the design
    that runs it, and where TFX stands against it: TFX's best accuracy minus its (points)
    and TFX's energy per inference over its, at the ``level`` SRAM energy."""
    main = energy_record.get("array")
    areas = {(row["n"], design): f["area_um2"] for row in energy_record.get("formats", [])
             if row["workload"] == "layer" and row["array"] == main
             for design, f in row["designs"].items()}
    best = best_points(points, level)
    rows = []
    for (dataset, model, n, design), p in best.items():
        tfx = best.get((dataset, model, n, "tfx"))
        row = {"dataset": dataset, "model": model, "n": n, "design": design,
               "scheme": p["scheme"], "accuracy": p["accuracy"], "std": p["std"],
               "seeds": p.get("seeds"),
               "priced_on": p["design"], "plain_price": p["plain_price"],
               "pj_per_mac": p["pj_per_mac"], "area_um2": areas.get((n, p["design"])),
               "energy_nj": p["energy_nj"][level]}
        if tfx is not None:
            row["tfx_accuracy_points"] = 100 * (tfx["accuracy"] - p["accuracy"])
            row["tfx_energy_ratio"] = tfx["energy_nj"][level] / p["energy_nj"][level]
        rows.append(row)
    return sorted(rows, key=lambda r: (r["dataset"], r["model"], r["n"],
                                       key_order(r["design"])))


def answer_table(rows, *, spread=True, micro=False):
    """One model's answer rows as a Markdown table (lines): energy per inference in nJ, or
    µJ with ``micro``; ``spread``: accuracy with its standard deviation over seeds; a † on
    a scheme priced on its family's plain design."""
    table = []
    for r in rows:
        area = "–" if r["area_um2"] is None else f"{r['area_um2'] / 1e6:.3f}"
        versus = (("", "") if r["design"] == "tfx" or "tfx_energy_ratio" not in r else
                  (f"{round(r['tfx_accuracy_points'], 1) or 0.0:+.1f}",
                   f"{r['tfx_energy_ratio']:.3f}"))
        energy = f"{r['energy_nj'] / 1000:,.1f}" if micro else f"{r['energy_nj']:,.0f}"
        table.append((r["n"], key_label(r["priced_on"]),
                      r["scheme"] + (" †" if r["plain_price"] else ""),
                      f"{100 * r['accuracy']:.1f}"
                      + (f" ± {100 * r['std']:.1f}" if spread else ""), area,
                      f"{r['pj_per_mac']:.1f}", energy, *versus))
    return markdown_table(["n", "format", "best scheme", "accuracy %", "area mm²", "pJ/MAC",
                           f"{'µJ' if micro else 'nJ'} per inference",
                           "TFX accuracy − this (points)", "TFX energy / this"], table)


def answer_section(rows, *, spread=True):
    """The every-format answer tables, one per model (markdown lines); ``spread``: accuracy
    with its standard deviation over seeds."""
    lines = ["## The answer: every format at every width", "",
             "Per model and width, each format's best scheme (the cheapest of its kind's "
             "schemes within 0.2 points of the most accurate one's mean), its accelerator's "
             "area and energy per "
             "MAC (4x4, layer "
             "workload, the design that runs the scheme: the family's plain one, or its build "
             "with unsigned variants or block shifters), its energy per inference at the stated SRAM "
             f"energy ({SRAM_PJ_PER_BIT['stated']:.1f} pJ/bit), and TFX against it: TFX's "
             "accuracy minus its, TFX's energy per inference over its.", ""]
    if not rows:
        return lines + ["No rows: `build/accuracy/accuracy.json` is missing (run `make "
                        "accuracy`) or has no width this report measured.", ""]
    for dataset, model in dict.fromkeys((r["dataset"], r["model"]) for r in rows):
        lines += [f"### {dataset} / {model}", ""]
        lines += answer_table([r for r in rows if (r["dataset"], r["model"]) == (dataset, model)],
                              spread=spread)
        lines.append("")
    return lines + plain_price_note(rows)


def plain_price_note(rows):
    """The footnote of the † that :func:`answer_table` puts on rows priced on the family's
    plain design (markdown lines), or no lines when there is none."""
    if not any(r["plain_price"] for r in rows):
        return []
    return ["† Priced on the family's plain design: the energy record has no measurement of "
            "the build this scheme needs (unsigned variants or block shifters) at this width "
            "and family.", ""]


def _models(points):
    return list(dict.fromkeys((p["dataset"], p["model"]) for p in points))


def markdown_section(points):
    """The report's "energy per inference" section: one table per model."""
    lines = ["## Energy per inference", "",
             "Array: the whole accelerator's measured energy per MAC (layer workload) times "
             "the model's MACs; memory: the bits of weights, biases and activations read and "
             "written per inference (counted from the quantized model: every weight and bias "
             "read once, every tensor written once and read once per consumer) times "
             f"{SRAM_PJ_PER_BIT['stated']:.1f} pJ/bit ({SRAM_SOURCE}; low "
             f"{SRAM_PJ_PER_BIT['low']:.1f}, high {SRAM_PJ_PER_BIT['high']:.1f} pJ/bit). "
             "Accuracy: `make accuracy`, integer engine, every test image, mean ± std over "
             "seeds. Front: on the Pareto front of the model's points at the stated SRAM "
             "energy.", ""]
    if not points:
        return lines + ["No points: `build/accuracy/accuracy.json` is missing (run `make "
                        "accuracy`) or has no width this report measured.", ""]
    for dataset, model in _models(points):
        chosen = [p for p in points if (p["dataset"], p["model"]) == (dataset, model)]
        front = {(p["scheme"], p["n"]) for p in pareto_front(chosen)}
        first = chosen[0]
        lines += [f"### {dataset} / {model}", ""]
        lines += markdown_table(
            ["scheme", "n", "accuracy %", "array nJ", "memory kbit",
             "total nJ (low / stated / high)", "front"],
            [(p["scheme"], p["n"], f"{100 * p['accuracy']:.1f} ± {100 * p['std']:.1f}",
              f"{p['array_nj']:.0f}", f"{p['bits'] / 1000:.1f}",
              f"{p['energy_nj']['low']:.0f} / {p['energy_nj']['stated']:.0f} / "
              f"{p['energy_nj']['high']:.0f}", "yes" if (p["scheme"], p["n"]) in front else "")
             for p in sorted(chosen, key=lambda p: (p["scheme"], p["n"]))])
        lines += ["", f"{first['macs']:,} MACs per inference.", ""]
    return lines


def plot_inference(points, path):
    """Accuracy against energy per inference, one row per model, one column per SRAM energy,
    a line per scheme (its design's style: :data:`LINE_STYLES`); the grey band: the model's
    Pareto front."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = _models(points)
    levels = list(SRAM_PJ_PER_BIT)
    fig, axes = plt.subplots(len(models), len(levels), figsize=(4.2 * len(levels),
                                                                3.2 * len(models)),
                             squeeze=False)
    kinds = {p["scheme"]: key_kind(p["format"]) for p in points}
    schemes = list(kinds)
    colours = plt.get_cmap("tab20")  # up to 20 schemes, each its own colour
    for r, key in enumerate(models):
        chosen = [p for p in points if (p["dataset"], p["model"]) == key]
        for c, level in enumerate(levels):
            ax = axes[r][c]
            for i, scheme in enumerate(schemes):
                mine = sorted((p for p in chosen if p["scheme"] == scheme), key=lambda p: p["n"])
                style = LINE_STYLES[kinds[scheme]]
                ax.errorbar([p["energy_nj"][level] for p in mine],
                            [100 * p["accuracy"] for p in mine],
                            yerr=[100 * p["std"] for p in mine], marker="o", markersize=3,
                            linestyle=style, color=colours(i % 20), label=scheme, capsize=2)
            front = pareto_front(chosen, level)
            ax.plot([p["energy_nj"][level] for p in front], [100 * p["accuracy"] for p in front],
                    color="black", alpha=0.2, linewidth=5)
            ax.set_xscale("log")
            ax.set_title(f"{key[0]} / {key[1]}, SRAM {SRAM_PJ_PER_BIT[level]:.1f} pJ/bit",
                         fontsize=8)
            ax.set_xlabel("energy per inference (nJ)", fontsize=7)
            ax.set_ylabel("accuracy (%)", fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6)
    fig.text(0.01, 0.003, "scripts/asic/inference.py: make report energy per MAC x MACs + "
             "memory bits x SRAM pJ/bit; make accuracy; grey band: Pareto front", fontsize=7)
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
