"""The energy report's tables (Markdown) and its per-block plot, from the record that
:func:`scripts.asic.report.run_report` assembles."""

from golden.family import FORMAT_KINDS
from scripts.designs import ENERGY, build_label, key_format, key_label
from scripts.records import markdown_table
from .energy import BLOCKS
from .inference import answer_section, markdown_section
from .mapping import MIN_GATED
from .measure import COLS, DEPTH, INFERENCE_MACS, LARGE, ROWS, K, M, N
from .summary import FORMAT_BLOCKS, main_rows

def formats_section(rows):
    """The every-format table (markdown lines)."""
    if not any(len(r["designs"]) > 2 for r in rows):
        return []
    ratio = lambda f, key: f"{f[key]:.3f}" if key in f else "–"
    lines = ["", "## Every format", "",
             "Each format's design in the same accelerator, on the same workload (its own "
             "scheme's formats: `tfx`, `fxp-layer`, `posit`, `fp`, per-tensor scales searched as "
             "TENT does); posit and FP in the ses form like TFX. Posit and FP accumulate exactly "
             "like the others, so their wider dynamic range makes their accumulators, buffer and "
             "bias (64 bits, 72 for FP8 E5M2: `Family.default_limits`) wider. The other "
             "exponent sizes (posit es = 0, FP6 E3M2, FP8 E5M2) run their kind's scheme over "
             "their own family. TFX's and FXP's builds run their own scheme: `+U` the "
             "unsigned per-channel one (`tfx-channel-unsigned`, `fxp-channel`) on the family "
             "with its unsigned variants, `W-MX32` and `W-MX16` the W-MX ones (`tfx-mx`, "
             "`fxp-mx`, `tfx-mx16`, `fxp-mx16`) with block shifters (spread 15). "
             "Ratios: whole energy per MAC, core energy per MAC and area against FXP and TFX at "
             "the same n.", ""]
    labels = {d.kind: d.label for d in ENERGY}

    def label(design):
        fmt = key_format(design)
        return (labels.get(fmt) or f"{key_label(fmt)} ses") + build_label(design)

    lines += markdown_table(
        ["array", "n", "workload", "design", "formats (a, w, out)", "pJ/MAC", "×FXP", "×TFX",
         "core pJ/MAC", "core ×FXP", "µm²", "area ×FXP", *FORMAT_BLOCKS],
        [(f"{r['array'][0]}x{r['array'][1]}", r["n"], r["workload"], label(design),
          ", ".join(f["formats"] or []), f"{f['whole_pj_per_mac']:.2f}",
          ratio(f, "energy_vs_fxp"), ratio(f, "energy_vs_tfx"), f"{f['core_pj_per_mac']:.2f}",
          ratio(f, "core_vs_fxp"), f"{f['area_um2']:,.0f}", ratio(f, "area_vs_fxp"),
          *(f"{f['blocks'][b]:.2f}" for b in FORMAT_BLOCKS))
         for r in rows for design, f in r["designs"].items()])
    return lines


