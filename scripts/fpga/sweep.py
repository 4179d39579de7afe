"""TFX against fixed point on an FPGA: area and fmax over widths and array sizes.

Runs :func:`scripts.fpga.flow.run_flow` (the same flow as ``make synth``, host link included) for

- every width ``n`` in {4, 5, 6, 8} (TFX with the IS_max of :data:`WIDTHS`, FXP of the same n,
  and posit and the minifloat, :data:`WIDTH_FORMATS`), with and without DSP blocks, at one
  array size (default 2x2);
- the largest-array search at n = 8: array shapes in order of PE count; a shape counts when it
  places, routes and its median fmax over the seeds meets the build's clock; the search stops
  after the first PE count at which no shape fits the device. The largest shape found is the
  board's default size in :mod:`scripts.fpga.boards`.

Builds that are up to date (same sources, configuration and seeds) are reused. Writes
``build/synth/sweep/<board>/sweep.json``, ``sweep.md`` and two PNG plots. Entry point:
:mod:`scripts.synth_sweep`.
"""

from pathlib import Path

from golden.family import FORMAT_KINDS, default_is_max
from scripts.designs import FPGA
from scripts.executor import map_jobs
from scripts.records import markdown_table, write_report
from sim.toolchain import BUILD
from .boards import board_named
from .flow import SynthConfig, run_flow

__all__ = ["WIDTHS", "SHAPES", "RESOURCES", "FORMATS", "WIDTH_FORMATS", "largest", "search_ends", "search_order",
           "width_rows",
           "markdown", "run_sweep"]

OUT = BUILD / "synth" / "sweep"
#: The formats compared (the keys of their figures), each in the FPGA designs' form.
FORMATS = tuple(d.kind for d in FPGA)
#: Every format of the width sweep: :data:`FORMATS` and posit and the minifloat (their form:
#: :func:`scripts.designs.fpga_form`); the largest-array search is TFX's and FXP's.
WIDTH_FORMATS = (*FORMATS, *(kind for kind in FORMAT_KINDS if kind not in FORMATS))

WIDTHS = tuple((n, default_is_max(n)) for n in (4, 5, 6, 8))
SHAPES = ((2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4),
          (4, 5), (5, 4), (5, 5), (5, 6), (6, 5), (6, 6), (6, 7), (7, 6), (7, 7), (8, 8))
# nextpnr's resource names: logic, DSP, block RAM.
RESOURCES = {"ice40": ("ICESTORM_LC", "ICESTORM_DSP", "ICESTORM_RAM"),
             "ecp5": ("TRELLIS_COMB", "MULT18X18D", "DP16KD")}


def search_order(shapes=SHAPES):
    """The shapes grouped by PE count, ascending."""
    groups = {}
    for shape in shapes:
        groups.setdefault(shape[0] * shape[1], []).append(shape)
    return [groups[count] for count in sorted(groups)]


def _counts(record):
    return bool(record["resources"]) and record["meets_clock"]


def search_ends(built):
    """After the first PE count none of whose shapes fits the device: a shape that fits but
    misses the clock does not end the search (fmax is not monotone in size, and a median can
    miss by a seed's noise where a larger shape meets), nor does one on which a tool failed
    (whether it fits is unknown)."""
    return not any(r["resources"] or r.get("tool_error") for r in built)


def largest(records):
    """The shapes with the most PEs among records that fit and meet the clock ([] if none)."""
    good = [(r["config"]["rows"], r["config"]["cols"]) for r in records if _counts(r)]
    if not good:
        return []
    most = max(rows * cols for rows, cols in good)
    return sorted(shape for shape in good if shape[0] * shape[1] == most)


def _config(board, fmt, n, is_max, shape, dsp, clock_mhz=None):
    """A build in the board's default style (split DSPs and clock), resolved."""
    return SynthConfig(board=board, format=fmt, n=n, is_max=is_max, rows=shape[0],
                       cols=shape[1], dsp=dsp, clock_mhz=clock_mhz).resolved()


