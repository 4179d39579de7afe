"""Float networks as graphs of layers: reference inference, batch-norm folding, portable files.

A :class:`Network` is a list of nodes in topological order; each reads the outputs of earlier
nodes by name (``"input"`` is the image batch, ``(B, C, H, W)``) and the last node's output is
the logits. Node kinds:

========== ============================================= =====================================
op         fields                                        arrays
========== ============================================= =====================================
conv       input, stride, padding, relu; optional groups weight (OC, C/groups, KH, KW),
           (padding: one int, or [top, left, bottom,     bias (OC,)
           right]; groups = C is depthwise)
dense      input, relu                                   weight (K, N), bias (N,)
batchnorm  input, eps                                    gamma, beta, mean, var (C,)
relu       input; optional max (a ceiling: ReLU6 is 6)
maxpool    input, kernel, stride
avgpool    input; optional kernel and stride (without
           them global: (B, C, H, W) to (B, C, 1, 1))
add        inputs (two names), relu
flatten    input
========== ============================================= =====================================

The ``relu`` field of conv, dense and add is ``false``, ``true`` (``max(y, 0)``) or a positive
number, the ceiling of a clipped ReLU (``min(max(y, 0), relu)``; ReLU6 is 6):
:func:`relu_ceiling` reads it.

:func:`fold` folds every batch norm into the convolution before it and every ReLU into the
node before it (conv, dense or add), which is what quantization and the hardware run.
Files are ``.npz``: a JSON ``graph`` string, an ``info`` string and ``<node>.<array>`` arrays,
loaded without pickle. Evaluation needs NumPy only.
"""

import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ._checks import check_int, real_array
from ._io import read_npz
from .conv import group_slices, im2col, padding_sides

__all__ = ["Node", "Network", "fold", "save_network", "load_network", "network_arrays",
           "network_from_arrays", "relu_ceiling", "average_count", "OPS", "OPTIONAL_FIELDS"]

OPS = {
    "conv": ({"input", "stride", "padding", "relu"}, ("weight", "bias")),
    "dense": ({"input", "relu"}, ("weight", "bias")),
    "batchnorm": ({"input", "eps"}, ("gamma", "beta", "mean", "var")),
    "relu": ({"input"}, ()),
    "maxpool": ({"input", "kernel", "stride"}, ()),
    "avgpool": ({"input"}, ()),
    "add": ({"inputs", "relu"}, ()),
    "flatten": ({"input"}, ()),
}
OPTIONAL_FIELDS = {"conv": {"groups"}, "relu": {"max"}, "avgpool": {"kernel", "stride"}}


def relu_ceiling(node):
    """The ReLU of a conv, dense or add node: ``None`` (none), ``math.inf`` (plain ReLU) or
    the clipped ReLU's ceiling."""
    relu = node.attrs.get("relu", False)
    if relu is False:
        return None
    return math.inf if relu is True else float(relu)


def _check_relu(where, relu):
    if relu is True or relu is False:
        return
    if (isinstance(relu, bool) or not isinstance(relu, (int, float))
            or not (math.isfinite(relu) and relu > 0)):
        raise ValueError(f"{where}: relu must be false, true or a positive finite ceiling "
                         f"(ReLU6: 6), not {relu!r}")


@dataclass(frozen=True)
class Node:
    """One layer: ``op``, its ``name``, its fields (``attrs``) and parameter arrays."""

    op: str
    name: str
    attrs: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    @property
    def inputs(self):
        return tuple(self.attrs["inputs"]) if "inputs" in self.attrs else (self.attrs["input"],)

    def __getitem__(self, key):
        return self.arrays[key] if key in self.arrays else self.attrs[key]


