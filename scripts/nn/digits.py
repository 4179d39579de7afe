"""Train the shipped digits MLP (64-32-10, ReLU) in NumPy and save ``models/digits_mlp.npz``.

Cross-entropy, Adam (lr 0.01), mini-batches of 64, 60 epochs, He initialisation, seed 0, on the
train split of :mod:`golden.datasets` digits; the record keeps train and test accuracy.
Deterministic on one machine (float64; BLAS may round differently elsewhere). Entry point:
:mod:`scripts.train_digits`.
"""

import numpy as np

from golden.datasets import load_digits
from golden.models import MLP

__all__ = ["train"]

HIDDEN, EPOCHS, BATCH, RATE, SEED = 32, 60, 64, 0.01, 0


def train():
    x, y = load_digits("train")
    rng = np.random.default_rng(SEED)
    sizes = [x.shape[1], HIDDEN, 10]
    params = []
    for k, n in zip(sizes, sizes[1:]):
        params += [rng.normal(0, np.sqrt(2 / k), (k, n)), np.zeros(n)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH):
            batch = order[start:start + BATCH]
            xb, yb = x[batch], y[batch]
            hidden = np.maximum(xb @ params[0] + params[1], 0)
            logits = hidden @ params[2] + params[3]
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(yb)), yb] -= 1
            d_logits = probs / len(yb)
            d_hidden = (d_logits @ params[2].T) * (hidden > 0)
            grads = [xb.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
            step += 1
            for i, (g, (m1, m2)) in enumerate(zip(grads, moments)):
                m1[:] = 0.9 * m1 + 0.1 * g
                m2[:] = 0.999 * m2 + 0.001 * g * g
                params[i] -= RATE * (m1 / (1 - 0.9 ** step)) / (
                    np.sqrt(m2 / (1 - 0.999 ** step)) + 1e-8)
    model = MLP([(params[0], params[1]), (params[2], params[3])])
    accuracy = {split: float(np.mean(model.predict(xs) == ys))
                for split, (xs, ys) in (("train", (x, y)), ("test", load_digits("test")))}
    model.info = {"dataset": "digits", "topology": [64, HIDDEN, 10], "epochs": EPOCHS,
                  "batch": BATCH, "optimizer": f"Adam lr {RATE}", "seed": SEED,
                  "float_accuracy": accuracy, "made_by": "python -m scripts.train_digits"}
    return model
