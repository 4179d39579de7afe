"""ONNX import (golden.onnx_import): imported networks compute onnxruntime's outputs, the
project's own networks survive a round trip, and everything unsupported is a clear error."""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from golden.datasets import load
from golden.models import MODELS as MODELS_DIR, model_path
from golden.network import fold, load_network, save_network
from golden.ptq import quantize_network
from golden.onnx_import import import_onnx, preprocess
from tests.onnx_models import graph_model, int_tensor, network_to_onnx, separable_model, tensor

RNG = np.random.default_rng(7)


def _runtime(model, x):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.astype(np.float32)})[0]


def _imported(model, x):
    network = import_onnx(model)
    return network, network.forward(preprocess(network, x))


def _convnet_like_pytorch():
    """Normalisation, Conv+BN+ReLU, MaxPool, Conv (asymmetric padding, stride 2)+ReLU,
    the Shape/Gather/Unsqueeze/Concat flatten that torch.onnx emits for x.view(B, -1),
    Gemm (transB), Dropout, Softmax."""
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["n0"], name="/norm/Sub"),
        helper.make_node("Div", ["n0", "std"], ["n1"], name="/norm/Div"),
        helper.make_node("Conv", ["n1", "w1", "b1"], ["c1"], name="/conv1/Conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mu", "var"], ["bn"],
                         name="/bn1/BatchNormalization", epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r1"], name="/relu1/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool/MaxPool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="/conv2/Conv",
                         kernel_shape=[3, 3], pads=[0, 1, 1, 0], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="/relu2/Relu"),
        helper.make_node("Shape", ["r2"], ["s"], name="/Shape"),
        helper.make_node("Gather", ["s", "zero"], ["batch"], name="/Gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="/Unsqueeze"),
        helper.make_node("Concat", ["batch1", "minus1"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r2", "shape"], ["flat"], name="/Reshape"),
        helper.make_node("Dropout", ["flat"], ["d"], name="/drop/Dropout"),
        helper.make_node("Gemm", ["d", "wf", "bf"], ["logits"], name="/fc/Gemm", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="/Softmax", axis=1),
    ]
    inits = [tensor("mean", [[[0.2]], [[0.4]]]), tensor("std", [[[0.5]], [[0.25]]]),
             tensor("w1", RNG.normal(0, 0.4, (6, 2, 3, 3))), tensor("b1", RNG.normal(0, 0.1, 6)),
             tensor("g", RNG.uniform(0.5, 1.5, 6)), tensor("beta", RNG.normal(0, 0.1, 6)),
             tensor("mu", RNG.normal(0, 0.1, 6)), tensor("var", RNG.uniform(0.5, 2, 6)),
             tensor("w2", RNG.normal(0, 0.3, (4, 6, 3, 3))),
             tensor("wf", RNG.normal(0, 0.3, (10, 4 * 3 * 3))), tensor("bf", RNG.normal(0, 1, 10)),
             int_tensor("zero", 0), int_tensor("axes", [0]), int_tensor("minus1", [-1])]
    return graph_model(nodes, inits, (2, 12, 12))


def test_a_pytorch_style_convnet_computes_onnxruntimes_outputs():
    model = _convnet_like_pytorch()
    x = RNG.uniform(0, 1, (16, 2, 12, 12))
    network, logits = _imported(model, x)
    probabilities = _runtime(model, x)
    np.testing.assert_array_equal(np.argmax(logits, 1), np.argmax(probabilities, 1))
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(1, keepdims=True), probabilities,
                               rtol=1e-4, atol=1e-6)
    assert network.info["preprocess"]["scale"] == pytest.approx([2.0, 4.0])
    assert network.info["preprocess"]["offset"] == pytest.approx([-0.4, -1.6])
    assert network.info["dropped_final"] == ["Softmax"]
    assert [n.op for n in network.nodes] == ["conv", "batchnorm", "relu", "maxpool", "conv",
                                             "relu", "flatten", "dense"]
    assert network.nodes[0].name == "conv1_Conv"
    assert network.nodes[4].attrs["padding"] == [0, 1, 1, 0]
    # quantized: the fast engine and the reference agree on the asymmetric padding too
    folded = fold(network)
    q = quantize_network(folded, "tfx-channel", 6, preprocess(network, RNG.uniform(0, 1, (64, 2, 12, 12))))
    np.testing.assert_array_equal(q.plan().codes(preprocess(network, x)),
                                  q.run_integer(preprocess(network, x)))


def test_residual_add_matmul_and_constants_folded_into_the_layer_before():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="c1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="c2", kernel_shape=[3, 3],
                         auto_pad="SAME_UPPER"),
        helper.make_node("Mul", ["c2", "s2"], ["m2"], name="scale2"),
        helper.make_node("Add", ["m2", "o2"], ["a2"], name="shift2"),
        helper.make_node("Add", ["a2", "r1"], ["sum"], name="residual"),
        helper.make_node("Clip", ["sum", "zero", ""], ["r2"], name="clip_as_relu"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("MatMul", ["f", "wf"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "bf"], ["y"], name="fc_bias"),
    ]
    inits = [tensor("w1", RNG.normal(0, 0.4, (5, 3, 3, 3))), tensor("b1", RNG.normal(0, .1, 5)),
             tensor("w2", RNG.normal(0, 0.3, (5, 5, 3, 3))),
             tensor("s2", RNG.uniform(0.5, 2, (1, 5, 1, 1))), tensor("o2", RNG.normal(0, 1, (5, 1, 1))),
             tensor("zero", 0.0), tensor("wf", RNG.normal(0, 0.5, (5, 10))),
             tensor("bf", RNG.normal(0, 1, 10))]
    model = graph_model(nodes, inits, (3, 9, 9))
    x = RNG.normal(0, 1, (8, 3, 9, 9))
    network, logits = _imported(model, x)
    np.testing.assert_allclose(logits, _runtime(model, x), rtol=1e-4, atol=1e-5)
    assert [n.op for n in network.nodes] == ["conv", "relu", "conv", "add", "relu", "avgpool",
                                             "flatten", "dense"]
    assert "preprocess" not in network.info