def _build(config, seeds):
    return run_flow(config, seeds=seeds, reuse=True, record_tool_failure=True,
                    progress=lambda line: print(line, flush=True))


def _search(board, fmt, seeds, groups, clock_mhz):
    n, is_max = WIDTHS[-1]
    records = []
    for group in groups:
        built = [_build(_config(board, fmt, n, is_max, shape, True, clock_mhz), seeds)
                 for shape in group]
        records += built
        if search_ends(built):
            break
    return records


def _entry(record, family):
    """What the tables need of one build: logic cells used (or asked for, if it did not fit),
    available, DSPs, block RAMs, median fmax and whether it meets the clock."""
    logic, dsp, ram = RESOURCES[family]
    fits = bool(record["resources"])
    used, available = (record["resources"] if fits else record.get("demand") or {}).get(
        logic, (None, None))
    return {"form": record["config"]["form"], "logic": used, "available": available,
            "fits": fits, "tool_error": record.get("tool_error"),
            "dsps": record["resources"][dsp][0] if fits else None,
            "brams": record["resources"][ram][0] if fits else None,
            "fmax_mhz": record["fmax_mhz_median"], "meets_clock": record["meets_clock"]}


def width_rows(records, family):
    """One row per (n, DSP) pair: TFX and FXP side by side, with ratios, and every other
    format of :data:`WIDTH_FORMATS` built there, with its logic against FXP's
    (``logic_vs_fxp``)."""
    by_key = {(r["config"]["n"], r["config"]["dsp"], r["config"]["format"]): r for r in records}
    rows = []
    for n, is_max in WIDTHS:
        for dsp in (True, False):
            tfx, fxp = by_key.get((n, dsp, "tfx")), by_key.get((n, dsp, "fxp"))
            if not (tfx and fxp):
                continue
            row = {"n": n, "IS_max": is_max, "dsp": dsp}
            for fmt in WIDTH_FORMATS:
                if (n, dsp, fmt) in by_key:
                    row[fmt] = _entry(by_key[(n, dsp, fmt)], family)
            if row["tfx"]["logic"] and row["fxp"]["logic"]:
                row["logic_ratio"] = row["tfx"]["logic"] / row["fxp"]["logic"]
            if row["tfx"]["fmax_mhz"] and row["fxp"]["fmax_mhz"]:
                row["fmax_ratio"] = row["tfx"]["fmax_mhz"] / row["fxp"]["fmax_mhz"]
            if row["fxp"]["logic"]:
                row["logic_vs_fxp"] = {fmt: row[fmt]["logic"] / row["fxp"]["logic"]
                                       for fmt in WIDTH_FORMATS
                                       if fmt in row and row[fmt]["logic"]}
            rows.append(row)
    return rows


def formats_table(record):
    """The every-format width table (markdown lines), when the sweep built more than TFX and
    FXP."""
    shown = [fmt for fmt in WIDTH_FORMATS if any(fmt in row for row in record["widths"])]
    if shown == list(FORMATS):
        return []
    lines = ["", f"## Every format by width, {record['width_size'][0]}x"
             f"{record['width_size'][1]} array", "",
             "Logic cells (× FXP's) and median fmax in MHz; each format in its FPGA form (TFX and "
             "FXP int, or TFX ses on split DSPs; posit and FP ses), the board's scaling registers "
             "for every format.", ""]
    rows = []
    for row in record["widths"]:
        logic = []
        for fmt in shown:
            entry = row.get(fmt)
            ratio = row.get("logic_vs_fxp", {}).get(fmt)
            logic.append("–" if entry is None else _logic_text(entry)
                         + (f" ({ratio:.2f})" if ratio and fmt != "fxp" else ""))
        fmax = ["–" if row.get(fmt) is None else _cell(row[fmt], "fmax_mhz", "{:.2f}")
                for fmt in shown]
        rows.append((row["n"], "yes" if row["dsp"] else "no", *logic, *fmax))
    return lines + markdown_table(["n", "DSPs", *(f"{fmt.upper()} logic" for fmt in shown),
                                   *(f"{fmt.upper()} fmax" for fmt in shown)], rows)


