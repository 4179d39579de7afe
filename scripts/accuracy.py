"""``make accuracy``: the quantization study, TFX (TENT) against fixed-point baselines on the
trained networks (:mod:`scripts.nn.study`).

    python -m scripts.accuracy [--datasets fashion-mnist digits mnist] [--test-images 2000]
                               [--jobs 2]
"""

import argparse
import sys

from golden._checks import check_int
from golden.datasets import DATASETS
from scripts.nn.study import (ARCHITECTURES, HEADLINE, SEEDS, WIDTHS, markdown, run_study)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.accuracy",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=[HEADLINE, "digits", "mnist"],
                        choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--widths", nargs="+", type=int, default=list(WIDTHS))
    parser.add_argument("--test-images", type=int, default=None,
                        help="evaluate this many test images (0: all; default: all of "
                             "digits, the first 2000 (ConvNet) or 1000 (ResNet) of "
                             "fashion-mnist and mnist)")
    parser.add_argument("--jobs", type=int, default=2, help="models evaluated in parallel")
    args = parser.parse_args(argv)
    try:
        if args.test_images is not None:
            check_int("--test-images", args.test_images, 0, 1 << 20)
        check_int("--jobs", args.jobs, 1, 64)
        record = run_study(datasets=args.datasets, models=args.models, seeds=args.seeds,
                           widths=args.widths, test_images=args.test_images, jobs=args.jobs)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
