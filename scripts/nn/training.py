"""Train the study's networks with PyTorch (CPU) and export them as portable NumPy files.

Two networks, defined here (no torchvision):

- ``convnet``: per stage a 3x3 convolution (no bias), batch norm, ReLU and 2x2 max-pool;
  16 then 32 channels; then one dense layer to the 10 classes.
- ``resnet``: the ResNet-18 topology (a 3x3 stem, four stages of two basic blocks, strides
  1, 2, 2, 2, 1x1 projection shortcuts where the shape changes, global average pooling, one
  dense layer), with widths 8, 16, 32, 64 instead of 64 .. 512 and no stem max-pool (28x28
  inputs are small).

Training: the dataset's train split only (the calibration split stays held out), Adam
(lr 1e-3, cosine decay), batch 128, no augmentation, a fixed seed, one thread and PyTorch's
deterministic algorithms, so a rerun gives the same file. The exported graph keeps the batch
norms (``golden.network.fold`` folds them) and records the float test accuracy. Where a
trained network is kept: :func:`golden.models.model_path`. Entry point:
:mod:`scripts.train_models`.
"""

import time

import numpy as np

from golden.datasets import load
from golden.network import Network, Node

__all__ = ["EPOCHS", "build", "export", "load_weights", "train"]

EPOCHS = {("digits", "convnet"): 40, ("digits", "resnet"): 40,
          ("fashion-mnist", "convnet"): 8, ("fashion-mnist", "resnet"): 6,
          ("mnist", "convnet"): 4, ("mnist", "resnet"): 3}


def build(model, input_shape):
    """The PyTorch module of ``model`` for inputs ``input_shape``."""
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.project = None
            if stride != 1 or c_in != c_out:
                self.project = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                             nn.BatchNorm2d(c_out))

        def forward(self, x):
            y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
            return (y + (x if self.project is None else self.project(x))).relu()

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            channels, size = (input_shape[0], 16, 32), input_shape[1]
            self.stages = nn.ModuleList()
            for c_in, c_out in zip(channels, channels[1:]):
                self.stages.append(nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                                                 nn.BatchNorm2d(c_out), nn.ReLU(),
                                                 nn.MaxPool2d(2)))
                size //= 2
            self.fc = nn.Linear(channels[-1] * size * size, 10)

        def forward(self, x):
            for stage in self.stages:
                x = stage(x)
            return self.fc(x.flatten(1))

    class ResNet(nn.Module):
        def __init__(self, widths=(8, 16, 32, 64)):
            super().__init__()
            self.stem = nn.Conv2d(input_shape[0], widths[0], 3, 1, 1, bias=False)
            self.stem_bn = nn.BatchNorm2d(widths[0])
            blocks, c_in = [], widths[0]
            for stage, width in enumerate(widths):
                for index in range(2):
                    blocks.append(Block(c_in, width, 2 if stage and not index else 1))
                    c_in = width
            self.blocks = nn.ModuleList(blocks)
            self.fc = nn.Linear(widths[-1], 10)

        def forward(self, x):
            x = self.stem_bn(self.stem(x)).relu()
            for block in self.blocks:
                x = block(x)
            return self.fc(x.mean(dim=(2, 3)))

    return {"convnet": ConvNet, "resnet": ResNet}[model]()


def _conv(name, source, conv):
    weight = conv.weight.detach().double().numpy()
    return Node("conv", name, {"input": source, "stride": conv.stride[0],
                               "padding": conv.padding[0], "relu": False},
                {"weight": weight, "bias": np.zeros(weight.shape[0])})


def _batchnorm(name, source, bn):
    return Node("batchnorm", name, {"input": source, "eps": float(bn.eps)},
                {"gamma": bn.weight.detach().double().numpy(),
                 "beta": bn.bias.detach().double().numpy(),
                 "mean": bn.running_mean.double().numpy(),
                 "var": bn.running_var.double().numpy()})


def _dense(name, source, linear):
    return Node("dense", name, {"input": source, "relu": False},
                {"weight": linear.weight.detach().double().numpy().T,
                 "bias": linear.bias.detach().double().numpy()})