def _cell(entry, key, fmt="{}"):
    value = entry[key]
    return "–" if value is None else fmt.format(value)


def _logic_text(entry):
    if entry.get("tool_error"):
        return "tool failed†"
    if entry["logic"] is None:
        return "–"
    return f"{entry['logic']:,}" + ("" if entry["fits"] else "*")


def _ratio(row, key):
    return f"{row[key]:.2f}" if key in row else "–"


def markdown(record):
    family, clock = record["family"], record["clock_mhz"]
    logic = RESOURCES[family][0]
    source = (f"the PLL from the board's {record['board_clock_mhz']:g} MHz"
              if record.get("pll") else "the board's oscillator")
    lines = [f"# FPGA sweep: {record['board']} ({record['device']}), {clock:g} MHz clock",
             "",
             f"Made by `python -m scripts.synth_sweep --board {record['board']} --seeds "
             f"{len(record['seeds'])}` ({record['tools']}): the host-linked accelerator "
             f"(shared scaling stage, max_K {record['max_K']}, depth {record['depth']}) at "
             f"{clock:g} MHz from {source}"
             + ("; the DSP builds share split DSPs, two PEs per block, each format in the "
                "first operand form whose factors fit an 8x8 half (`scripts.designs.fpga_form`)"
                if record.get("split_dsp") else "") + ", "
             f"fmax the median over seeds {record['seeds']}. Logic is nextpnr's {logic} count; "
             "a design that does not fit shows the count the placer asked for, marked *.", "",
             f"## TFX vs FXP by width, {record['width_size'][0]}x{record['width_size'][1]} "
             "array", ""]
    lines += markdown_table(
        ["n", "IS_max", "DSPs", "TFX logic", "FXP logic", "TFX/FXP", "TFX DSP", "FXP DSP",
         "TFX fmax", "FXP fmax", "TFX/FXP fmax"],
        [(row["n"], row["IS_max"], "yes" if row["dsp"] else "no", _logic_text(row["tfx"]),
          _logic_text(row["fxp"]), _ratio(row, "logic_ratio"), _cell(row["tfx"], "dsps"),
          _cell(row["fxp"], "dsps"), _cell(row["tfx"], "fmax_mhz", "{:.2f}"),
          _cell(row["fxp"], "fmax_mhz", "{:.2f}"), _ratio(row, "fmax_ratio"))
         for row in record["widths"]])
    sizes = [(f"{fmt.upper()} {entry['form']}", f"{entry['rows']}x{entry['cols']}",
              entry["rows"] * entry["cols"], entry["dsp_pes"], _logic_text(entry),
              _cell(entry, "available"), _cell(entry, "brams"),
              _cell(entry, "fmax_mhz", "{:.2f}"), "yes" if entry["meets_clock"] else "no")
             for fmt in FORMATS for entry in record["sizes"][fmt]]
    searched = record.get("searched", True)
    if searched:
        lines += ["", f"## Array sizes at n = {WIDTHS[-1][0]}, IS_max = {WIDTHS[-1][1]}, "
                  "with DSPs", ""]
        lines += markdown_table(["format", "array", "PEs", "on DSPs", "logic", "of", "block RAM",
                                 "fmax median", f"meets {clock:g} MHz"], sizes)
    failures = sorted({f"{fmt.upper()} {e['rows']}x{e['cols']}: {e['tool_error']}"
                       for fmt in FORMATS for e in record["sizes"][fmt] if e.get("tool_error")}
                      | {f"{fmt.upper()} n={row['n']} {'DSP' if row['dsp'] else 'no DSP'}: "
                         f"{row[fmt]['tool_error']}" for row in record["widths"]
                         for fmt in FORMATS if row[fmt].get("tool_error")})
    if failures:
        lines += ["", "† Yosys failed on these builds (recorded, not counted as fitting or "
                  "not): " + "; ".join(f"`{f}`" for f in failures) + "."]
    lines += formats_table(record)
    lines += [""]
    if not searched:
        lines.append("- The largest-array search was not run (`--no-search`).")
    for fmt in FORMATS if searched else ():
        shapes = record["largest"][fmt]
        lines.append(f"- Largest {fmt.upper()} array: "
                     + (", ".join(f"{r}x{c} ({r * c} PEs)" for r, c in shapes) or "none")
                     + ".")
    return "\n".join(lines) + "\n"


