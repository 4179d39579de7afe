"""Command line of the golden model.

    python -m golden table tfx:8,3,0              every code, its fields and value
    python -m golden table posit:8,1,0            (also fp:8,4,0 for OCP E4M3, fxp:8,4, ufxp:8,4)
    python -m golden quantize tfx:8,3,0 1.5 -0.3  codes of numbers
    python -m golden search weights.npy --n 8     TENT's per-tensor (IS, SC) and FXP's F
"""

import argparse
import json
import sys

import numpy as np

from . import parse_format
from ._checks import check_int
from ._io import discard_stdout
from .search import search_fxp, search_tfx


def _table(args):
    fmt = parse_format(args.format)
    print(f"# {fmt!r}: maxpos {fmt.maxpos!r}, minpos {fmt.minpos!r}, "
          f"operand {fmt.operand_width} bits, value = X * 2**{fmt.int_exponent}")
    rows = [(code, fmt.field_columns(code)) for code in range(fmt.code_count)]
    widths = [max([len(name)] + [len(cols[i]) for _, cols in rows if not isinstance(cols, str)])
              for i, name in enumerate(fmt.field_names)]
    ints = fmt.to_int(fmt.codes(), nar="zero")
    x_width = max(7, *(len(str(x)) for x in ints))
    header = " ".join(f"{name:>{w}}" for name, w in zip(fmt.field_names, widths))
    print(f"{'code':>6} {'bits':>{fmt.n}}  {header}{' ' if header else ''}{'X':>{x_width}}  value")
    for (code, cols), x in zip(rows, ints):
        bits = format(code, f"0{fmt.n}b")
        if isinstance(cols, str):
            print(f"{code:>6} {bits}  {cols}")
            continue
        fields = " ".join(f"{c:>{w}}" for c, w in zip(cols, widths))
        print(f"{code:>6} {bits}  {fields}{' ' if fields else ''}{int(x):>{x_width}}  "
              f"{float(fmt.decode(code))!r}")


def _quantize(args):
    fmt = parse_format(args.format)
    values = np.array([float(v) for v in args.values])
    codes = fmt.quantize(values)
    for x, code, y in zip(values.tolist(), codes.tolist(), fmt.decode(codes).tolist()):
        print(f"{x!r:>24} -> code {int(code):>6} (0b{int(code):0{fmt.n}b}) = {y!r}")


def _search(args):
    if args.is_max is not None:
        check_int("--is-max", args.is_max, 1, max(args.n - 1, 1))
    try:
        tensor = np.load(args.tensor, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"cannot read {args.tensor} as a .npy array: {error}") from None
    if not isinstance(tensor, np.ndarray):
        names = ", ".join(tensor.files[:5])
        tensor.close()
        raise ValueError(f"{args.tensor} is an .npz archive (of {names}), not one .npy array: "
                         f"save the tensor with numpy.save")
    results = {
        "tensor": args.tensor, "shape": list(tensor.shape), "n": args.n,
        "tfx": search_tfx(tensor, args.n, objective=args.objective,
                          IS_range=None if args.is_max is None else (1, args.is_max)).as_dict(),
        "fxp": search_fxp(tensor, args.n, objective=args.objective).as_dict(),
        "ufxp": (search_fxp(tensor, args.n, signed=False, objective=args.objective).as_dict()
                 if np.min(tensor) >= 0 else None),
    }
    if args.json:
        print(json.dumps(results, indent=2, allow_nan=False))
        return
    print(f"{args.tensor}: shape {tuple(tensor.shape)}, n = {args.n}, objective {args.objective}")
    for key in ("tfx", "fxp", "ufxp"):
        if results[key]:
            print(f"  {results[key]['label']:<16} {args.objective} {results[key]['error']:.6g}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m golden", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser("table", help="print every code of a format")
    table.add_argument("format", help="tfx:N,IS,SC, fxp:N,F, ufxp:N,F, posit:N,ES,SC or fp:N,E,SC")
    table.set_defaults(run=_table)
    quantize = commands.add_parser("quantize", help="quantize numbers")
    quantize.add_argument("format")
    quantize.add_argument("values", nargs="+", help="real numbers (use -- before negatives)")
    quantize.set_defaults(run=_quantize)
    search = commands.add_parser("search", help="TENT per-tensor format search on a .npy tensor")
    search.add_argument("tensor")
    search.add_argument("--n", type=int, default=8, help="word width (default 8)")
    search.add_argument("--is-max", type=int, default=None, help="largest IS to consider")
    search.add_argument("--objective", choices=("mse", "mae"), default="mse")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)
    args = parser.parse_args(argv)
    try:
        args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
        return 0
    except (TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