def _check_node(node, shapes):
    """Validate ``node`` against the shapes of earlier outputs; return its output shape."""
    where = f"node {node.name!r} ({node.op})"
    if node.op not in OPS:
        raise ValueError(f"{where}: unknown op; known ops: {', '.join(OPS)}")
    fields, arrays = OPS[node.op]
    optional = OPTIONAL_FIELDS.get(node.op, set())
    if (not fields <= set(node.attrs) <= fields | optional
            or set(node.arrays) != set(arrays)):
        extra = f" (optional: {sorted(optional)})" if optional else ""
        raise ValueError(f"{where}: needs fields {sorted(fields)}{extra} and arrays "
                         f"{list(arrays)}, has {sorted(node.attrs)} and {sorted(node.arrays)}")
    if "relu" in node.attrs:
        _check_relu(where, node.attrs["relu"])
    if "max" in node.attrs:
        _check_relu(f"{where}: max", node.attrs["max"])
        if node.attrs["max"] is True or node.attrs["max"] is False:
            raise ValueError(f"{where}: max must be a positive finite number, not "
                             f"{node.attrs['max']!r}")
    if node.name in shapes:
        raise ValueError(f"{where}: the name is used twice")
    for name in node.inputs:
        if name not in shapes:
            raise ValueError(f"{where}: input {name!r} is not an earlier node")
    for key, value in node.arrays.items():
        if not np.isfinite(value).all():
            raise ValueError(f"{where}: {key} has NaN or infinite values")
    shape = shapes[node.inputs[0]]

    def need(condition, message):
        if not condition:
            raise ValueError(f"{where}: {message}")

    if node.op == "conv":
        w, b = node["weight"], node["bias"]
        groups = check_int(f"{where}: groups", node.attrs.get("groups", 1), 1, 1 << 16)
        need(len(shape) == 3 and w.ndim == 4 and w.shape[1] * groups == shape[0]
             and w.shape[0] % groups == 0 and b.shape == (w.shape[0],),
             f"weight (OC, C/groups, KH, KW) with OC divisible by groups = {groups} and bias "
             f"(OC,) must fit input (C, H, W) = {shape}, not {w.shape} and {b.shape}")
        stride = check_int(f"{where}: stride", node["stride"], 1, 64)
        top, left, bottom, right = padding_sides(node["padding"], f"{where}: padding")
        size = [(s + before + after - k) // stride + 1 for s, k, before, after in
                zip(shape[1:], w.shape[2:], (top, left), (bottom, right))]
        need(min(size) >= 1, f"the kernel does not fit the input {shape}")
        return (w.shape[0], *size)
    if node.op == "dense":
        w, b = node["weight"], node["bias"]
        need(len(shape) == 1 and w.ndim == 2 and w.shape[0] == shape[0]
             and b.shape == (w.shape[1],),
             f"weight (K, N) and bias (N,) must fit input ({shape}), not {w.shape} and "
             f"{b.shape}")
        return (w.shape[1],)
    if node.op == "batchnorm":
        need(all(node[key].shape == (shape[0],) for key in ("gamma", "beta", "mean", "var"))
             and (node["var"] >= 0).all() and node["eps"] > 0,
             f"gamma, beta, mean, var must be ({shape[0]},) with var >= 0 and eps > 0")
        return shape
    if node.op == "maxpool":
        kernel = check_int(f"{where}: kernel", node["kernel"], 1, 64)
        stride = check_int(f"{where}: stride", node["stride"], 1, 64)
        need(len(shape) == 3 and min(shape[1:]) >= kernel,
             f"a {kernel}x{kernel} window does not fit the input {shape}")
        return (shape[0], *((s - kernel) // stride + 1 for s in shape[1:]))
    if node.op == "avgpool":
        need(len(shape) == 3, f"needs a (C, H, W) input, not {shape}")
        if "kernel" not in node.attrs and "stride" not in node.attrs:
            return (shape[0], 1, 1)
        need("kernel" in node.attrs and "stride" in node.attrs,
             "a windowed average pool needs both kernel and stride")
        kernel = check_int(f"{where}: kernel", node["kernel"], 1, 64)
        stride = check_int(f"{where}: stride", node["stride"], 1, 64)
        need(min(shape[1:]) >= kernel,
             f"a {kernel}x{kernel} window does not fit the input {shape}")
        return (shape[0], *((s - kernel) // stride + 1 for s in shape[1:]))
    if node.op == "add":
        need(len(node.inputs) == 2 and shapes[node.inputs[1]] == shape,
             f"needs two inputs of the same shape, not "
             f"{[shapes[name] for name in node.inputs]}")
        return shape
    if node.op == "flatten":
        return (int(np.prod(shape)),)
    return shape  # relu


class Network:
    """A validated float network for inputs of shape ``input_shape`` = (C, H, W)."""

    def __init__(self, nodes, input_shape, info=None):
        self.nodes = list(nodes)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.info = dict(info or {})
        if not self.nodes:
            raise ValueError("a network needs at least one node")
        shapes = {"input": self.input_shape}
        for node in self.nodes:
            shapes[node.name] = _check_node(node, shapes)
        self.shapes = shapes

    @property
    def output(self):
        return self.nodes[-1].name

    def consumers(self, name):
        return [node for node in self.nodes if name in node.inputs]

    def check_input(self, x):
        """``x`` as float64 if it is a finite batch of inputs of this network, else an error."""
        x = real_array("the input", x)
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"the network takes inputs (B, {', '.join(map(str, self.input_shape))}), "
                             f"not {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("the input has NaN or infinite values")
        return x

    def forward(self, x, *, keep=False):
        """Float64 inference; the logits, or with ``keep`` every node's output by name."""
        values = {"input": self.check_input(x)}
        for node in self.nodes:
            values[node.name] = float_op(node, [values[name] for name in node.inputs])
        return values if keep else values[self.output]

    def predict(self, x, batch=1000):
        return np.concatenate([np.argmax(self.forward(x[i:i + batch]), axis=-1)
                               for i in range(0, len(x), batch)])


def float_op(node, inputs):
    """One node on float arrays."""
    x = inputs[0]
    if node.op == "conv":
        w = node["weight"]
        parts = []
        for channels, columns in group_slices(x.shape[1], w.shape[0],
                                              node.attrs.get("groups", 1)):
            patches, (oh, ow) = im2col(x[:, channels], w.shape[2:], stride=node["stride"],
                                       padding=node["padding"])
            parts.append(patches @ w[columns].reshape(len(w[columns]), -1).T)
        y = np.concatenate(parts, axis=-1) + node["bias"]
        y = y.reshape(x.shape[0], oh, ow, -1).transpose(0, 3, 1, 2)
    elif node.op == "dense":
        y = x @ node["weight"] + node["bias"]
    elif node.op == "batchnorm":
        scale = node["gamma"] / np.sqrt(node["var"] + node["eps"])
        y = (x - node["mean"][:, None, None]) * scale[:, None, None] + node["beta"][:, None, None]
    elif node.op == "relu":
        y = np.maximum(x, 0)
        if "max" in node.attrs:
            y = np.minimum(y, float(node["max"]))
    elif node.op == "maxpool":
        y = pool_windows(x, node["kernel"], node["stride"]).max(axis=-1)
    elif node.op == "avgpool":
        y = (pool_windows(x, node["kernel"], node["stride"]).mean(axis=-1)
             if "kernel" in node.attrs else x.mean(axis=(2, 3), keepdims=True))
    elif node.op == "add":
        y = x + inputs[1]
    else:  # flatten
        y = x.reshape(len(x), -1)
    ceiling = relu_ceiling(node)
    if ceiling is not None:
        y = np.maximum(y, 0)
        if ceiling < math.inf:
            y = np.minimum(y, ceiling)
    return y


def average_count(node, shapes):
    """How many values an avgpool node averages: its kernel², or its whole input's H * W
    (``shapes``: the network's output shapes by name)."""
    if "kernel" in node.attrs:
        return int(node["kernel"]) ** 2
    return int(np.prod(shapes[node.inputs[0]][1:]))


def pool_windows(x, kernel, stride):
    """The ``kernel x kernel`` windows of ``x`` (B, C, H, W) as a last axis of length kernel²."""
    B, C, H, W = x.shape
    oh, ow = (H - kernel) // stride + 1, (W - kernel) // stride + 1
    windows = [x[:, :, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
               for ky in range(kernel) for kx in range(kernel)]
    return np.stack(windows, axis=-1)


def fold(network):
    """The same function with every batch norm folded into the conv before it and every
    ReLU folded into the conv, dense or add before it (these must be that node's only use)."""
    nodes = {node.name: node for node in network.nodes}
    order = [node.name for node in network.nodes]
    renamed = {}
    for node in network.nodes:
        if node.op not in ("batchnorm", "relu"):
            continue
        source = renamed.get(node.inputs[0], node.inputs[0])
        producer = nodes.get(source)
        wanted = ("conv",) if node.op == "batchnorm" else ("conv", "dense", "add")
        if producer is None or producer.op not in wanted or producer.attrs.get("relu"):
            raise ValueError(f"cannot fold {node.op} {node.name!r}: it must follow a "
                             f"{' or '.join(wanted)} without ReLU")
        if len(network.consumers(node.inputs[0])) != 1:
            raise ValueError(f"cannot fold {node.op} {node.name!r}: {node.inputs[0]!r} has "
                             f"other consumers")
        if node.op == "batchnorm":
            scale = node["gamma"] / np.sqrt(node["var"] + node["eps"])
            weight = producer["weight"] * scale[:, None, None, None]
            bias = (producer["bias"] - node["mean"]) * scale + node["beta"]
            nodes[source] = replace(producer, arrays={"weight": weight, "bias": bias})
        else:
            nodes[source] = replace(producer, attrs={**producer.attrs,
                                                     "relu": node.attrs.get("max", True)})
        renamed[node.name] = source
        order.remove(node.name)
    result = []
    for name in order:
        node = nodes[name]
        attrs = dict(node.attrs)
        if "input" in attrs:
            attrs["input"] = renamed.get(attrs["input"], attrs["input"])
        if "inputs" in attrs:
            attrs["inputs"] = [renamed.get(n, n) for n in attrs["inputs"]]
        result.append(replace(node, attrs=attrs))
    return Network(result, network.input_shape, {**network.info, "folded": True})


def network_arrays(network, prefix=""):
    """The arrays of a network file (:func:`save_network`), keys under ``prefix``."""
    graph = [{"op": node.op, "name": node.name, **node.attrs} for node in network.nodes]
    arrays = {f"{prefix}{node.name}.{key}": np.asarray(value, dtype=np.float32)
              for node in network.nodes for key, value in node.arrays.items()}
    arrays[f"{prefix}graph"] = np.array(json.dumps({"input_shape": network.input_shape,
                                                    "nodes": graph}))
    arrays[f"{prefix}info"] = np.array(json.dumps(network.info, sort_keys=True))
    return arrays


def save_network(path, network):
    np.savez(path, **network_arrays(network))


def load_network(path):
    """Load a network saved by :func:`save_network`; clear errors for a missing, corrupt or
    inconsistent file."""
    return network_from_arrays(read_npz(path, "model"), path)


def network_from_arrays(contents, path, prefix=""):
    """The network stored in ``contents`` (the arrays of a file at ``path``) under
    ``prefix``; a clear error naming the file when they do not hold one."""
    if f"{prefix}graph" not in contents or f"{prefix}info" not in contents:
        raise ValueError(f"{path} is not a network file: it needs '{prefix}graph' and "
                         f"'{prefix}info', has {sorted(contents)[:8]}")
    try:
        graph = json.loads(str(contents[f"{prefix}graph"]))
        info = json.loads(str(contents[f"{prefix}info"]))
        nodes = []
        for entry in graph["nodes"]:
            entry = dict(entry)
            op, name = entry.pop("op"), entry.pop("name")
            keys = OPS[op][1] if op in OPS else ()
            nodes.append(Node(op, name, entry, {
                key: np.asarray(contents[f"{prefix}{name}.{key}"], dtype=np.float64)
                for key in keys}))
        input_shape = graph["input_shape"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed network graph ({type(error).__name__}: "
                         f"{error})") from None
    try:
        return Network(nodes, input_shape, info)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from None
