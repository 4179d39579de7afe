"""``make onnx-models``: the shipped ONNX fixtures, exported once with PyTorch's own exporter.

    python -m scripts.export_onnx [--models digits-convnet-s0 digits-resnet-s0 ...]

Each model is a shipped network file (``models/NAME.npz``) loaded back into its PyTorch module
(:func:`scripts.nn.training.load_weights`) and exported with ``torch.onnx.export`` (the
dynamo exporter of current PyTorch, a dynamic batch dimension) to ``models/NAME.onnx``, which
is then imported with :func:`golden.onnx_import.import_onnx` and must compute the network
file's logits on the dataset's first test images. The ONNX file records what made it in its
metadata (``exported_by``, ``torch``, ``source``). Needs the optional ``train`` extra
(PyTorch, onnxscript); ``tests/test_onnx_import.py`` checks the shipped files with NumPy and
the ``onnx`` package only.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from golden.datasets import load
from golden.models import MODELS as MODELS_DIR
from golden.network import load_network
from golden.onnx_import import import_onnx

__all__ = ["FIXTURES", "export_model", "main"]

FIXTURES = ("digits-convnet-s0", "digits-resnet-s0", "fashion-mnist-convnet-s0")
_CHECKED_IMAGES = 200


def export_model(name, directory=MODELS_DIR):
    """Export ``directory/name.npz`` to ``directory/name.onnx``; returns the ONNX path and
    the largest logit difference of the imported file against the network file."""
    import onnx
    import torch

    from scripts.nn.training import load_weights

    network = load_network(Path(directory) / f"{name}.npz")
    module = load_weights(network)
    path = Path(directory) / f"{name}.onnx"
    example = torch.zeros((1, *network.input_shape))
    torch.onnx.export(module, (example,), str(path), dynamo=True, input_names=["image"],
                      output_names=["logits"], dynamic_shapes=({0: "batch"},),
                      verbose=False)
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in (("exported_by", "scripts.export_onnx"), ("torch", torch.__version__),
                       ("source", f"models/{name}.npz")):
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))  # the weights inline: the exporter's .onnx.data is not needed
    path.with_name(path.name + ".data").unlink(missing_ok=True)
    x = load(network.info["dataset"], "test")[0][:_CHECKED_IMAGES]
    difference = float(np.abs(import_onnx(path).forward(x) - network.forward(x)).max())
    if difference > 1e-3:
        raise RuntimeError(f"{path} computes logits up to {difference:.3g} away from "
                           f"{name}.npz")
    return path, difference


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.export_onnx",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(FIXTURES),
                        help="shipped network files by name (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        import onnxscript  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        print("error: exporting needs PyTorch and onnxscript: make onnx-models installs the "
              "optional extra 'train'", file=sys.stderr)
        return 2
    for name in args.models:
        if not (MODELS_DIR / f"{name}.npz").is_file():
            print(f"error: there is no shipped network models/{name}.npz", file=sys.stderr)
            return 1
        path, difference = export_model(name)
        print(f"wrote {path}: the imported file's logits are within {difference:.2g} of "
              f"{name}.npz on {_CHECKED_IMAGES} test images", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