def export(module, model, input_shape, info):
    """The trained module as a :class:`golden.network.Network` (batch norms unfolded)."""
    nodes = []

    def add(node):
        nodes.append(node)
        return node.name

    if model == "convnet":
        x = "input"
        for i, stage in enumerate(module.stages):
            x = add(_conv(f"conv{i}", x, stage[0]))
            x = add(_batchnorm(f"bn{i}", x, stage[1]))
            x = add(Node("relu", f"relu{i}", {"input": x}))
            x = add(Node("maxpool", f"pool{i}", {"input": x, "kernel": 2, "stride": 2}))
        x = add(Node("flatten", "flatten", {"input": x}))
        add(_dense("fc", x, module.fc))
    else:
        x = add(_conv("stem", "input", module.stem))
        x = add(_batchnorm("stem_bn", x, module.stem_bn))
        x = add(Node("relu", "stem_relu", {"input": x}))
        for i, block in enumerate(module.blocks):
            p = f"block{i}"
            y = add(_conv(f"{p}_conv1", x, block.conv1))
            y = add(_batchnorm(f"{p}_bn1", y, block.bn1))
            y = add(Node("relu", f"{p}_relu1", {"input": y}))
            y = add(_conv(f"{p}_conv2", y, block.conv2))
            y = add(_batchnorm(f"{p}_bn2", y, block.bn2))
            if block.project is not None:
                x = add(_conv(f"{p}_project", x, block.project[0]))
                x = add(_batchnorm(f"{p}_project_bn", x, block.project[1]))
            y = add(Node("add", f"{p}_add", {"inputs": [y, x], "relu": False}))
            x = add(Node("relu", f"{p}_relu2", {"input": y}))
        x = add(Node("avgpool", "pool", {"input": x}))
        x = add(Node("flatten", "flatten", {"input": x}))
        add(_dense("fc", x, module.fc))
    return Network(nodes, input_shape, info)


def _modules_by_node(module, model):
    """The module's convolutions, batch norms and dense layer by the node names of
    :func:`export`."""
    if model == "convnet":
        layers = {}
        for i, stage in enumerate(module.stages):
            layers[f"conv{i}"], layers[f"bn{i}"] = stage[0], stage[1]
    else:
        layers = {"stem": module.stem, "stem_bn": module.stem_bn}
        for i, block in enumerate(module.blocks):
            p = f"block{i}"
            layers.update({f"{p}_conv1": block.conv1, f"{p}_bn1": block.bn1,
                           f"{p}_conv2": block.conv2, f"{p}_bn2": block.bn2})
            if block.project is not None:
                layers[f"{p}_project"], layers[f"{p}_project_bn"] = block.project
    layers["fc"] = module.fc
    return layers


def load_weights(network):
    """The PyTorch module (eval mode) of a network that :func:`export` wrote (its info names
    the model): the inverse of :func:`export`."""
    import torch

    model = network.info["model"]
    module = build(model, network.input_shape)
    nodes = {node.name: node for node in network.nodes}
    with torch.no_grad():
        for name, layer in _modules_by_node(module, model).items():
            node = nodes[name]
            if node.op == "conv":
                if node["bias"].any():
                    raise ValueError(f"node {name!r}: the {model}'s convolutions have no "
                                     f"bias, this one has")
                layer.weight.copy_(torch.from_numpy(node["weight"]))
            elif node.op == "batchnorm":
                layer.eps = node["eps"]
                for key, target in (("gamma", layer.weight), ("beta", layer.bias),
                                    ("mean", layer.running_mean), ("var", layer.running_var)):
                    target.copy_(torch.from_numpy(node[key]))
            else:
                layer.weight.copy_(torch.from_numpy(node["weight"].T))
                layer.bias.copy_(torch.from_numpy(node["bias"]))
    return module.eval()


def train(dataset, model, seed, *, epochs=None, progress=print):
    """Train one network; returns the exported :class:`Network` (float test accuracy in its
    ``info``)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    x, y = load(dataset, "train")
    x_test, y_test = load(dataset, "test")
    input_shape = x.shape[1:]
    module = build(model, input_shape)
    epochs = epochs or EPOCHS[(dataset, model)]
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    steps = epochs * -(-len(x) // 128)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.monotonic()
    for epoch in range(epochs):
        module.train()
        order = torch.from_numpy(generator.permutation(len(x)))
        total = 0.0
        for i in range(0, len(x), 128):
            index = order[i:i + 128]
            loss = torch.nn.functional.cross_entropy(module(xt[index]), yt[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
        progress(f"[{dataset} {model} seed {seed}] epoch {epoch + 1}/{epochs}: loss "
                 f"{total / len(x):.4f} ({time.monotonic() - start:.0f} s)")
    module.eval()
    info = {"dataset": dataset, "model": model, "seed": seed, "epochs": epochs,
            "torch": torch.__version__, "trained_by": "scripts.train_models",
            "train_images": len(x)}
    network = export(module, model, input_shape, info)
    with torch.no_grad():
        logits = torch.cat([module(torch.from_numpy(x_test[i:i + 1000]))
                            for i in range(0, len(x_test), 1000)]).double().numpy()
    exported = np.concatenate([network.forward(x_test[i:i + 1000])
                               for i in range(0, len(x_test), 1000)])
    # The NumPy graph must compute what PyTorch computed (float32 vs float64 only).
    if not np.allclose(exported, logits, rtol=1e-3, atol=1e-3):
        raise RuntimeError(f"the exported {model} disagrees with PyTorch by up to "
                           f"{np.abs(exported - logits).max():.3g}")
    network.info["float_test_accuracy"] = float(np.mean(np.argmax(exported, 1) == y_test))
    return network
