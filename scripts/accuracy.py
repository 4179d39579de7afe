"""``make accuracy``: the quantization study, TFX (TENT) against fixed-point baselines on the
trained networks (:mod:`scripts.nn.study`), every test image.

    python -m scripts.accuracy [--datasets fashion-mnist digits mnist] [--models convnet resnet]
                               [--seeds 0 1 2] [--widths 3 4 5 6 7 8] [--test-images 0]
                               [--fake] [--no-bias-correction] [--no-variants] [--jobs 2]
                               [--schemes SCHEME ...] [--output DIR]
                               [--scheduler tcp://host:8786]
"""

import os

# One BLAS thread per worker: the study runs --jobs processes side by side.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from golden._checks import check_int  # noqa: E402
from golden.datasets import DATASETS  # noqa: E402
from golden.ptq import SCHEMES  # noqa: E402
from scripts.executor import check_scheduler  # noqa: E402
from scripts.nn.study import (ARCHITECTURES, HEADLINE, OUT, SEEDS, WIDTHS,  # noqa: E402
                              markdown, run_study)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.accuracy",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=[HEADLINE, "digits", "mnist"],
                        choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--widths", nargs="+", type=int, default=list(WIDTHS))
    parser.add_argument("--test-images", type=int, default=0,
                        help="evaluate the first this many test images (default 0: all)")
    parser.add_argument("--fake", action="store_true",
                        help="also evaluate simulated (fake) quantization (doubles the time)")
    parser.add_argument("--no-bias-correction", action="store_true",
                        help="quantize without bias correction")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the other exponent sizes (posit es = 0, FP6 E3M2, FP8 E5M2)")
    parser.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES),
                        help="the schemes to run (default: all)")
    parser.add_argument("--output", default=None,
                        help="the record's directory (default: build/accuracy)")
    parser.add_argument("--jobs", type=int, default=2, help="runs evaluated in parallel")
    parser.add_argument("--scheduler", default=None,
                        help="a Dask scheduler's address (tcp://host:8786): run on its workers")
    args = parser.parse_args(argv)
    try:
        check_int("--test-images", args.test_images, 0, 1 << 20)
        check_int("--jobs", args.jobs, 1, 64)
        if args.scheduler is not None:
            check_scheduler(args.scheduler)
        record = run_study(datasets=args.datasets, models=args.models, seeds=args.seeds,
                           widths=args.widths, test_images=args.test_images, jobs=args.jobs,
                           fake=args.fake, bias_correction=not args.no_bias_correction,
                           variants=not args.no_variants, scheduler=args.scheduler,
                           schemes=args.schemes,
                           out=OUT if args.output is None else Path(args.output))
    except (ValueError, FileNotFoundError, ConnectionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