def _relu6_model():
    """Conv+ReLU6, a strided AveragePool, Conv+BN, a residual Add+ReLU6, global pooling."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="c1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c1", "zero", "six"], ["r1"], name="relu6_1"),
        helper.make_node("AveragePool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="c2", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c2", "g", "beta", "mu", "var"], ["bn"],
                         name="bn2"),
        helper.make_node("Add", ["bn", "p1"], ["sum"], name="residual"),
        helper.make_node("Clip", ["sum", "zero", "six"], ["r2"], name="relu6_2"),
        helper.make_node("AveragePool", ["r2"], ["p2"], name="pool3", kernel_shape=[3, 3],
                         strides=[1, 1]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g2"], name="gap"),
        helper.make_node("Flatten", ["g2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc"),
    ]
    inits = [tensor("w1", RNG.normal(0, 1.5, (4, 3, 3, 3))), tensor("b1", RNG.normal(1, .5, 4)),
             tensor("w2", RNG.normal(0, 0.6, (4, 4, 3, 3))), tensor("b2", RNG.normal(0, .5, 4)),
             tensor("g", RNG.uniform(0.5, 1.5, 4)), tensor("beta", RNG.normal(1, 0.5, 4)),
             tensor("mu", RNG.normal(0, 0.1, 4)), tensor("var", RNG.uniform(0.5, 2, 4)),
             tensor("zero", 0.0), tensor("six", 6.0), tensor("wf", RNG.normal(0, 0.5, (4, 10))),
             tensor("bf", RNG.normal(0, 1, 10))]
    return graph_model(nodes, inits, (3, 10, 10))


@pytest.mark.parametrize("scheme,n", [("tfx", 8), ("fxp-channel-signed", 6)])
def test_relu6_and_strided_average_pools_import_quantize_and_run_on_the_array(scheme, n):
    from golden.layers import run_layer
    from golden.ptq import scheme_family
    from hdl.network_runner import run_network

    model = _relu6_model()
    x = RNG.normal(0, 1, (12, 3, 10, 10))
    network, logits = _imported(model, x)
    np.testing.assert_allclose(logits, _runtime(model, x), rtol=1e-4, atol=1e-5)
    folded = fold(network)
    assert [(nd.op, nd.attrs.get("relu")) for nd in folded.nodes] == [
        ("conv", 6.0), ("avgpool", None), ("conv", False), ("add", 6.0), ("avgpool", None),
        ("avgpool", None), ("flatten", None), ("dense", False)]
    assert folded.shapes["pool"] == (4, 5, 5) and folded.shapes["pool3"] == (4, 3, 3)
    floats = folded.forward(x, keep=True)
    assert floats["c1"].max() == 6.0 and (floats["c1"] == 6.0).mean() > 0.05  # the clip bites

    q = quantize_network(folded, scheme, n, RNG.normal(0, 1, (64, 3, 10, 10)))
    codes = q.run_integer(x, keep=True)
    np.testing.assert_array_equal(q.plan().codes(x), codes["fc"])
    for name in ("c1", "residual"):
        fmt = q.format_of(name)
        top = fmt.decode(fmt.quantize(np.array([6.0])))[0]
        assert fmt.decode(codes[name]).max() == top  # clipped at the ceiling's code
    # The array's scaling stage applies max(y, 0) only; the host clips its results.
    family = scheme_family(scheme, n)

    async def on_golden_array(node, rows, w_codes, layer):
        return run_layer(rows, w_codes, layer, limits=q.limits)[0]

    import asyncio
    through_array = asyncio.run(run_network(q, x, on_golden_array, family))
    for name, expected in codes.items():
        np.testing.assert_array_equal(through_array[name], expected, err_msg=name)


@pytest.mark.parametrize("scheme,n", [("tfx-channel", 8), ("fxp-channel-signed", 5)])
def test_depthwise_and_grouped_convolutions_import_quantize_and_run_on_the_array(scheme, n):
    from golden.layers import run_layer
    from golden.ptq import scheme_family
    from hdl.network_runner import run_network

    model = separable_model(RNG)
    x = RNG.normal(0, 1, (10, 3, 10, 10))
    network, logits = _imported(model, x)
    np.testing.assert_allclose(logits, _runtime(model, x), rtol=1e-4, atol=1e-5)
    folded = fold(network)
    assert [(nd.name, nd.attrs.get("groups", 1), nd.attrs["relu"]) for nd in folded.nodes
            if nd.op == "conv"] == [("c1", 1, 6.0), ("dw", 8, 6.0), ("pw", 1, True),
                                    ("gc", 4, False)]
    assert folded.shapes["dw"] == (8, 5, 5) and folded.shapes["gc"] == (8, 4, 4)
    q = quantize_network(folded, scheme, n, RNG.normal(0, 1, (48, 3, 10, 10)))
    assert q.traffic()["macs"] == 100 * 27 * 8 + 25 * 9 * 8 + 25 * 8 * 12 + 16 * 27 * 8 + 80
    codes = q.run_integer(x, keep=True)
    np.testing.assert_array_equal(q.plan().codes(x), codes["fc"])
    np.testing.assert_array_equal(q.plan("fake").values(x), q.run_fake(x))
    calls = []

    async def on_golden_array(node, rows, w_codes, layer):
        calls.append((node.name, rows.shape[1], w_codes.shape[1]))
        return run_layer(rows, w_codes, layer, limits=q.limits)[0]

    import asyncio
    through_array = asyncio.run(run_network(q, x, on_golden_array, scheme_family(scheme, n)))
    for name, expected in codes.items():
        np.testing.assert_array_equal(through_array[name], expected, err_msg=name)
    assert calls.count(("dw", 9, 1)) == 8 and calls.count(("gc", 27, 2)) == 4


def test_grouped_bias_correction_uses_each_groups_own_inputs():
    """Two groups whose inputs have very different means: the correction of group 1's
    columns must come from group 1's channels (a shared mean would move the bias)."""
    from golden.network import Network, Node
    rng = np.random.default_rng(11)
    weight = rng.normal(0, 1, (4, 1, 3, 3))
    conv = Network([Node("conv", "c", {"input": "input", "stride": 1, "padding": 0,
                                       "relu": False, "groups": 2},
                         {"weight": weight, "bias": np.zeros(4)}),
                    Node("flatten", "f", {"input": "c"}),
                    Node("dense", "d", {"input": "f", "relu": False},
                         {"weight": rng.normal(0, 1, (4 * 36, 3)), "bias": np.zeros(3)})],
                   (2, 8, 8))
    # constant images: every im2col row's mean is its channel's mean
    levels = np.stack([rng.normal(0, 0.1, 64), rng.normal(5, 0.1, 64)], 1)
    calibration = np.broadcast_to(levels[:, :, None, None], (64, 2, 8, 8))
    q = quantize_network(conv, "tfx", 4, calibration)
    step = q.steps["c"]
    dw = step.w_fmt.decode(step.w_codes) - step.node["weight"].reshape(4, -1).T
    means = levels.mean(axis=0)
    expected = -np.concatenate([means[0] * dw[:, :2].sum(0), means[1] * dw[:, 2:].sum(0)])
    np.testing.assert_allclose(step.float_bias, expected, rtol=1e-6, atol=1e-9)


