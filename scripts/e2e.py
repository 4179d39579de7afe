"""``make e2e``: trained ConvNets through the simulated accelerator, every layer bit-exact
against the golden integer engine, with cycles per image (:mod:`scripts.nn.e2e`).

    python -m scripts.e2e [--images 20] [--datasets digits fashion-mnist]
"""

import argparse
import sys

from scripts.nn.e2e import markdown, run_e2e


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.e2e",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion-mnist"])
    parser.add_argument("--seed", type=int, default=0, help="which trained model")
    args = parser.parse_args(argv)
    try:
        reports = run_e2e(datasets=args.datasets, images=args.images, seed=args.seed)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(markdown(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
