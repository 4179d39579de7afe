"""A quantized network layer by layer on an accelerator: the host side of end-to-end runs.

Every convolution (as im2col rows, columns ordered (c, ky, kx) like the weight matrix; a
grouped or depthwise convolution as one matrix product per group) and dense layer goes to
``run_layer``, an accelerator behind any transport (the simulated array's
driver, the host client over a UART model or a serial port); max-pool, flatten, residual
addition and average pooling run on the host with the golden engine's own steps
(:meth:`golden.ptq.QuantizedNetwork.run_step`) on the codes the accelerator produced, and so
does the ceiling of a clipped ReLU (ReLU6): the array's scaling stage applies ``max(y, 0)``,
the host clips its result codes at the ceiling's code (:func:`golden.ptq.clip_codes`, exact).
"""

import numpy as np

from golden.conv import group_slices, im2col
from golden.network import relu_ceiling
from golden.ptq import check_runnable, clip_codes

__all__ = ["run_network", "run_on_device", "check_fits", "check_runnable", "largest_K",
           "classify_resident"]


def largest_K(network):
    """The longest dot product of a network's conv and dense layers (the array's max_K)."""
    return max(int(node["weight"][0].size) if node.op == "conv" else node["weight"].shape[0]
               for node in network.nodes if node.op in ("conv", "dense"))


def check_fits(qnet, family, limits, max_K, where="the device", *, mx_block=None, rows=1,
               mx_spread=0):
    """A ``ValueError`` unless an accelerator built for ``family`` with ``limits`` and
    ``max_K`` (``where``: "the device", "the array") is the one ``qnet``'s scheme and width
    pick and holds its longest dot product; block-scaled weights need a build with block
    shifters (``mx_block``) whose ``rows`` divide the network's blocks and whose largest
    shift ``mx_spread`` holds the network's."""
    wanted = qnet.hardware_family
    if family != wanted or limits != qnet.limits:
        raise ValueError(f"{where} runs {family.label} with {limits}; the network needs "
                         f"{wanted.label} with {qnet.limits}")
    if qnet.mx_block is not None and (mx_block is None or qnet.mx_block % rows):
        raise ValueError(f"{qnet.scheme} has block-scaled weights in blocks of "
                         f"{qnet.mx_block}: {where} needs block shifters (make synth "
                         f"MX_BLOCK=...) and rows that divide {qnet.mx_block}" +
                         ("" if mx_block is None else f", not {rows}"))
    if qnet.mx_block is not None and qnet.block_spread > mx_spread:
        raise ValueError(f"{qnet.scheme}'s block shifts reach {qnet.block_spread}; {where} "
                         f"shifts by at most {mx_spread} (make synth MX_SPREAD=, or tent "
                         f"quantize --mx-spread {mx_spread})")
    longest = largest_K(qnet.network)
    if longest > max_K:
        raise ValueError(f"the network's longest dot product (K = {longest}) exceeds "
                         f"{where}'s max_K = {max_K}")


async def run_network(qnet, x, run_layer, family):
    """The codes of every node of ``qnet`` on the images ``x`` (preprocessed floats), by node
    name (``"input"`` included), with every matrix product computed by ``await
    run_layer(node, rows, w_codes, layer)`` (codes (M, K), (K, N) and the
    :class:`golden.layers.Layer`; it returns the (M, N) output codes)."""
    check_runnable(qnet, family)
    codes = {"input": qnet.input_fmt.quantize(qnet.network.check_input(x))}
    for node in qnet.network.nodes:
        inputs = [codes[name] for name in node.inputs]
        if node.op == "dense":
            step = qnet.steps[node.name]
            out = np.asarray(await run_layer(node, inputs[0], step.w_codes,
                                             step.layer(family, qnet.limits)))
            out = clip_codes(out, step.out_fmt, relu_ceiling(node))
        elif node.op == "conv":
            out = await _convolution(qnet, node, inputs[0], run_layer, family)
        else:
            out = qnet.run_step(node.name, inputs)
        codes[node.name] = out
    return codes


async def _convolution(qnet, node, x, run_layer, family):
    """A convolution through ``run_layer``: one matrix product per group (im2col rows of the
    group's input channels, its weight columns and per-channel parameters)."""
    step = qnet.steps[node.name]
    parts = []
    for inputs, outputs in group_slices(x.shape[1], len(step.bias), node.attrs.get("groups", 1)):
        rows, (oh, ow) = im2col(x[:, inputs], node["weight"].shape[2:], stride=node["stride"],
                                padding=node["padding"])
        parts.append(np.asarray(await run_layer(node, rows, step.w_codes[:, outputs],
                                                step.layer(family, qnet.limits, outputs))))
    out = clip_codes(np.concatenate(parts, axis=-1), step.out_fmt, relu_ceiling(node))
    return out.reshape(len(x), oh, ow, -1).transpose(0, 3, 1, 2)


async def run_on_device(client, qnet, x):
    """:func:`run_network` through a :class:`hdl.client.HostClient` (a board, or the UART
    model in simulation): the build's INFO must name the network's family and scaling limits
    and hold its longest dot product."""
    from golden.family import parse_family

    build = await client.info()
    family = parse_family(build.family)
    check_fits(qnet, family, build.limits, build.max_K, mx_block=build.mx_block,
               rows=build.rows, mx_spread=build.mx_spread)

    async def run_layer(node, rows, w_codes, layer):
        codes, _ = await client.run_layer(rows, w_codes, layer)
        return codes

    return await run_network(qnet, x, run_layer, family)


async def classify_resident(client, program, codes, *, progress=None):
    """Loads ``program`` (a :class:`golden.program.Program`) on a resident device through
    ``client`` (a connected :class:`hdl.client.ResidentClient`) unless it is there already,
    then classifies each image of ``codes`` (input codes, one row an image) on the board,
    pipelined (:meth:`hdl.client.ResidentClient.classify_many`), each checked bit-exact
    against the golden interpreter (:class:`RuntimeError` otherwise).
    ``progress(done, total)`` after each image. Returns ``(labels, sent)``: the classes and
    whether the program was sent."""
    from golden.interpreter import Machine

    await client.info()  # what the device holds now
    sent = await client.load(program.to_bytes())  # checks that it fits the build first
    machine = Machine(program)  # stale memory never changes a result
    labels = []

    def check(k, result):
        label, logits = result
        want_label, want = machine.classify(codes[k])
        want = [int(v) for v in want]
        if (label, logits) != (want_label, want):
            raise RuntimeError(f"image {k}: the board's class {label} and logits {logits} "
                               f"differ from the golden interpreter's ({want_label}, {want})")
        labels.append(label)
        if progress:
            progress(k + 1, len(codes))

    await client.classify_many(codes, on_result=check)  # the next image sent during this one
    return labels, sent