def markdown(record):
    c = record["conditions"]
    shape = lambda row: f"{row['array'][0]}x{row['array'][1]}"
    lines = [
        f"Standard cells: {record['library']} ({record['voltage']} V), Yosys {record['yosys']} "
        f"(hierarchy kept, `abc -liberty`, clock gating: every group of at least "
        f"{record.get('min_gated', MIN_GATED)} flip-flops that share a load enable takes a "
        f"gated clock from a latch-and-AND gate); accelerators {ROWS}x{COLS} (every width) and "
        f"{LARGE[0]}x{LARGE[1]} (the widest), max_K {K}, buffer depth {DEPTH}; workload "
        f"{M}x{K}x{N} = {M * K * N} MACs; gate netlist simulated by Icarus (zero delay: no "
        f"glitches, so toggles are lower bounds); clock {c['clock_mhz']} MHz, input slew "
        f"{c['input_slew_ns']} ns, output load {c['output_load_pf']} pF, no wire capacitance. "
        f"TFX in ses form (pre-decoded sign/exponent/significand), FXP in int form.",
        "", "## Energy per MAC and area, TFX / FXP", "",
        "Datapath: everything but the accumulator buffer and result FIFO (SRAM in a real chip).",
        ""]
    where = lambda row: (shape(row), row["n"], row["workload"])
    lines += markdown_table(
        ["array", "n", "workload", "TFX pJ/MAC", "FXP pJ/MAC", "energy ratio", "datapath ratio",
         "TFX µm²", "FXP µm²", "area ratio", "datapath area ratio", "layer nJ TFX / FXP"],
        [(*where(row), f"{w['tfx_pj_per_mac']:.2f}", f"{w['fxp_pj_per_mac']:.2f}",
          f"{w['energy_ratio']:.3f}", f"{d['energy_ratio']:.3f}", f"{w['tfx_area_um2']:,.0f}",
          f"{w['fxp_area_um2']:,.0f}", f"{w['area_ratio']:.3f}", f"{d['area_ratio']:.3f}",
          f"{row['layer_nj']['tfx']:.1f} / {row['layer_nj']['fxp']:.1f}")
         for row in record["rows"] for w, d in [(row["whole"], row["datapath"])]])
    lines += ["", "## The systolic core alone", "",
              "Edge decoders, PEs, skew and deskew registers: its cells, the nets they drive and "
              "its gated clocks, not the clock input.", ""]
    lines += markdown_table(
        ["array", "n", "workload", "TFX pJ/MAC", "FXP pJ/MAC", "energy ratio", "area ratio"],
        [(*where(r), f"{r['core']['tfx_pj_per_mac']:.2f}", f"{r['core']['fxp_pj_per_mac']:.2f}",
          f"{r['core']['energy_ratio']:.3f}", f"{r['core']['area_ratio']:.3f}")
         for r in record["rows"]])
    main = main_rows(record)
    lines += ["", f"Per inference (extrapolated: energy per MAC of the row's workload on the "
              f"{ROWS}x{COLS} array x the {INFERENCE_MACS:,} MACs of one Fashion-MNIST ConvNet "
              f"inference), µJ TFX / FXP: " + "; ".join(
                  f"n = {r['n']} {r['workload']} {r['inference_uj']['tfx']:.1f} / "
                  f"{r['inference_uj']['fxp']:.1f}" for r in main) + "."]
    lines += ["", "## Energy per MAC by block (pJ, TFX / FXP)", "",
              "`clock`: the clock input, the gated clock nets and the clock gates' cells.", ""]
    pair = lambda figures, digits=2: f"{figures['tfx']:.{digits}f} / {figures['fxp']:.{digits}f}"
    lines += markdown_table(["array", "n", "workload", *BLOCKS],
                            [(*where(row), *(pair(row["blocks"][b]) for b in BLOCKS))
                             for row in record["rows"]])
    units = sorted({u for row in record["rows"] for u in row.get("units", {})})
    if units:
        lines += ["", "## Energy per MAC by unit (pJ, TFX / FXP)", "",
                  "Top-level instances (columns together; `top`: the accelerator's own cells), "
                  "each with its cells, the nets they drive and its gated clocks; the clock input "
                  "and the primary inputs are in no unit.", ""]
        none = {"tfx": 0.0, "fxp": 0.0}
        lines += markdown_table(["array", "n", "workload", *units],
                                [(*where(row), *(pair(row["units"].get(u, none)) for u in units))
                                 for row in record["rows"]])
    lines += ["", "## Toggles per MAC by block (nets each block drives, TFX / FXP)", ""]
    lines += markdown_table(["array", "n", "workload", *BLOCKS],
                            [(*where(row), *(pair(row["toggles_per_mac"][b]) for b in BLOCKS))
                             for row in record["rows"]])
    lines += formats_section(record.get("formats") or [])
    lines += glitch_section(record.get("glitches") or [])
    fpga = record["fpga"]
    lines += ["", "## FPGA view", ""]
    if fpga is None:
        lines.append("No FPGA figures: `build/synth/sweep/icebreaker/sweep.json` is missing (run "
                     "`make synth-sweep`).")
    else:
        shown = [fmt for fmt in FORMAT_KINDS
                 if any(fmt in f for f in fpga["by_n"].values())]
        number = lambda value, fmt: "–" if value is None else fmt.format(value)
        lines += [f"From `{fpga['source']}` ({fpga['board']}, {fpga['size'][0]}x"
                  f"{fpga['size'][1]} array with host link, DSPs allowed, each format in its "
                  f"FPGA form; LCs ×FXP in brackets; * does not fit, the placer's demand):", ""]
        empty = {"logic": None, "dsps": None, "fmax_mhz": None}
        rows = []
        for n, f in sorted(fpga["by_n"].items(), key=lambda kv: int(kv[0])):
            cells = [f.get(fmt, empty) for fmt in shown]
            base = f["fxp"]["logic"]
            rows.append((n, *(number(c["logic"], "{:,}") + ("*" if c.get("fits") is False else "")
                              + (f" ({c['logic'] / base:.2f})"
                                 if c["logic"] and base and fmt != "fxp" else "")
                              for fmt, c in zip(shown, cells, strict=True)),
                         *(number(c["dsps"], "{}") for c in cells),
                         *(number(c["fmax_mhz"], "{:.2f}") for c in cells)))
        lines += markdown_table(["n", *(f"{fmt.upper()} LCs" for fmt in shown),
                                 *(f"{fmt.upper()} DSPs" for fmt in shown),
                                 *(f"{fmt.upper()} fmax" for fmt in shown)], rows)
    lines += [""] + answer_section(record.get("answer") or [])
    lines += [""] + markdown_section(record.get("inference") or [])
    cross = record.get("opensta")
    if cross:
        lines += ["", "## Cross-check with OpenSTA (vectorless)", "", cross["text"]]
    return "\n".join(lines) + "\n"


