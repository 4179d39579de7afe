"""ONNX graphs for the import and CLI tests, built with onnx.helper (no PyTorch)."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["tensor", "int_tensor", "graph_model", "network_to_onnx"]


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
            inits += [tensor(n, node[k]) for n, k in zip(names, ("gamma", "beta", "mean", "var"))]
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
