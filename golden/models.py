"""Trained models shipped with the project, in a portable format (NumPy ``.npz``).

A multilayer perceptron is a list of dense layers ``(W (K, N), b (N,))`` with ReLU between them
(not after the last). Evaluating one needs NumPy only.
"""

import json
from pathlib import Path

import numpy as np

from ._io import read_npz

__all__ = ["MLP", "load_mlp", "save_mlp", "MODELS", "ARCHITECTURES", "model_path"]

MODELS = Path(__file__).resolve().parent.parent / "models"
#: The network architectures the study trains (``make train-models``) and evaluates.
ARCHITECTURES = ("convnet", "resnet")


def model_path(dataset, model, seed):
    """Where the trained network ``model`` of ``dataset`` and training seed ``seed`` is kept:
    ``models/<dataset>-<model>-s<seed>.npz``."""
    return MODELS / f"{dataset}-{model}-s{seed}.npz"


class MLP:
    """Dense layers with ReLU in between; ``info`` records how the model was made."""

    def __init__(self, layers, info=None):
        self.layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
                       for w, b in layers]
        self.info = dict(info or {})
        for i, (w, b) in enumerate(self.layers):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(f"layer {i}: weights must be (K, N) and bias (N,), not "
                                 f"{w.shape} and {b.shape}")
            if i and w.shape[0] != self.layers[i - 1][0].shape[1]:
                raise ValueError(f"layer {i} takes {w.shape[0]} inputs but layer {i - 1} gives "
                                 f"{self.layers[i - 1][0].shape[1]}")
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise ValueError(f"layer {i} has NaN or infinite parameters")

    def activations(self, x):
        """The input of every layer and the final output (logits), in float64."""
        out = [np.asarray(x, dtype=np.float64)]
        for i, (w, b) in enumerate(self.layers):
            y = out[-1] @ w + b
            out.append(np.maximum(y, 0) if i + 1 < len(self.layers) else y)
        return out

    def predict(self, x):
        return np.argmax(self.activations(x)[-1], axis=-1)

    def to_network(self, input_shape):
        """The same model as a :class:`golden.network.Network` on images ``input_shape``."""
        from .network import Network, Node
        nodes = [Node("flatten", "flatten", {"input": "input"})]
        for i, (w, b) in enumerate(self.layers):
            nodes.append(Node("dense", f"fc{i}", {"input": nodes[-1].name,
                                                  "relu": i + 1 < len(self.layers)},
                              {"weight": w, "bias": b}))
        return Network(nodes, input_shape, self.info)


def save_mlp(path, model):
    arrays = {}
    for i, (w, b) in enumerate(model.layers):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    np.savez(path, info=np.array(json.dumps(model.info, sort_keys=True)), **arrays)


def load_mlp(path):
    """Load an MLP saved by :func:`save_mlp`; a clear error for a missing or malformed file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist (make train-digits "
                                f"recreates the shipped one)")
    contents = read_npz(path, "model")
    count = sum(1 for key in contents if key.startswith("w"))
    missing = [key for i in range(count) for key in (f"w{i}", f"b{i}") if key not in contents]
    if not count or missing or "info" not in contents:
        raise ValueError(f"{path} is not an MLP model file: expected arrays w0, b0, ... and "
                         f"info, found {sorted(contents)}")
    return MLP([(contents[f"w{i}"], contents[f"b{i}"]) for i in range(count)],
               json.loads(str(contents["info"])))
