"""ONNX models as :class:`golden.network.Network` graphs, exactly or not at all.

:func:`import_onnx` reads a model file (or a loaded ``onnx.ModelProto``) with the ``onnx``
package (no PyTorch) and builds the same function as a network of the ops in
:data:`golden.network.OPS`, in NCHW layout:

============================== ===========================================================
ONNX                           becomes
============================== ===========================================================
Conv                           conv (dilation 1, equal strides, zero padding, symmetric or
                               not; grouped and depthwise too); its bias
Gemm, MatMul (constant weight) dense (``alpha``, ``beta`` and ``transB`` applied)
Add of two tensors             add
Add, Sub, Mul, Div by a        folded into the conv or dense before it (per output channel;
constant                       the producer's only use); on the graph input: the input
                               normalisation, a float preprocessing step (below)
Relu; Clip(min=0, max > 0 or   relu (a finite max is the ceiling of a clipped ReLU: ReLU6
no max)                        is Clip(0, 6))
BatchNormalization             batchnorm (inference mode)
MaxPool                        maxpool (square, no padding, no ceil mode)
GlobalAveragePool, AveragePool avgpool (AveragePool: square, equal strides, no padding,
                               no ceil mode)
ReduceMean over H and W        avgpool (global), and a flatten when ``keepdims`` is 0 (what
                               exporters emit for ``x.mean(dim=(2, 3))``)
Flatten (axis 1); Reshape to   flatten (a batch of 1 fixed at export counts as the batch);
(batch, K)                     the shape subgraphs of exporters (Shape, Gather, Unsqueeze,
                               Squeeze, Concat, Slice, Cast, Constant) are evaluated at import
Dropout, Identity              dropped (inference)
Softmax, LogSoftmax at the end dropped when over the classes (axis 1 or -1): the class is
                               the argmax either way (recorded in ``info["dropped_final"]``)
============================== ===========================================================

Anything else is a ``ValueError`` naming the op, the node and what is supported; nothing is
dropped or approximated silently. An input normalisation (constants that Sub, Add, Mul or Div
apply to the graph input before its first layer) is not folded into the first convolution,
which is inexact at zero-padded borders: it is kept as a per-channel affine map, ``x * scale
+ offset``, in ``network.info["preprocess"]`` that :func:`preprocess` applies (in float, on
the host, before the input is quantized).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .conv import conv_output_size
from .network import Network, Node, fold

__all__ = ["import_onnx", "preprocess", "SUPPORTED_OPS"]

_SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Constant")
SUPPORTED_OPS = tuple(sorted((
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Clip",
    "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean",
    "Flatten", "Reshape",
    "Dropout", "Identity", "Softmax", "LogSoftmax") + _SHAPE_OPS))
_OPSETS = (7, 23)


class _Batch:
    """The batch dimension in a shape computed at import: symbolic, only moved around."""

    def __repr__(self):
        return "batch"


BATCH = _Batch()


@dataclass
class _Tensor:
    """A value of the network: the output of network node ``node`` (None: the graph input
    before its preprocessing ends), of shape ``shape`` (without the batch)."""

    node: str | None
    shape: tuple


def preprocess(network, x):
    """``x`` with the network's input normalisation applied (``info["preprocess"]``: per
    channel ``x * scale + offset``), or ``x`` itself when it has none."""
    affine = network.info.get("preprocess")
    if affine is None:
        return x
    x = np.asarray(x, dtype=np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x * np.reshape(affine["scale"], shape)) + np.reshape(affine["offset"], shape)


def import_onnx(model, *, name=None):
    """The :class:`~golden.network.Network` computing the ONNX ``model`` (a path or an
    ``onnx.ModelProto``); a ``ValueError`` naming the node when something cannot be imported
    exactly. The network is returned unfolded; it is checked to fold."""
    import onnx
    from onnx import numpy_helper

    if not isinstance(model, onnx.ModelProto):
        path = Path(model)
        if path.is_dir():
            raise ValueError(f"ONNX model {path} is a directory, not an .onnx file")
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} does not exist")
        try:
            model = onnx.load(str(path))
        except Exception as error:  # the onnx package raises many kinds for a bad file
            raise ValueError(f"{path} is not a readable ONNX model ({type(error).__name__}: "
                             f"{error})") from None
        name = name or path.stem
    label = name or "the model"
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ValueError(f"{label} has no ONNX operator set (opset_import): is it an ONNX "
                         f"model? Opsets {_OPSETS[0]} to {_OPSETS[1]} are supported")
    if not _OPSETS[0] <= opset <= _OPSETS[1]:
        raise ValueError(f"ONNX opset {opset} is not supported: opsets {_OPSETS[0]} to "
                         f"{_OPSETS[1]} are")
    try:  # undefined inputs, unsorted nodes, bad attributes
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        raise ValueError(f"{label} is not a valid ONNX model: {_one_line(error)}") from None
    try:
        return _Importer(model.graph, numpy_helper, name or model.graph.name or "onnx",
                         opset).run()
    except ValueError as error:
        # A node the importer refuses may only be where an earlier node's bad shape shows:
        # ONNX's own shape inference names the node at fault.
        try:
            onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        except onnx.shape_inference.InferenceError as inferred:
            raise ValueError(f"{error}; ONNX's shape inference also fails: "
                             f"{_one_line(inferred)}") from None
        raise


def _one_line(error):
    return " ".join(str(error).split())


class _Importer:
    def __init__(self, graph, numpy_helper, name, opset):
        self.graph, self.helper, self.name, self.opset = graph, numpy_helper, name, opset
        self.values = {}      # ONNX value name -> np.ndarray (constant) or _Tensor
        self.nodes = {}       # network node name -> [op, name, attrs, arrays] (mutable until built)
        self.order = []
        self.uses = {}        # ONNX value name -> number of consuming ONNX nodes
        self.scale = self.offset = None  # the input normalisation, per channel
        self.input_taken = False  # a layer has read the graph input: normalisation is over
        self.dropped = []

    # -- graph -------------------------------------------------------------------------
    def run(self):
        for tensor in self.graph.initializer:
            self.values[tensor.name] = self.helper.to_array(tensor)
        inputs = [i for i in self.graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise ValueError(f"the model must have one input, not {len(inputs)}: "
                             f"{[i.name for i in inputs]}")
        input_shape = self._input_shape(inputs[0])
        self.values[inputs[0].name] = _Tensor(None, input_shape)
        for node in self.graph.node:
            for name in node.input:
                self.uses[name] = self.uses.get(name, 0) + 1
        for node in self.graph.node:
            self._node(node)
        if len(self.graph.output) != 1:
            raise ValueError(f"the model must have one output, not {len(self.graph.output)}")
        out = self.values.get(self.graph.output[0].name)
        if not isinstance(out, _Tensor) or out.node is None:
            raise ValueError("the model's output is not computed by any layer")
        if out.node != self.order[-1]:
            raise ValueError(f"the model computes nodes after its output ({self.order[-1]!r} "
                             f"after {out.node!r}) that feed nothing")
        if len(out.shape) != 1:
            raise ValueError(f"the model's output must be (batch, classes), not (batch, "
                             f"{', '.join(map(str, out.shape))})")
        info = {"source": "onnx", "name": self.name}
        if self.scale is not None:
            info["preprocess"] = {"scale": self.scale.tolist(), "offset": self.offset.tolist()}
        if self.dropped:
            info["dropped_final"] = self.dropped
        shape = input_shape if len(input_shape) == 3 else (input_shape[0], 1, 1)
        nodes = [Node(*self.nodes[name]) for name in self.order]
        network = Network(nodes, shape, info)
        fold(network)  # a clear error now if a batch norm or ReLU cannot fold
        return network

    def _input_shape(self, value):
        dims = value.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) not in (2, 4) or any(s is None or s < 1 for s in shape[1:]):
            raise ValueError(f"the model's input {value.name!r} must be (batch, C, H, W) or "
                             f"(batch, K) with fixed C, H, W or K, not {shape}")
        return tuple(shape[1:])

    # -- helpers -----------------------------------------------------------------------
    def _fail(self, node, message):
        raise ValueError(f"ONNX node {node.name or '(unnamed)'!r} ({node.op_type}): {message}")

    def _attrs(self, node):
        import onnx

        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def _const(self, node, name, what):
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            self._fail(node, f"{what} must be a constant (an initializer or computed from "
                             f"constants)")
        return value

    def _tensor(self, node, name):
        value = self.values.get(name)
        if value is None:
            self._fail(node, f"input {name!r} is not defined before this node")
        if not isinstance(value, _Tensor):
            self._fail(node, "needs a tensor computed by the network, not a constant")
        if value.node is None and len(value.shape) == 1 and node.op_type not in (
                "Gemm", "MatMul", "Flatten", "Reshape") and node.op_type not in _ELEMENTWISE:
            self._fail(node, "a (batch, K) input can only feed Gemm, MatMul, Flatten or "
                             "Reshape")
        return value

    def _network_input(self, node, value):
        """The network node name that reads ``value``; for the graph input this ends the
        preprocessing (later arithmetic on the raw input cannot be folded)."""
        if value.node is not None:
            return value.node
        self.input_taken = True
        return "input"

    def _add(self, node, op, attrs, arrays, shape, output=None, base=None):
        name = self._unique(node, base)
        self.nodes[name] = [op, name, attrs, arrays]
        self.order.append(name)
        self.values[output or node.output[0]] = _Tensor(name, tuple(shape))
        return name

    def _unique(self, node, base=None):
        base = "".join(c if c.isalnum() else "_" for c in (base or node.name or node.op_type))
        base = base.strip("_") or node.op_type.lower()
        name, k = base, 1
        while name in self.nodes or name == "input":
            name, k = f"{base}_{k}", k + 1
        return name

    def _flatten_input(self, node, value):
        """A dense layer's input name: a (batch, K) graph input becomes (K, 1, 1) + flatten."""
        if value.node is None and len(value.shape) == 1:
            return self._network_input(node, value)
        if len(value.shape) != 1:
            self._fail(node, f"needs a (batch, K) input; flatten the (batch, "
                             f"{', '.join(map(str, value.shape))}) tensor first")
        return value.node

    # -- ops ---------------------------------------------------------------------------
    def _node(self, node):
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            self._fail(node, f"custom domain {node.domain!r} is not supported")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            self._fail(node, f"op {op} is not supported; supported ops: "
                             f"{', '.join(SUPPORTED_OPS)}")
        if self._after_final(node):
            self._fail(node, f"follows a final {self.dropped[-1]}, which must be the last "
                             f"node")
        handler(node)

    def _after_final(self, node):
        return bool(self.dropped) and any(
            isinstance(self.values.get(i), _Tensor) for i in node.input)

    def _op_Constant(self, node):
        attrs = self._attrs(node)
        if "value" not in attrs:
            self._fail(node, f"only the 'value' attribute is supported, not {sorted(attrs)}")
        self.values[node.output[0]] = self.helper.to_array(attrs["value"])

    def _op_Identity(self, node):
        self.values[node.output[0]] = self.values[node.input[0]]

    def _op_Dropout(self, node):
        self._op_Identity(node)

    def _op_Cast(self, node):
        import onnx

        value = self.values.get(node.input[0])
        to = onnx.helper.tensor_dtype_to_np_dtype(self._attrs(node)["to"])
        if isinstance(value, np.ndarray):
            self.values[node.output[0]] = value if value.dtype == object else value.astype(to)
        elif np.issubdtype(to, np.floating):
            self._op_Identity(node)
        else:
            self._fail(node, "a cast of a tensor to a non-float type is not supported")

    def _op_Shape(self, node):
        value = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        full = np.array([BATCH, *value.shape], dtype=object)
        self.values[node.output[0]] = full[attrs.get("start", 0):attrs.get("end", None)]

    def _op_Gather(self, node):
        data = self._const(node, node.input[0], "the data")
        indices = self._const(node, node.input[1], "the indices")
        taken = np.take(data, indices.astype(np.int64), axis=self._attrs(node).get("axis", 0))
        self.values[node.output[0]] = (taken if isinstance(taken, np.ndarray)
                                       else np.array(taken, dtype=object))

    def _op_Unsqueeze(self, node):
        data = self._const(node, node.input[0], "the data")
        axes = (self._const(node, node.input[1], "the axes") if len(node.input) > 1
                else self._attrs(node)["axes"])
        result = data
        for axis in sorted(int(a) % (data.ndim + len(axes)) for a in np.ravel(axes)):
            result = np.expand_dims(result, axis)
        self.values[node.output[0]] = result

    def _op_Squeeze(self, node):
        data = self._const(node, node.input[0], "the data")
        axes = (self._const(node, node.input[1], "the axes") if len(node.input) > 1
                else self._attrs(node).get("axes"))
        self.values[node.output[0]] = (np.squeeze(data) if axes is None else
                                       np.squeeze(data, tuple(int(a) for a in np.ravel(axes))))

    def _op_Concat(self, node):
        parts = [self._const(node, name, "every input") for name in node.input]
        self.values[node.output[0]] = np.concatenate(
            [np.atleast_1d(p) for p in parts], axis=self._attrs(node).get("axis", 0))

    def _op_Slice(self, node):
        data = self._const(node, node.input[0], "the data")
        attrs = self._attrs(node)
        if len(node.input) > 1:
            starts, ends = (self._const(node, node.input[i], "starts and ends") for i in (1, 2))
            axes = (self._const(node, node.input[3], "axes") if len(node.input) > 3
                    and node.input[3] else range(len(starts)))
            steps = (self._const(node, node.input[4], "steps") if len(node.input) > 4
                     and node.input[4] else [1] * len(starts))
        else:
            starts, ends = attrs["starts"], attrs["ends"]
            axes, steps = attrs.get("axes", range(len(starts))), [1] * len(starts)
        index = [slice(None)] * data.ndim
        for start, end, axis, step in zip(starts, ends, axes, steps):
            index[int(axis)] = slice(int(start), int(min(end, 2 ** 62)), int(step))
        self.values[node.output[0]] = data[tuple(index)]

    def _op_Conv(self, node):
        x = self._tensor(node, node.input[0])
        weight = self._const(node, node.input[1], "the weight").astype(np.float64)
        bias = (self._const(node, node.input[2], "the bias").astype(np.float64)
                if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0]))
        attrs = self._attrs(node)
        if len(x.shape) != 3 or weight.ndim != 4:
            self._fail(node, f"only 2-D convolutions of (batch, C, H, W) are supported, not an "
                             f"input (batch, {', '.join(map(str, x.shape))})")
        groups = int(attrs.get("group", 1))
        if groups < 1 or x.shape[0] % groups or weight.shape[0] % groups:
            self._fail(node, f"group = {groups} must divide the {x.shape[0]} input and "
                             f"{weight.shape[0]} output channels")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            self._fail(node, f"dilations {attrs['dilations']} are not supported (only 1)")
        strides = list(attrs.get("strides", [1, 1]))
        if strides[0] != strides[1]:
            self._fail(node, f"strides {strides} differ; only equal strides are supported")
        pads = [int(p) for p in self._pads(node, attrs, weight.shape[2:], x.shape[1:],
                                           strides[0])]
        if weight.shape[1] * groups != x.shape[0]:
            self._fail(node, f"weight {weight.shape} does not fit {x.shape[0]} input channels "
                             f"in {groups} group(s)")
        # ONNX pads are (top, left, bottom, right), as the network's conv node takes them
        try:
            shape = (weight.shape[0], *(conv_output_size(s, k, strides[0], before, after)
                                        for s, k, before, after in
                                        zip(x.shape[1:], weight.shape[2:], pads[:2], pads[2:])))
        except ValueError as error:
            self._fail(node, str(error))
        fields = {"input": self._network_input(node, x), "stride": strides[0],
                  "padding": pads[0] if len(set(pads)) == 1 else pads, "relu": False}
        if groups != 1:
            fields["groups"] = groups
        self._add(node, "conv", fields, {"weight": weight, "bias": bias}, shape)

    def _pads(self, node, attrs, kernel, size, stride):
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto == "VALID":
            return [0, 0, 0, 0]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for k, s in zip(kernel, size):
                total = max(0, (-(-s // stride) - 1) * stride + k - s)
                pads.append((total // 2, total - total // 2) if auto == "SAME_UPPER"
                            else (total - total // 2, total // 2))
            return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
        if auto != "NOTSET":
            self._fail(node, f"auto_pad {auto!r} is not supported")
        return list(attrs.get("pads", [0, 0, 0, 0]))

    def _op_Gemm(self, node):
        x = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        if attrs.get("transA", 0):
            self._fail(node, "transA = 1 is not supported")
        b = self._const(node, node.input[1], "B (the weight)").astype(np.float64)
        if attrs.get("transB", 0):
            b = b.T
        weight = attrs.get("alpha", 1.0) * b
        bias = (attrs.get("beta", 1.0) * self._const(node, node.input[2], "C (the bias)")
                .astype(np.float64) if len(node.input) > 2 and node.input[2]
                else np.zeros(weight.shape[1]))
        self._dense(node, x, weight, bias)

    def _op_MatMul(self, node):
        x = self._tensor(node, node.input[0])
        weight = self._const(node, node.input[1], "the second operand (the weight)")
        if weight.ndim != 2:
            self._fail(node, f"the weight must be 2-D, not {weight.shape}")
        self._dense(node, x, weight.astype(np.float64), np.zeros(weight.shape[1]))

    def _dense(self, node, x, weight, bias):
        source = self._flatten_input(node, x)
        k = x.shape[0] if len(x.shape) == 1 else None
        if weight.ndim != 2 or weight.shape[0] != k:
            self._fail(node, f"weight {weight.shape} does not fit an input of {k} features")
        bias = np.asarray(bias, dtype=np.float64).reshape(-1)
        if bias.size == 1:
            bias = np.full(weight.shape[1], bias[0])
        if bias.shape != (weight.shape[1],):
            self._fail(node, f"the bias has {bias.size} values for {weight.shape[1]} outputs")
        if source == "input":  # a (batch, K) graph input is (K, 1, 1) to the network
            source = self._add(node, "flatten", {"input": "input"}, {}, (k,),
                               output=f"{node.output[0]}/flat", base="input_flatten")
        self._add(node, "dense", {"input": source, "relu": False},
                  {"weight": weight, "bias": bias}, (weight.shape[1],))

    def _op_Relu(self, node):
        x = self._tensor(node, node.input[0])
        self._add(node, "relu", {"input": self._network_input(node, x)}, {}, x.shape)

    def _op_Clip(self, node):
        attrs = self._attrs(node)
        low = (self._const(node, node.input[1], "min") if len(node.input) > 1
               and node.input[1] else attrs.get("min", -np.inf))
        high = (self._const(node, node.input[2], "max") if len(node.input) > 2
                and node.input[2] else attrs.get("max", np.inf))
        low, high = float(np.ravel(low)[0]), float(np.ravel(high)[0])
        if low != 0.0 or not high > 0:
            self._fail(node, f"Clip({low}, {high}) is not supported; only Clip(0, max) with "
                             f"max > 0 or no max (ReLU, ReLU6)")
        x = self._tensor(node, node.input[0])
        attrs = {"input": self._network_input(node, x)}
        if np.isfinite(high):
            attrs["max"] = high
        self._add(node, "relu", attrs, {}, x.shape)

    def _op_BatchNormalization(self, node):
        x = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        if attrs.get("training_mode", 0):
            self._fail(node, "training_mode = 1 is not supported (export in eval mode)")
        gamma, beta, mean, var = (self._const(node, node.input[i], what).astype(np.float64)
                                  for i, what in enumerate(("scale", "B", "mean", "var"), 1))
        self._add(node, "batchnorm", {"input": self._network_input(node, x),
                                      "eps": float(attrs.get("epsilon", 1e-5))},
                  {"gamma": gamma, "beta": beta, "mean": mean, "var": var}, x.shape)

    def _op_MaxPool(self, node):
        if len(node.output) > 1 and node.output[1]:
            self._fail(node, "the Indices output is not supported")
        self._pool(node, "maxpool")

    def _pool(self, node, op):
        """A square, unpadded pooling window as a maxpool or windowed avgpool node."""
        x = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        kernel, strides = list(attrs["kernel_shape"]), list(attrs.get("strides", [1, 1]))
        if len(x.shape) != 3 or kernel[0] != kernel[1] or strides[0] != strides[1]:
            self._fail(node, f"only square 2-D windows with equal strides are supported, not "
                             f"kernel {kernel}, strides {strides}")
        if any(attrs.get("pads", [0])) or attrs.get("ceil_mode", 0) or any(
                d != 1 for d in attrs.get("dilations", [1])):
            self._fail(node, "padding, ceil_mode and dilations are not supported")
        auto = attrs.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
            self._fail(node, f"auto_pad {auto!r} is not supported (only NOTSET or VALID)")
        k, s = kernel[0], strides[0]
        if min(x.shape[1:]) < k:
            self._fail(node, f"a {k}x{k} window does not fit the input {x.shape}")
        shape = (x.shape[0], *((d - k) // s + 1 for d in x.shape[1:]))
        self._add(node, op, {"input": self._network_input(node, x), "kernel": k,
                             "stride": s}, {}, shape)

    def _op_GlobalAveragePool(self, node):
        x = self._tensor(node, node.input[0])
        if len(x.shape) != 3:
            self._fail(node, "needs a (batch, C, H, W) input")
        self._add(node, "avgpool", {"input": self._network_input(node, x)}, {},
                  (x.shape[0], 1, 1))

    def _op_ReduceMean(self, node):
        x = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        axes = (self._const(node, node.input[1], "the axes") if len(node.input) > 1
                and node.input[1] else attrs.get("axes"))
        axes = None if axes is None else sorted(int(a) % 4 for a in np.ravel(axes))
        if len(x.shape) != 3 or axes != [2, 3]:
            self._fail(node, f"only a mean over H and W (axes [2, 3]) of a (batch, C, H, W) "
                             f"tensor is supported, not axes {axes}")
        pooled = self._add(node, "avgpool", {"input": self._network_input(node, x)}, {},
                           (x.shape[0], 1, 1), output=f"{node.output[0]}/pooled")
        if attrs.get("keepdims", 1):
            self.values[node.output[0]] = self.values[f"{node.output[0]}/pooled"]
        else:
            self._add(node, "flatten", {"input": pooled}, {}, (x.shape[0],))

    def _op_AveragePool(self, node):
        x = self._tensor(node, node.input[0])
        attrs = self._attrs(node)
        if (len(x.shape) == 3 and list(attrs["kernel_shape"]) == list(x.shape[1:])
                and not any(attrs.get("pads", [0]))):
            self._op_GlobalAveragePool(node)  # the whole input: the same as global
        else:
            self._pool(node, "avgpool")

    def _op_Flatten(self, node):
        x = self._tensor(node, node.input[0])
        if self._attrs(node).get("axis", 1) != 1:
            self._fail(node, "only axis = 1 is supported")
        self._flatten(node, x)

    def _op_Reshape(self, node):
        x = self._tensor(node, node.input[0])
        target = [v if v is BATCH else int(v)
                  for v in np.ravel(self._const(node, node.input[1], "the shape"))]
        size = int(np.prod(x.shape))
        # A batch of 1 fixed at export (x.view(x.size(0), -1) traced with one image) is the
        # batch dimension too.
        if (len(target) != 2 or not (target[0] is BATCH or _is_int(target[0], (-1, 0, 1)))
                or not (_is_int(target[1], (size,)) or (_is_int(target[1], (-1,))
                                                        and not _is_int(target[0], (-1,))))):
            self._fail(node, f"only a reshape to (batch, {size}) is supported, not {target}")
        self._flatten(node, x)

    def _flatten(self, node, x):
        if len(x.shape) == 1:
            self._op_Identity(node)
            return
        self._add(node, "flatten", {"input": self._network_input(node, x)}, {},
                  (int(np.prod(x.shape)),))

    def _op_Softmax(self, node):
        x = self._tensor(node, node.input[0])
        if len(x.shape) != 1:
            self._fail(node, "is only supported on (batch, classes) logits")
        axis = self._attrs(node).get("axis", -1 if self.opset >= 13 else 1)
        if axis not in (1, -1):
            self._fail(node, f"is over axis {axis} (the batch): only a {node.op_type} over the "
                             f"classes (axis 1 or -1) can be dropped")
        self.dropped.append(node.op_type)
        self.values[node.output[0]] = x

    def _op_LogSoftmax(self, node):
        self._op_Softmax(node)

    # -- element-wise with constants -----------------------------------------------------
    def _op_Add(self, node):
        a, b = (self.values.get(name) for name in node.input)
        if isinstance(a, _Tensor) and isinstance(b, _Tensor):
            a, b = self._tensor(node, node.input[0]), self._tensor(node, node.input[1])
            if a.shape != b.shape:
                self._fail(node, f"adds tensors of shapes {a.shape} and {b.shape}; only equal "
                                 f"shapes (no broadcasting) are supported")
            self._add(node, "add", {"inputs": [self._network_input(node, a),
                                               self._network_input(node, b)], "relu": False},
                      {}, a.shape)
            return
        self._elementwise(node)

    def _op_Sub(self, node):
        self._elementwise(node)

    def _op_Mul(self, node):
        self._elementwise(node)

    def _op_Div(self, node):
        self._elementwise(node)

    def _elementwise(self, node):
        a, b = (self.values.get(name) for name in node.input)
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            self.values[node.output[0]] = _ARITHMETIC[node.op_type](a, b)
            return
        if not isinstance(a, _Tensor) and not isinstance(b, _Tensor):
            self._fail(node, "an input is not defined before this node")
        if isinstance(a, _Tensor) and isinstance(b, _Tensor):
            self._fail(node, f"{node.op_type} of two tensors is not supported (Add of two "
                             f"tensors is)")
        x, constant = (a, b) if isinstance(a, _Tensor) else (b, a)
        tensor_first = isinstance(a, _Tensor)
        if node.op_type == "Div" and not tensor_first:
            self._fail(node, "a constant divided by a tensor is not linear")
        channels = x.shape[0]
        per_channel = self._per_channel(node, np.asarray(constant, dtype=np.float64), x.shape)
        if not np.isfinite(per_channel).all():
            self._fail(node, f"its constant {per_channel.tolist()} is not finite (NaN or "
                             f"infinite): no normalisation or layer can use it")
        # x * scale + offset, as the op applies it
        if node.op_type == "Add":
            scale, offset = np.ones(channels), per_channel
        elif node.op_type == "Sub":
            scale, offset = ((np.ones(channels), -per_channel) if tensor_first
                             else (-np.ones(channels), per_channel))
        elif node.op_type == "Mul":
            scale, offset = per_channel, np.zeros(channels)
        else:
            if (per_channel == 0).any():
                self._fail(node, "divides by zero")
            scale, offset = 1.0 / per_channel, np.zeros(channels)
        if x.node is None:
            self._preprocessing(node, x, scale, offset)
        else:
            self._fold_affine(node, x, scale, offset)

    def _tensor_name(self, node):
        """The name of the tensor (not constant) input of an element-wise node."""
        return next(name for name in node.input if isinstance(self.values.get(name), _Tensor))

    def _per_channel(self, node, constant, shape):
        """A constant that broadcasts per channel against (batch, *shape), as (C,)."""
        channels = shape[0]
        c = constant.reshape(constant.shape[1:]) if constant.ndim == len(shape) + 1 and \
            constant.shape[0] == 1 else constant
        if c.size == 1:
            return np.full(channels, float(c.reshape(())))
        if c.ndim == len(shape) and c.shape[0] == channels and all(d == 1 for d in c.shape[1:]):
            return c.reshape(channels)
        if len(shape) == 1 and c.shape == (channels,):
            return c
        self._fail(node, f"a constant of shape {constant.shape} is not one value per channel "
                         f"of a (batch, {', '.join(map(str, shape))}) tensor")

    def _preprocessing(self, node, x, scale, offset):
        if self.input_taken:
            self._fail(node, "arithmetic on the raw input after a layer has read it cannot "
                             "be a preprocessing step")
        if self.uses.get(self._tensor_name(node), 0) > 1:
            self._fail(node, "the input normalisation must be the raw input's only use")
        if self.scale is None:
            self.scale, self.offset = np.ones(x.shape[0]), np.zeros(x.shape[0])
        self.scale, self.offset = self.scale * scale, self.offset * scale + offset
        self.values[node.output[0]] = _Tensor(None, x.shape)

    def _fold_affine(self, node, x, scale, offset):
        op, _, attrs, arrays = self.nodes[x.node]
        if op not in ("conv", "dense") or self.uses.get(self._tensor_name(node), 0) > 1:
            self._fail(node, f"{node.op_type} by a constant can only be folded into a Conv, "
                             f"Gemm or MatMul whose only use it is; here it follows a "
                             f"{op} ({x.node!r})" + (" with other uses"
                                                     if op in ("conv", "dense") else ""))
        weight = arrays["weight"]
        arrays["weight"] = (weight * scale[:, None, None, None] if op == "conv"
                            else weight * scale[None, :])
        arrays["bias"] = arrays["bias"] * scale + offset
        self.values[node.output[0]] = x


_ELEMENTWISE = ("Add", "Sub", "Mul", "Div")
_ARITHMETIC = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}


def _is_int(value, allowed):
    return not isinstance(value, _Batch) and int(value) in allowed
