"""Float networks: graph checks, reference inference, batch-norm and ReLU folding, files."""

import json

import numpy as np
import pytest

from golden.network import Network, Node, fold, load_network, save_network


def conv(name, source, c_in, c_out, rng, *, k=3, stride=1, padding=1):
    return Node("conv", name, {"input": source, "stride": stride, "padding": padding,
                               "relu": False},
                {"weight": rng.normal(0, 0.5, (c_out, c_in, k, k)),
                 "bias": rng.normal(0, 0.1, c_out)})


def batchnorm(name, source, c, rng):
    return Node("batchnorm", name, {"input": source, "eps": 1e-5},
                {"gamma": rng.uniform(0.5, 2, c), "beta": rng.normal(0, 0.3, c),
                 "mean": rng.normal(0, 0.3, c), "var": rng.uniform(0.2, 3, c)})


def residual_net(seed=0):
    """conv-bn-relu, maxpool, a basic residual block, global average pool, dense."""
    rng = np.random.default_rng(seed)
    nodes = [conv("c1", "input", 1, 4, rng), batchnorm("b1", "c1", 4, rng),
             Node("relu", "r1", {"input": "b1"}),
             Node("maxpool", "p1", {"input": "r1", "kernel": 2, "stride": 2}),
             conv("c2", "p1", 4, 4, rng), batchnorm("b2", "c2", 4, rng),
             Node("relu", "r2", {"input": "b2"}),
             conv("c3", "r2", 4, 4, rng), batchnorm("b3", "c3", 4, rng),
             Node("add", "a1", {"inputs": ["b3", "p1"], "relu": False}),
             Node("relu", "r3", {"input": "a1"}),
             Node("avgpool", "g", {"input": "r3"}), Node("flatten", "f", {"input": "g"}),
             Node("dense", "fc", {"input": "f", "relu": False},
                  {"weight": rng.normal(0, 0.5, (4, 10)), "bias": rng.normal(0, 0.1, 10)})]
    return Network(nodes, (1, 8, 8), {"made": "test"})


