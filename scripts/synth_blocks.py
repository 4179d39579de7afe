"""``make synth-blocks``: where a ``make synth`` build's logic goes, block by block
(:mod:`scripts.fpga.blocks`); the same arguments as :mod:`scripts.synth` (no seeds).

    python -m scripts.synth_blocks --board icebreaker [--format fxp --rows 4 --cols 4 ...]
"""

import sys

from scripts.fpga.blocks import markdown, run_blocks
from scripts.synth import build_config, build_parser


def main(argv=None):
    parser = build_parser("python -m scripts.synth_blocks", __doc__.splitlines()[0],
                          seeds=False)
    args = parser.parse_args(argv)
    try:
        record = run_blocks(build_config(args))
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