def test_an_mlp_on_flat_inputs():
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", alpha=0.5,
                              beta=2.0),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1)]
    inits = [tensor("w1", RNG.normal(0, 0.3, (64, 20))), tensor("b1", RNG.normal(0, 0.1, (1, 20))),
             tensor("w2", RNG.normal(0, 0.3, (10, 20))), tensor("b2", RNG.normal(0, 0.1, 10))]
    model = graph_model(nodes, inits, (64,))
    x = RNG.uniform(0, 16, (10, 64))
    network, logits = _imported(model, x[:, :, None, None])
    assert network.input_shape == (64, 1, 1)
    assert [(n.op, n.name) for n in network.nodes][:2] == [("flatten", "input_flatten"),
                                                           ("dense", "fc1")]  # not fc1_1
    np.testing.assert_allclose(logits, _runtime(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dataset,model", [("digits", "resnet"), ("fashion-mnist", "convnet")])
def test_the_projects_networks_survive_a_round_trip_through_onnx(dataset, model, tmp_path):
    original = load_network(model_path(dataset, model, 0))
    exported = network_to_onnx(original)
    path = tmp_path / "model.onnx"
    onnx.save(exported, path)
    imported = import_onnx(path)
    save_network(tmp_path / "net.npz", imported)
    reloaded = load_network(tmp_path / "net.npz")
    x = load(dataset, "test")[0][:50]
    reference = original.forward(x)
    for network in (imported, reloaded):
        np.testing.assert_allclose(network.forward(x), reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(imported.forward(x), _runtime(exported, x), rtol=1e-3,
                               atol=1e-3)
    assert [n.op for n in imported.nodes] == [n.op for n in original.nodes]


@pytest.mark.parametrize("name", ["digits-convnet-s0", "digits-resnet-s0",
                                  "fashion-mnist-convnet-s0"])
def test_the_shipped_pytorch_exports_compute_the_shipped_networks(name):
    """models/NAME.onnx, written by PyTorch's exporter (make onnx-models), imported back."""
    path = MODELS_DIR / f"{name}.onnx"
    model = onnx.load(path)
    assert {p.key: p.value for p in model.metadata_props}["exported_by"] == "scripts.export_onnx"
    original = load_network(MODELS_DIR / f"{name}.npz")
    imported = import_onnx(path)
    assert imported.input_shape == original.input_shape and imported.info["name"] == name
    x = load(original.info["dataset"], "test")[0][:100]
    np.testing.assert_allclose(imported.forward(x), original.forward(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(imported.forward(x), _runtime_named(model, x), rtol=1e-4,
                               atol=1e-4)
    # the exporter folds the batch norms; the rest of the graph is the network's own
    ops = [node.op for node in fold(imported).nodes]
    assert ops == [node.op for node in fold(original).nodes]


def _runtime_named(model, x):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def test_reduce_mean_over_h_and_w_is_global_average_pooling():
    for keepdims in (0, 1):
        nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"], name="mean",
                                  keepdims=keepdims)]
        if keepdims:
            nodes.append(helper.make_node("Flatten", ["m"], ["f"], name="flat"))
        nodes.append(helper.make_node("MatMul", ["f" if keepdims else "m", "wf"], ["y"],
                                      name="fc"))
        model = graph_model(nodes, [int_tensor("axes", [-2, -1]),
                                    tensor("wf", RNG.normal(0, 1, (3, 10)))], (3, 5, 4),
                            opset=18)
        x = RNG.normal(0, 1, (6, 3, 5, 4))
        network, logits = _imported(model, x)
        np.testing.assert_allclose(logits, _runtime(model, x), rtol=1e-5, atol=1e-5)
        assert [n.op for n in network.nodes] == ["avgpool", "flatten", "dense"]
    bad = graph_model([helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[1],
                                        keepdims=0),
                       helper.make_node("MatMul", ["m", "wf"], ["y"], name="fc")],
                      [tensor("wf", RNG.normal(0, 1, (5, 10)))], (3, 5, 5), opset=13,
                      output_shape=(None, 5, 10))
    with pytest.raises(ValueError, match=r"'mean' \(ReduceMean\): only a mean over H and W "
                                         r"\(axes \[2, 3\]\)"):
        import_onnx(bad)


def _single(op, *, shape=(2, 6, 6), out=None, extra=(), inits=(), **attrs):
    nodes = [helper.make_node(op, ["x", *extra], ["h"], name="the_node", **attrs),
             helper.make_node("Flatten", ["h"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "wf"], ["y"], name="fc")]
    return nodes, list(inits), shape


@pytest.mark.parametrize("case,message", [
    ("sigmoid", r"ONNX node 'the_node' \(Sigmoid\): op Sigmoid is not supported; supported "
                r"ops: .*Conv"),
    ("group", r"'the_node' \(Conv\): group = 3 must divide the 2 input and 3 output "
              r"channels"),
    ("clip", r"'the_node' \(Clip\): Clip\(-1.0, 1.0\) is not supported; only Clip\(0, max\)"),
    ("mul_after_relu", r"'scale' \(Mul\): Mul by a constant can only be folded into a Conv"),
    ("two_tensor_mul", r"'scale' \(Mul\): Mul of two tensors is not supported"),
    ("dilation", r"dilations \[2, 2\] are not supported"),
    ("padded_pool", r"'the_node' \(MaxPool\): padding, ceil_mode and dilations"),
    ("padded_avgpool", r"'the_node' \(AveragePool\): padding, ceil_mode and dilations"),
    ("reshape", r"only a reshape to \(batch, 72\) is supported, not \[1, 2, 36\]"),
    ("opset", r"ONNX opset 3 is not supported: opsets 7 to 23 are"),
])
def test_what_cannot_be_imported_exactly_is_a_clear_error(case, message):
    conv_w = tensor("w", RNG.normal(0, 1, (2, 2, 3, 3)))
    wf = tensor("wf", RNG.normal(0, 1, (72, 10)))
    opset = 17
    if case == "sigmoid":
        nodes, inits, shape = _single("Sigmoid")
    elif case == "group":
        nodes, inits, shape = _single("Conv", extra=["w1"], kernel_shape=[3, 3], group=3,
                                      pads=[1, 1, 1, 1],
                                      inits=[tensor("w1", RNG.normal(0, 1, (3, 1, 3, 3)))])
    elif case == "clip":
        nodes, inits, shape = _single("Clip", extra=["lo", "hi"],
                                      inits=[tensor("lo", -1.0), tensor("hi", 1.0)])
    elif case in ("mul_after_relu", "two_tensor_mul"):
        nodes, inits, shape = _single("Relu")
        other = "k" if case == "mul_after_relu" else "h"
        nodes.insert(1, helper.make_node("Mul", ["h", other], ["hm"], name="scale"))
        nodes[2] = helper.make_node("Flatten", ["hm"], ["f"], name="flat")
        inits = [tensor("k", 2.0)]
    elif case == "dilation":
        nodes, inits, shape = _single("Conv", extra=["w"], inits=[conv_w], kernel_shape=[3, 3],
                                      dilations=[2, 2], pads=[2, 2, 2, 2])
    elif case == "padded_pool":
        nodes, inits, shape = _single("MaxPool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    elif case == "padded_avgpool":
        nodes, inits, shape = _single("AveragePool", kernel_shape=[2, 2], strides=[2, 2],
                                      pads=[1, 1, 1, 1])
    elif case == "reshape":
        nodes, inits, shape = _single("Relu")
        nodes[1] = helper.make_node("Reshape", ["h", "shape"], ["f"], name="flat")
        inits = [int_tensor("shape", [1, 2, 36])]
    else:
        nodes, inits, shape = _single("Relu")
        opset = 3
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [None, *shape])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [None, 10])], [*inits, wf])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    with pytest.raises(ValueError, match=message):
        import_onnx(model)