def test_convolution_matches_a_direct_sum():
    rng = np.random.default_rng(1)
    node = conv("c", "input", 2, 3, rng, stride=2, padding=1)
    net = Network([node], (2, 5, 5))
    x = rng.normal(size=(2, 2, 5, 5))
    y = net.forward(x)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = node["weight"], node["bias"]
    for i in range(3):
        for j in range(3):
            window = padded[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            expected = np.einsum("bchw,ochw->bo", window, w) + b
            np.testing.assert_allclose(y[:, :, i, j], expected, rtol=1e-12)
    assert y.shape == (2, 3, 3, 3) and net.shapes["c"] == (3, 3, 3)


def test_folding_keeps_the_function():
    net = residual_net()
    folded = fold(net)
    assert [node.op for node in folded.nodes] == ["conv", "maxpool", "conv", "conv", "add",
                                                 "avgpool", "flatten", "dense"]
    assert folded.nodes[0].attrs["relu"] and folded.nodes[4].attrs["relu"]
    assert folded.nodes[4].inputs == ("c3", "p1")
    x = np.random.default_rng(2).uniform(0, 1, (5, 1, 8, 8))
    np.testing.assert_allclose(folded.forward(x), net.forward(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("change, message", [
    (lambda n: n.insert(3, Node("batchnorm", "bx", {"input": "r1", "eps": 1e-5},
                                {k: np.ones(4) for k in ("gamma", "beta", "mean", "var")})),
     "must follow a conv without ReLU"),
    (lambda n: n.append(Node("relu", "rx", {"input": "c1"})), "'c1' has other consumers"),
])
def test_folding_refuses_what_it_cannot_fold(change, message):
    nodes = residual_net().nodes
    change(nodes)
    with pytest.raises(ValueError, match=message):
        fold(Network(nodes, (1, 8, 8)))


@pytest.mark.parametrize("nodes, message", [
    ([Node("softmax", "s", {"input": "input"})], "unknown op"),
    ([Node("relu", "r", {"input": "nowhere"})], "input 'nowhere' is not an earlier node"),
    ([Node("dense", "d", {"input": "input", "relu": False},
           {"weight": np.ones((3, 2)), "bias": np.ones(2)})], "must fit input"),
    ([Node("flatten", "f", {"input": "input"}),
      Node("dense", "d", {"input": "f", "relu": False},
           {"weight": np.full((64, 2), np.nan), "bias": np.ones(2)})], "NaN or infinite"),
    ([Node("maxpool", "m", {"input": "input", "kernel": 9, "stride": 1})], "does not fit"),
    ([Node("relu", "r", {"input": "input"}), Node("relu", "r", {"input": "input"})],
     "used twice"),
    ([Node("conv", "c", {"input": "input", "stride": 1, "relu": False},
           {"weight": np.ones((1, 1, 1, 1)), "bias": np.ones(1)})], "needs fields"),
    ([Node("conv", "c", {"input": "input", "stride": 1, "padding": 0, "relu": -6},
           {"weight": np.ones((1, 1, 1, 1)), "bias": np.ones(1)})],
     r"relu must be false, true or a positive finite ceiling \(ReLU6: 6\), not -6"),
    ([Node("relu", "r", {"input": "input", "max": "six"})],
     "max: relu must be false, true or a positive finite ceiling"),
    ([Node("relu", "r", {"input": "input", "max": True})], "max must be a positive finite"),
    ([Node("avgpool", "a", {"input": "input", "kernel": 2})],
     "a windowed average pool needs both kernel and stride"),
    ([Node("avgpool", "a", {"input": "input", "kernel": 9, "stride": 1})], "does not fit"),
    ([Node("maxpool", "m", {"input": "input", "kernel": 2, "stride": 2, "max": 1})],
     "needs fields"),
])
def test_malformed_graphs_are_named(nodes, message):
    with pytest.raises(ValueError, match=message):
        Network(nodes, (1, 8, 8))


def test_clipped_relu_and_windowed_average_pool_compute_their_definitions():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 4, (3, 1, 8, 8))
    net = Network([Node("conv", "c", {"input": "input", "stride": 1, "padding": 1, "relu": 1.5},
                        {"weight": np.ones((2, 1, 3, 3)), "bias": np.array([0.0, -1.0])}),
                   Node("avgpool", "a", {"input": "c", "kernel": 3, "stride": 2}),
                   Node("relu", "r", {"input": "a", "max": 0.75})], (1, 8, 8))
    values = net.forward(x, keep=True)
    padded = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
    sums = sum(padded[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3))
    conv = np.stack([sums, sums - 1.0], axis=1)
    np.testing.assert_allclose(values["c"], np.clip(conv, 0, 1.5))
    assert net.shapes["a"] == (2, 3, 3)
    np.testing.assert_allclose(values["a"][:, :, 1, 2],
                               values["c"][:, :, 2:5, 4:7].mean(axis=(2, 3)))
    np.testing.assert_allclose(values["r"], np.clip(values["a"], 0, 0.75))
    # a relu node's max folds into the node before only when that is a conv, dense or add
    with pytest.raises(ValueError, match="cannot fold relu 'r': it must follow a conv"):
        fold(net)
    two = Network([Node("conv", "c", {"input": "input", "stride": 1, "padding": 0, "relu": False},
                        {"weight": np.ones((1, 1, 1, 1)), "bias": np.zeros(1)}),
                   Node("relu", "r", {"input": "c", "max": 6})], (1, 8, 8))
    assert fold(two).nodes[0].attrs["relu"] == 6
    np.testing.assert_allclose(fold(two).forward(x), np.clip(x, 0, 6))


def test_bad_inputs_are_errors():
    net = residual_net()
    with pytest.raises(ValueError, match=r"takes inputs \(B, 1, 8, 8\), not \(2, 64\)"):
        net.forward(np.zeros((2, 64)))
    x = np.zeros((1, 1, 8, 8))
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.forward(x)


def test_files_round_trip_in_float32(tmp_path):
    net = fold(residual_net())
    save_network(tmp_path / "net.npz", net)
    loaded = load_network(tmp_path / "net.npz")
    assert loaded.info == net.info and loaded.input_shape == net.input_shape
    x = np.random.default_rng(3).uniform(0, 1, (4, 1, 8, 8))
    np.testing.assert_allclose(loaded.forward(x), net.forward(x), rtol=1e-5, atol=1e-5)
    for a, b in zip(loaded.nodes, net.nodes, strict=True):
        assert a.attrs == b.attrs
        for key in b.arrays:
            assert np.array_equal(a.arrays[key], b.arrays[key].astype(np.float32))


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_network(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a readable NumPy .npz model file"):
        load_network(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", w0=np.ones(3))
    with pytest.raises(ValueError, match="needs 'graph' and 'info'"):
        load_network(tmp_path / "other.npz")
    graph = {"input_shape": [1, 8, 8], "nodes": [{"op": "dense", "name": "d", "input": "input",
                                                  "relu": False}]}
    np.savez(tmp_path / "missing_array.npz", graph=np.array(json.dumps(graph)),
             info=np.array("{}"))
    with pytest.raises(ValueError, match="malformed network graph.*d.weight"):
        load_network(tmp_path / "missing_array.npz")
    save_network(tmp_path / "net.npz", residual_net())
    with np.load(tmp_path / "net.npz") as file:
        arrays = {k: file[k] for k in file.files}
    arrays["fc.weight"] = arrays["fc.weight"][:3]
    np.savez(tmp_path / "wrong_shape.npz", **arrays)
    with pytest.raises(ValueError, match="wrong_shape.npz: node 'fc'.*must fit input"):
        load_network(tmp_path / "wrong_shape.npz")
