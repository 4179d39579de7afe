"""ONNX graphs for the import and CLI tests, built with onnx.helper (no PyTorch)."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["tensor", "int_tensor", "graph_model", "network_to_onnx", "separable_model"]


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def int_tensor(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def graph_model(nodes, initializers, input_shape, output_shape=(None, 10), opset=17):
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                      [None, *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(result)
    return result


def network_to_onnx(network):
    """The project's own network as ONNX (test helper: conv, batchnorm, relu, maxpool,
    avgpool, add, flatten, dense), for a round trip."""
    nodes, inits = [], []
    for node in network.nodes:
        ins = [n if n != "input" else "x" for n in node.inputs]
        out = "y" if node is network.nodes[-1] else node.name
        if node.op == "conv":
            p = node["padding"]
            inits += [tensor(f"{node.name}.w", node["weight"]), tensor(f"{node.name}.b",
                                                                     node["bias"])]
            nodes.append(helper.make_node("Conv", [ins[0], f"{node.name}.w", f"{node.name}.b"],
                                          [out], name=node.name, pads=[p] * 4,
                                          strides=[node["stride"]] * 2))
        elif node.op == "dense":
            inits += [tensor(f"{node.name}.w", node["weight"]), tensor(f"{node.name}.b",
                                                                     node["bias"])]
            nodes.append(helper.make_node("Gemm", [ins[0], f"{node.name}.w", f"{node.name}.b"],
                                          [out], name=node.name))
        elif node.op == "batchnorm":
            names = [f"{node.name}.{k}" for k in ("gamma", "beta", "mean", "var")]
            inits += [tensor(n, node[k]) for n, k in zip(names, ("gamma", "beta", "mean", "var"), strict=True)]
            nodes.append(helper.make_node("BatchNormalization", [ins[0], *names], [out],
                                          name=node.name, epsilon=node["eps"]))
        elif node.op == "maxpool":
            nodes.append(helper.make_node("MaxPool", ins, [out], name=node.name,
                                          kernel_shape=[node["kernel"]] * 2,
                                          strides=[node["stride"]] * 2))
        else:
            op = {"relu": "Relu", "avgpool": "GlobalAveragePool", "add": "Add",
                  "flatten": "Flatten"}[node.op]
            nodes.append(helper.make_node(op, ins, [out], name=node.name))
        if node.attrs.get("relu"):
            raise AssertionError("export the unfolded network")
    return graph_model(nodes, inits, network.input_shape)


def separable_model(rng):
    """A MobileNet-style block: Conv+BN+ReLU6, a depthwise 3x3 (stride 2) +BN+ReLU6, a 1x1
    pointwise Conv, a grouped (4 groups) Conv, global pooling and a Gemm."""
    def conv(name, source, weight, **attrs):
        return helper.make_node("Conv", [source, f"{name}.w", f"{name}.b"], [name], name=name,
                                **attrs)

    def bn(name, source):
        return helper.make_node("BatchNormalization", [source] + [
            f"{name}.{k}" for k in ("g", "beta", "mu", "var")], [name], name=name)

    nodes = [conv("c1", "x", None, kernel_shape=[3, 3], pads=[1, 1, 1, 1]), bn("bn1", "c1"),
             helper.make_node("Clip", ["bn1", "zero", "six"], ["r1"], name="relu6_1"),
             conv("dw", "r1", None, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2],
                  group=8),
             bn("bn2", "dw"), helper.make_node("Clip", ["bn2", "zero", "six"], ["r2"],
                                               name="relu6_2"),
             conv("pw", "r2", None, kernel_shape=[1, 1]),
             helper.make_node("Relu", ["pw"], ["r3"], name="relu3"),
             conv("gc", "r3", None, kernel_shape=[3, 3], pads=[0, 1, 1, 0], group=4),
             helper.make_node("GlobalAveragePool", ["gc"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc")]
    inits = [tensor("zero", 0.0), tensor("six", 6.0), tensor("wf", rng.normal(0, 0.5, (8, 10))),
             tensor("bf", rng.normal(0, 1, 10))]
    for name, shape in (("c1", (8, 3, 3, 3)), ("dw", (8, 1, 3, 3)), ("pw", (12, 8, 1, 1)),
                        ("gc", (8, 3, 3, 3))):
        inits += [tensor(f"{name}.w", rng.normal(0, 1.0, shape)),
                  tensor(f"{name}.b", rng.normal(0.5, 0.3, shape[0]))]
    for name in ("bn1", "bn2"):
        inits += [tensor(f"{name}.g", rng.uniform(0.5, 1.5, 8)),
                  tensor(f"{name}.beta", rng.normal(0.5, 0.5, 8)),
                  tensor(f"{name}.mu", rng.normal(0, 0.1, 8)),
                  tensor(f"{name}.var", rng.uniform(0.5, 2, 8))]
    return graph_model(nodes, inits, (3, 10, 10))