def test_a_missing_or_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model .*nothing.onnx does not exist"):
        import_onnx(tmp_path / "nothing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 this is not a protobuf")
    with pytest.raises(ValueError, match="bad.onnx is not a readable ONNX model"):
        import_onnx(bad)


@pytest.mark.parametrize("target", [[1, 72], [1, -1]])
def test_a_fixed_batch_of_one_flattens_like_the_batch(target):
    """torch.onnx.export(model, torch.zeros(1, ...)) of x.view(x.size(0), -1) reshapes to
    [1, K] or [1, -1]: the 1 is the batch, and the network runs any batch."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["h"], name="relu"),
             helper.make_node("Reshape", ["h", "shape"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "wf"], ["y"], name="fc")]
    inits = [int_tensor("shape", target), tensor("wf", RNG.normal(0, 1, (72, 10))),
             tensor("w", RNG.normal(0, 1, (2, 2, 3, 3)))]
    graph = helper.make_graph(nodes, "fixed", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 2, 6, 6])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = RNG.normal(0, 1, (5, 2, 6, 6))
    network, logits = _imported(model, x)
    expected = np.concatenate([_runtime(model, x[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op,opset,axis,fails", [
    ("Softmax", 17, 0, True), ("Softmax", 17, None, False), ("Softmax", 17, 1, False),
    ("LogSoftmax", 13, 0, True), ("Softmax", 11, None, False), ("Softmax", 11, 0, True),
])
def test_a_final_softmax_is_dropped_only_over_the_classes(op, opset, axis, fails):
    nodes, inits, shape = _single("Conv", extra=["w"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                  inits=[tensor("w", RNG.normal(0, 1, (2, 2, 3, 3)))])
    nodes[-1] = helper.make_node("MatMul", ["f", "wf"], ["logits"], name="fc")
    attrs = {} if axis is None else {"axis": axis}
    nodes.append(helper.make_node(op, ["logits"], ["y"], name="soft", **attrs))
    model = graph_model(nodes, [*inits, tensor("wf", RNG.normal(0, 1, (72, 10)))], shape,
                        opset=opset)
    if fails:
        with pytest.raises(ValueError, match=rf"'soft' \({op}\): is over axis 0 \(the batch\): "
                                             rf"only a {op} over the classes"):
            import_onnx(model)
    else:
        assert import_onnx(model).info["dropped_final"] == [op]


def test_an_undefined_input_and_an_earlier_bad_shape_are_named():
    nodes = [helper.make_node("Relu", ["nowhere"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [None, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [None, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match="is not a valid ONNX model: .*'nowhere'"):
        import_onnx(model)
    # Conv pads of the wrong length: the importer refuses the MaxPool after it, and ONNX's
    # shape inference names the Conv.
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 1]),
             helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    graph = helper.make_graph(nodes, "pads", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [None, 2, 6, 6])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [None, 18])], [tensor("w", RNG.normal(0, 1, (2, 2, 3, 3)))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError) as refused:
        import_onnx(model)
    assert "conv" in str(refused.value).lower() and "pads" in str(refused.value).lower()


def test_an_empty_file_is_not_an_onnx_model(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty has no ONNX operator set .* Opsets 7 to 23"):
        import_onnx(empty)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_constant_that_is_not_finite_is_refused_at_import(value):
    """A NaN in the input normalisation used to pass import and be blamed on the data."""
    nodes, inits, shape = _single("Conv", extra=["w"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                  inits=[tensor("w", RNG.normal(0, 1, (2, 2, 3, 3)))])
    nodes[0] = helper.make_node("Conv", ["xs", "w"], ["h"], name="the_node",
                                kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes.insert(0, helper.make_node("Sub", ["x", "mean"], ["xs"], name="normalise"))
    model = graph_model(nodes, [*inits, tensor("mean", [[[0.5]], [[value]]]),
                                tensor("wf", RNG.normal(0, 1, (72, 10)))], shape)
    with pytest.raises(ValueError, match=r"'normalise' \(Sub\): its constant .* is not finite"):
        import_onnx(model)
