# amaranth: UnusedElaboratable=no
# (a component whose arguments fail validation is never used)
"""Export any component of the accelerator, for any parameter set, as Verilog.

    python -m hdl decoder --family tfx:8,3 --form ses -o decoder.v
    python -m hdl mac --family tfx:8,3 --K 64 --form ses [--decoding]
    python -m hdl scaling --family fxp:8 --acc-width 40 --m-bits 16 --shift-max 31
    python -m hdl dot --family tfx:8,3 --K 64 --form ses
    python -m hdl array --family tfx:8,3 --rows 4 --cols 4 --K 64 --depth 64 --form ses

Families: tfx:N,IS_MAX[,IS_MIN], fxp:N, ufxp:N, posit:N,ES, fp:N,E. Writes to standard output without -o.
"""

import argparse
import sys
from pathlib import Path

from amaranth.back import verilog

from golden._io import discard_stdout
from golden.arith import ScalingLimits
from golden.family import parse_family
from .accelerator import Accelerator
from .decoder import Decoder
from .dot import DotProductUnit
from .mac import MAC, DecodingMAC
from .scaling import ScalingStage


def build(args):
    family = parse_family(args.family)
    if args.component == "decoder":
        return Decoder(family=family, form=args.form)
    if args.component == "mac":
        kind = DecodingMAC if args.decoding else MAC
        return kind(family=family, K=args.K, form=args.form, bias_bits=args.bias_bits)
    limits = ScalingLimits(bias_bits=args.bias_bits, m_bits=args.m_bits, shift_max=args.shift_max)
    if args.component == "array":
        return Accelerator(family=family, form=args.form, rows=args.rows, cols=args.cols,
                           max_K=args.K, depth=args.depth, limits=limits)
    if args.component == "dot":
        return DotProductUnit(family=family, K=args.K, form=args.form, limits=limits)
    return ScalingStage(acc_width=args.acc_width, out_family=family, limits=limits)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hdl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("component", choices=("decoder", "mac", "scaling", "dot", "array"))
    parser.add_argument("--family", required=True, help="tfx:N,IS_MAX[,IS_MIN], fxp:N or ufxp:N")
    parser.add_argument("--form", default="int", help="operand form: int or ses (sign, exponent, significand)")
    parser.add_argument("--K", type=int, default=64,
                        help="longest dot product (mac, dot, array)")
    parser.add_argument("--rows", type=int, default=4, help="array rows (K tile)")
    parser.add_argument("--cols", type=int, default=4, help="array columns (outputs at once)")
    parser.add_argument("--depth", type=int, default=64,
                        help="array accumulator buffer entries (longest pass)")
    parser.add_argument("--decoding", action="store_true", help="mac with its two decoders")
    parser.add_argument("--bias-bits", type=int, default=32)
    parser.add_argument("--acc-width", type=int, default=40, help="accumulator bits (scaling)")
    parser.add_argument("--m-bits", type=int, default=16)
    parser.add_argument("--shift-max", type=int, default=31)
    parser.add_argument("--name", default=None, help="top-level module name (default: component)")
    parser.add_argument("-o", "--output", default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    try:
        if args.output:
            folder = Path(args.output).resolve().parent
            if not folder.is_dir():
                raise ValueError(f"cannot write {args.output}: the folder {folder} does not "
                                 f"exist")
        component = build(args)
    except (TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = verilog.convert(component, name=args.name or args.component, emit_src=False)
    try:
        if args.output:
            Path(args.output).write_text(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OSError as error:
        print(f"error: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