def glitch_section(rows):
    """The timed-against-zero-delay tables (markdown lines)."""
    if not rows:
        return []
    r0 = rows[0]
    lines = ["", "## Glitches: timed against zero-delay", "",
             f"The same netlists and workload (n = {r0['n']}, {r0['array'][0]}x{r0['array'][1]}, "
             f"{r0['workload']}) simulated again with the cells' delays: an SDF written by "
             f"OpenSTA from the Liberty tables at this netlist's loads (no wire capacitance), "
             f"the clock network ideal (the clock gates' inverter and AND gate undelayed), "
             f"annotated in Icarus (`-gspecify`), at a {r0['period_ns']} ns clock the netlist "
             f"meets; bit-exact like every run. Toggles and pJ per MAC, zero-delay → timed "
             f"(factor).", ""]
    factor = lambda pair: pair[1] / pair[0] if pair[0] else float("nan")
    table = []
    for r in rows:
        name = f"{r['design'].upper()}{r['n']}"
        table.append((f"{name} toggles", *(
            f"{r['blocks'][b]['toggles'][0]:.1f} → {r['blocks'][b]['toggles'][1]:.1f} "
            f"({factor(r['blocks'][b]['toggles']):.2f})" for b in BLOCKS), "", ""))
        table.append((f"{name} pJ", *(
            f"{r['blocks'][b]['pj'][0]:.2f} → {r['blocks'][b]['pj'][1]:.2f}" for b in BLOCKS),
            f"{r['core_pj'][0]:.2f} → {r['core_pj'][1]:.2f} ({factor(r['core_pj']):.2f})",
            f"{r['whole_pj'][0]:.2f} → {r['whole_pj'][1]:.2f} ({factor(r['whole_pj']):.2f})"))
    lines += markdown_table(["design", *BLOCKS, "core", "whole"], table)
    by = {r["design"]: r for r in rows}
    if {"tfx", "fxp"} <= set(by):
        t, f = by["tfx"], by["fxp"]
        lines += ["", f"TFX/FXP timed: whole {t['whole_pj'][1] / f['whole_pj'][1]:.3f}x "
                  f"(zero-delay {t['whole_pj'][0] / f['whole_pj'][0]:.3f}x), core "
                  f"{t['core_pj'][1] / f['core_pj'][1]:.3f}x (zero-delay "
                  f"{t['core_pj'][0] / f['core_pj'][0]:.3f}x)."]
    return lines


def plot_blocks(record, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in record["formats"] if r["workload"] == "layer"
            and r["array"] == [ROWS, COLS]]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * sum(len(r["designs"]) for r in rows)), 4.5))
    labels, positions, x = [], [], 0.0
    colours = plt.get_cmap("tab10")
    for row in rows:
        for design, figures in row["designs"].items():
            bottom = 0.0
            for i, block in enumerate(BLOCKS):
                value = figures["blocks"][block]
                ax.bar(x, value, bottom=bottom, color=colours(i),
                       label=block if not labels else None)
                bottom += value
            fmt = key_format(design)
            labels.append((f"{fmt.upper()}{row['n']}" if fmt in FORMAT_KINDS
                           else key_label(fmt)) + build_label(design))
            positions.append(x)
            x += 1
        x += 0.5
    ax.set_xticks(positions, labels, fontsize=7)
    ax.set_ylabel("energy per MAC (pJ)")
    ax.set_title(f"Gate-level energy per MAC, {ROWS}x{COLS} array, Fashion-MNIST conv1\n"
                 f"(OSU 0.18 µm, zero-delay Icarus activity; scripts/asic/report.py)",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
