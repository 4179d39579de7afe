"""``make synth``: the accelerator behind its UART host link, to a bitstream for a board, with
its area and fmax record (:mod:`scripts.fpga.flow`).

    python -m scripts.synth --board icebreaker [--family tfx:8,3 --rows 2 --cols 2 --max-k 256
                                                --no-split-dsp --clock-mhz 0 --baud 1000000]

``--family`` takes a family spec; ``--format``, ``--n`` and ``--is-max`` are the older way to
say the same and are kept.
"""

import argparse
import sys

from golden._checks import check_int
from golden.family import FORMAT_KINDS, TFXFamily, WithUnsigned, parse_family
from golden.ptq import MX_SPREAD
from hdl.accelerator import MAX_K
from hdl.protocol import DEFAULT_BAUD
from scripts.fpga.boards import board_named
from scripts.designs import family_for
from scripts.fpga.flow import MODES, SynthConfig, run_flow, summary


def build_parser(prog, description, *, seeds=True):
    """The arguments of a build (board, format, size, DSPs, clock, baud; ``seeds``: also
    the placement seeds)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--board", default="icebreaker")
    parser.add_argument("--family", help="the family to build, a spec: tfx:N,IS_MAX, fxp:N, "
                                         "posit:N,ES or fp:N,E (default tfx:8,3), +u for its "
                                         "unsigned variants too (tfx:8,3+u); overrides "
                                         "--format, --n and --is-max")
    parser.add_argument("--format", default="tfx", choices=FORMAT_KINDS)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--is-max", type=int, default=3)
    parser.add_argument("--rows", type=int, default=0, help="0: the board's default size")
    parser.add_argument("--cols", type=int, default=0)
    parser.add_argument("--form", choices=("int", "ses"),
                        help="the PEs' operand form (default: int for TFX and FXP, or ses for "
                             "TFX on split DSPs; ses for posit and FP)")
    parser.add_argument("--no-dsp", action="store_true")
    parser.add_argument("--split-dsp", action=argparse.BooleanOptionalAction,
                        help="two PEs per iCE40 SB_MAC16 (8x8 halves; default: the board's, "
                             "on for the iCEBreaker)")
    parser.add_argument("--max-k", type=int, default=SynthConfig.max_K,
                        help="longest dot product (a network's largest layer K) the build runs")
    parser.add_argument("--mx-block", type=int, default=None,
                        help="block-scaled weights (W-MX): the block size, a power of two that "
                             "the rows divide (default: none)")
    parser.add_argument("--mx-spread", type=int, default=MX_SPREAD,
                        help=f"with --mx-block: the largest block shift the accumulators hold, "
                             f"1 to {MX_SPREAD} (default {MX_SPREAD}; networks quantized with "
                             f"tent quantize --mx-spread)")
    parser.add_argument("--clock-mhz", type=float,
                        help="the logic's clock from the iCE40 PLL, MHz (0: the board's "
                             "oscillator; default: the board's, 24 on the iCEBreaker)")
    parser.add_argument("--mode", choices=MODES, default=MODES[0],
                        help="coprocessor: the array behind the UART link; resident: the "
                             "standalone core that runs a loaded program (iCEBreaker)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help="the UART's rate (default %(default)s; 115200 for slow adapters)")
    if seeds:
        parser.add_argument("--seeds", type=int, default=5, help="placement seeds 1..SEEDS")
    return parser


def apply_family(args):
    """Put a ``--family`` spec into ``args.format``, ``args.n`` and ``args.is_max``; a
    ``ValueError`` for a family the FPGA flow does not build."""
    if not args.family:
        return
    family = parse_family(args.family)
    args.unsigned = isinstance(family, WithUnsigned)
    family = family.signed_family if args.unsigned else family
    if family.kind == "tfx":
        if family != TFXFamily(family.n, family.IS_max):
            raise ValueError(f"the FPGA flow builds TFX with IS from 1 to IS_max "
                             f"(tfx:N,IS_MAX, +u: with its unsigned variants), not {args.family}")
        args.is_max = family.IS_max
    elif family != family_for(family.kind, family.n):
        raise ValueError(f"the FPGA flow builds {family_for(family.kind, family.n).spec} "
                         f"at n = {family.n} for {family.kind} (+u: with its unsigned "
                         f"variants), not {args.family}")
    args.format, args.n = family.kind, family.n


def build_config(args):
    """The :class:`SynthConfig` of parsed build arguments, resolved; a ``ValueError`` naming
    the first bad one."""
    apply_family(args)
    check_int("--max-k", args.max_k, 1, MAX_K)
    board_named(args.board)
    return SynthConfig(board=args.board, format=args.format, n=args.n, is_max=args.is_max,
                       unsigned=getattr(args, "unsigned", False), mx_block=args.mx_block,
                       mx_spread=check_int("--mx-spread", args.mx_spread, 1, MX_SPREAD),
                       rows=args.rows, cols=args.cols, form=args.form, dsp=not args.no_dsp,
                       split_dsp=args.split_dsp, max_K=args.max_k, clock_mhz=args.clock_mhz,
                       baud=args.baud, mode=args.mode).resolved()


def main(argv=None):
    parser = build_parser("python -m scripts.synth", __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    try:
        check_int("--seeds", args.seeds, 1, 100)
        record = run_flow(build_config(args), seeds=range(1, args.seeds + 1))
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