def size_entries(records, family):
    return [{"rows": r["config"]["rows"], "cols": r["config"]["cols"],
             "dsp_pes": r["config"]["dsp_pes"], **_entry(r, family)} for r in records]


def plot(record, directory):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = (f"scripts.synth_sweep, {record['board']}, median of seeds {record['seeds']}; "
            "* = did not fit (placer's demand)")
    figure, (logic_axis, fmax_axis) = plt.subplots(1, 2, figsize=(11, 4))
    colours = dict(zip(WIDTH_FORMATS, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    for fmt, colour in colours.items():
        for dsp, style in ((True, "-"), (False, "--")):
            rows = [row for row in record["widths"] if row["dsp"] == dsp and fmt in row
                    and row[fmt]["logic"]]
            label = f"{fmt.upper()} {'DSP' if dsp else 'no DSP'}"
            logic_axis.plot([r["n"] for r in rows], [r[fmt]["logic"] for r in rows], style,
                            color=colour, marker="o", label=label)
            for r in rows:
                if not r[fmt]["fits"]:
                    logic_axis.annotate("*", (r["n"], r[fmt]["logic"]))
            rows = [row for row in rows if row[fmt]["fmax_mhz"]]
            fmax_axis.plot([r["n"] for r in rows], [r[fmt]["fmax_mhz"] for r in rows], style,
                           color=colour, marker="o", label=label)
    available = next((row["tfx"]["available"] for row in record["widths"]
                      if row["tfx"]["available"]), None)
    if available:
        logic_axis.axhline(available, color="grey", linewidth=0.8)
    fmax_axis.axhline(record["clock_mhz"], color="grey", linewidth=0.8)
    size = "x".join(map(str, record["width_size"]))
    for axis in (logic_axis, fmax_axis):
        axis.set_xticks([n for n, _ in WIDTHS])
    logic_axis.set(xlabel="n (bits)", ylabel="logic cells",
                   title=f"{size} array, host link included")
    fmax_axis.set(xlabel="n (bits)", ylabel="fmax (MHz)", title="median fmax")
    logic_axis.legend(fontsize=8)
    figure.text(0.01, 0.01, made, fontsize=7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    width_path = Path(directory) / "sweep_widths.png"
    figure.savefig(width_path, dpi=120)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 4))
    for fmt, colour in (("tfx", "tab:blue"), ("fxp", "tab:orange")):
        entries = [e for e in record["sizes"][fmt] if e["logic"]]
        axis.plot([e["rows"] * e["cols"] for e in entries], [e["logic"] for e in entries], "o",
                  color=colour, label=fmt.upper())
        for e in entries:
            axis.annotate(f"{e['rows']}x{e['cols']}{'' if e['fits'] else '*'}",
                          (e["rows"] * e["cols"], e["logic"]), fontsize=7)
    if available:
        axis.axhline(available, color="grey", linewidth=0.8)
    axis.set(xlabel="PEs", ylabel="logic cells",
             title=f"array size at n = {WIDTHS[-1][0]}, with DSPs")
    axis.legend()
    figure.text(0.01, 0.01, made, fontsize=6)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    size_path = Path(directory) / "sweep_sizes.png"
    figure.savefig(size_path, dpi=120)
    plt.close(figure)
    print(f"wrote {width_path} and {size_path}")


def _sweep_job(context, item):
    """One job of the sweep on any worker: a largest-array search or one build."""
    board, seeds, groups, clock_mhz = context
    kind, what = item
    if kind == "search":
        return _search(board, what, seeds, groups, clock_mhz)
    return _build(what, seeds)


def _run_builds(board, seeds, width_configs, shared, search, clock_mhz, jobs, scheduler):
    """Both largest-array searches (with ``search``) and every width build, through
    :func:`scripts.executor.map_jobs`: the searches beside the width builds they do not make,
    then the ones they do (up to date by then), so that no two jobs ever build into the same
    directory. Returns ({format: search records}, width records in ``width_configs``'s
    order)."""
    context = (board, seeds, search_order(), clock_mhz)
    early = [i for i, config in enumerate(width_configs) if config not in shared]
    late = [i for i, config in enumerate(width_configs) if config in shared]
    searches = [("search", fmt) for fmt in (FORMATS if search else ())]
    first = map_jobs(_sweep_job, context, searches + [("build", width_configs[i]) for i in early],
                     jobs=jobs, scheduler=scheduler)
    size_records = {fmt: first[k] if search else [] for k, fmt in enumerate(FORMATS)}
    built = dict(zip(early, first[len(searches):], strict=True))
    built.update(zip(late, map_jobs(_sweep_job, context,
                                    [("build", width_configs[i]) for i in late],
                                    jobs=jobs, scheduler=scheduler), strict=True))
    return size_records, [built[i] for i in range(len(width_configs))]


def run_sweep(board, *, seeds, jobs, size=(2, 2), clock_mhz=None, formats=WIDTH_FORMATS,
              search=True, scheduler=None):
    """Every width build of ``formats`` (TFX and FXP always) and, with ``search``, both
    largest-array searches, ``jobs`` local processes at a time or on the workers of the Dask
    ``scheduler``, in the board's build style (split DSPs, PLL
    clock) unless ``clock_mhz`` is given; writes the record, its tables and plots to
    ``build/synth/sweep/`` and returns the record."""
    formats = (*FORMATS, *(fmt for fmt in formats if fmt not in FORMATS))
    board = board_named(board)
    seeds = tuple(seeds)
    width_configs = [_config(board.name, fmt, n, is_max, size, dsp, clock_mhz)
                     for n, is_max in WIDTHS for dsp in (True, False) for fmt in formats]
    # A width build the search also makes waits for it (then it is up to date), so that no
    # two processes ever build into the same directory.
    searched = {(WIDTHS[-1][0], True, shape) for shape in SHAPES}
    shared = [c for c in width_configs if (c.n, c.dsp, (c.rows, c.cols)) in searched]
    size_records, width_records = _run_builds(board.name, seeds, width_configs, shared, search,
                                              clock_mhz, jobs, scheduler)
    first = width_records[0]
    record = {
        "board": board.name, "device": first["device"], "family": board.family,
        "clock_mhz": first["clock_mhz"], "board_clock_mhz": first["board_clock_mhz"],
        "pll": first["pll"] is not None,
        "split_dsp": any(r["config"]["split_dsp"] for r in width_records),
        "seeds": list(seeds), "tools": "; ".join(
            first["tools"].values()), "max_K": first["config"]["max_K"],
        "depth": first["config"]["depth"], "width_size": list(size),
        "widths": width_rows(width_records, board.family),
        "sizes": {fmt: size_entries(records, board.family)
                  for fmt, records in size_records.items()},
        "largest": {fmt: largest(records) for fmt, records in size_records.items()},
        "searched": search,
    }
    directory = OUT / board.name
    write_report(directory, "sweep", record, markdown(record))
    plot(record, directory)
    return record
