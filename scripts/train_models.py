"""``make train-models``: train the study's networks with PyTorch (CPU) and export them as
portable NumPy files (:mod:`scripts.nn.training`).

    python -m scripts.train_models [--datasets fashion-mnist] [--models convnet] [--seeds 0 1 2]
"""

import argparse
import sys

from golden.datasets import DATASETS
from golden.models import ARCHITECTURES, model_path
from golden.network import save_network
from scripts.nn.training import train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.train_models",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(ARCHITECTURES),
                        choices=ARCHITECTURES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--missing-only", action="store_true",
                        help="skip (and say so) models whose file already exists")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("error: training needs PyTorch: make train-models installs the optional extra "
              "'train' (torch==2.13.0, CPU)", file=sys.stderr)
        return 2
    for dataset in args.datasets:
        for model in args.models:
            for seed in args.seeds:
                path = model_path(dataset, model, seed)
                if args.missing_only and path.exists():
                    print(f"{path} exists; not retrained")
                    continue
                network = train(dataset, model, seed, epochs=args.epochs)
                save_network(path, network)
                print(f"wrote {path}: float test accuracy "
                      f"{network.info['float_test_accuracy']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
