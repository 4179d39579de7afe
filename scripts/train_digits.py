"""``make train-digits``: train the shipped digits MLP (64-32-10) in NumPy and save it
(:mod:`scripts.nn.digits`).

    python -m scripts.train_digits [--out models/digits_mlp.npz]
"""

import argparse

from golden.models import MODELS, save_mlp
from scripts.nn.digits import train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.train_digits",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(MODELS / "digits_mlp.npz"))
    args = parser.parse_args(argv)
    model = train()
    save_mlp(args.out, model)
    print(f"wrote {args.out}: float accuracy {model.info['float_accuracy']}")


if __name__ == "__main__":
    main()
