"""The compiler of standalone programs: a quantized network as a :class:`golden.program.Program`
(the memory layout, instructions, parameter records and weight tiles that
:mod:`golden.program` defines).

Tensor layouts: a tensor that a grouped convolution reads pads each group's channels to
``rows``; pooling and addition tie their inputs' and output's layouts together; a tensor
that two layers would read in different groupings is a compile error. Matrix products
index their weight rows and columns by memory position, so a product reads and writes any
layout; padding positions get zero weights and (written) zero codes.

Memory: weights from address 0 in the order instructions read them; activations above,
each tensor allocated (first fit, aligned to :data:`golden.program.ALIGN` and ``rows``)
before its producer runs and freed after its last reader, so that no instruction's output
overlaps its inputs.
"""

import math

import numpy as np

from .conv import padding_sides
from .network import relu_ceiling
from .ptq import check_runnable
from .program import (ALIGN, UP5K_MEMORY_CODES, Flag, Instruction, Layout, Op, Program,
                      ProgramError, add_alignment, checked_instruction, format_bytes)
from ._checks import check_int

__all__ = ["compile_network"]


def compile_network(qnet, *, rows, cols, memory_codes=UP5K_MEMORY_CODES, name=""):
    """The :class:`Program` of ``qnet`` (a :class:`golden.ptq.QuantizedNetwork`) for an array
    of ``rows x cols`` and a memory of ``memory_codes`` codes; a one-line
    :class:`ProgramError` naming the layer and the limit when it cannot be expressed (a
    scheme the hardware does not build, a layout conflict, a field or the memory too
    small). ``name``: up to 16 printable ASCII characters, stored in the header."""
    from .ptq import QuantizedNetwork
    if not isinstance(qnet, QuantizedNetwork):
        raise TypeError(f"qnet must be a golden.ptq.QuantizedNetwork, not {qnet!r}")
    rows = check_int("rows", rows, 1, 64)
    cols = check_int("cols", cols, 1, 64)
    memory_codes = check_int("memory_codes", memory_codes, 1, 1 << 32)
    if not (isinstance(name, str) and len(name) <= 16 and name.isascii()
            and name.isprintable()):
        raise ValueError(f"name must be up to 16 printable ASCII characters, not {name!r}")
    return _Compiler(qnet, rows, cols, memory_codes, name).program()


class _Compiler:
    def __init__(self, qnet, rows, cols, memory_codes, name):
        self.qnet, self.rows, self.cols = qnet, rows, cols
        self.memory_codes, self.name = memory_codes, name
        self.family = qnet.family
        self.network = qnet.network
        self._check_runnable()
        self.alias = {}  # flatten -> the tensor it views
        for node in self.network.nodes:
            if node.op == "flatten":
                self.alias[node.name] = self.source(node.inputs[0])
        self.layouts = self._layouts()
        self.instructions, self.weights, self.records = [], [], []
        self.products = {}  # MATMUL fields of each product's weights and geometry, by node
        self.max_k = rows

    def source(self, name):
        return self.alias.get(name, name)

    def _check_runnable(self):
        qnet, family = self.qnet, self.family
        if qnet.mx_block is not None:
            raise ProgramError(f"{qnet.scheme} has block-scaled weights (W-MX): the standalone "
                               f"core does not build them yet; the simulated array runs them "
                               f"(tent run)")
        if qnet.hardware_family != family:
            raise ProgramError(f"{qnet.scheme} has unsigned tensors ({qnet.hardware_family.label}"
                               f"): the standalone core does not build unsigned activations "
                               f"yet; the coprocessor runs them (tent run, tent deploy)")
        try:
            check_runnable(qnet, family)
        except ValueError as error:
            raise ProgramError(str(error)) from None
        for name, step in qnet.steps.items():
            where = f"layer {name!r}"
            formats = [qnet.format_of(source) for source in step.node.inputs] + [step.out_fmt]
            for fmt in formats:
                try:
                    family.check_member(fmt)
                except ValueError:
                    raise ProgramError(f"{where}: {fmt.label} is not a member of the "
                                       f"hardware's family {family.label} ({qnet.scheme})"
                                       ) from None

    def shape(self, name):
        """(C, H, W) of a tensor (a vector is C x 1 x 1)."""
        shape = (self.network.input_shape if name == "input" else self.network.shapes[name])
        return tuple(shape) + (1,) * (3 - len(shape))

    def _layouts(self):
        """Every stored tensor's :class:`Layout`: grouped where a grouped convolution reads
        it, shared by the tensors that pooling and addition tie together."""
        parent = {}

        def find(name):
            while parent.get(name, name) != name:
                name = parent[name]
            return name

        for node in self.network.nodes:
            if node.op in ("maxpool", "avgpool", "add"):
                for source in node.inputs:
                    parent[find(self.source(source))] = find(node.name)
        wanted = {}
        for node in self.network.nodes:
            groups = node.attrs.get("groups", 1) if node.op == "conv" else 1
            if groups > 1:
                root = find(self.source(node.inputs[0]))
                if wanted.get(root, (groups,))[0] != groups:
                    raise ProgramError(
                        f"layer {node.name!r} reads its input in {groups} groups, but layer "
                        f"{wanted[root][1]!r} reads the same tensor, or one that pooling or "
                        f"addition ties to it, in {wanted[root][0]}; a standalone program "
                        f"stores them one way")
                wanted[root] = (groups, node.name)
        names = ["input"] + [node.name for node in self.network.nodes
                             if node.op != "flatten"]
        return {name: Layout(self.shape(name)[0], wanted.get(find(name), (1,))[0], self.rows)
                for name in names}

    def program(self):
        qnet = self.qnet
        # Weights first (addresses 0...), then the activations.
        for node in self.network.nodes:
            if node.op in ("conv", "dense"):
                self._matmul_weights(node)
        weight_count = sum(len(w) for w in self.weights)
        allocator = _Allocator(_aligned(weight_count, math.lcm(ALIGN, self.rows)),
                               math.lcm(ALIGN, self.rows))
        last_use = {}
        for index, node in enumerate(self.network.nodes):
            for source in node.inputs:
                last_use[self.source(source)] = index
        output = self.source(self.network.output)
        base = {"input": allocator.take(self._size("input"))}
        peak, peak_at = allocator.end, "input"
        for index, node in enumerate(self.network.nodes):
            if node.op == "flatten":
                continue
            base[node.name] = allocator.take(self._size(node.name))
            if allocator.end > peak:
                peak, peak_at = allocator.end, node.name
            self.instructions.append(self._instruction(node, base))
            for source in {self.source(s) for s in node.inputs}:
                if last_use[source] == index and source != output:
                    allocator.free(base[source])
        if peak > self.memory_codes:
            raise ProgramError(
                f"the network needs {peak:,} codes of memory ({weight_count:,} of weights, "
                f"the rest activations, at its peak at layer {peak_at!r}); the memory holds "
                f"{self.memory_codes:,}")
        self.instructions.append(Instruction(Op.END))
        out_layout, out_shape = self.layouts[output], self.shape(output)
        if out_shape[1:] != (1, 1) or out_layout.groups != 1:
            raise ProgramError(f"the network's output {output!r} has shape {out_shape}; a "
                               f"standalone program ends with a vector of logits")
        family = self.family
        in_layout, (C, H, W) = self.layouts["input"], self.shape("input")
        records = np.array(self.records, dtype=object).reshape(-1, 3)
        bias_type = np.int64 if qnet.limits.bias_bits <= 64 else object
        return Program(
            family, self.rows, self.cols, qnet.limits, tuple(self.instructions),
            records[:, 0].astype(bias_type), records[:, 1].astype(np.int64),
            records[:, 2].astype(np.int64),
            np.concatenate(self.weights).astype(np.int64) if self.weights
            else np.zeros(0, np.int64),
            peak, self.max_k,
            max([i.kernel_h * i.kernel_w for i in self.instructions if i.op == Op.AVGPOOL],
                default=0),
            max([add_alignment(family, i) for i in self.instructions if i.op == Op.ADD],
                default=0),
            {"base": base["input"], "h": H, "w": W, "c": C, "stride": in_layout.stride,
             "group_channels": in_layout.group_channels,
             "group_stride": in_layout.group_stride,
             "fmt": format_bytes(family, qnet.input_fmt)},
            {"base": base[output], "count": out_shape[0],
             "fmt": format_bytes(family, qnet.format_of(output))},
            self.name)

    def _size(self, name):
        _, H, W = self.shape(name)
        return H * W * self.layouts[name].stride

    # Matrix products: weights and parameters by memory position.

    def _matmul_geometry(self, node):
        """(groups, group_in, kernel, the input channel at each K position of a group,
        group_out, group_stride, the output channel at each column of each group)."""
        source = self.source(node.inputs[0])
        in_layout, out_layout = self.layouts[source], self.layouts[node.name]
        where = f"layer {node.name!r}"
        if node.op == "dense":
            _, H, W = self.shape(source)
            # Memory position (y, x, p) holds flatten index c * H * W + y * W + x.
            channel = in_layout.channel_at()
            pixel = np.arange(H * W)
            row = np.where(channel[None, :] >= 0, channel[None, :] * H * W + pixel[:, None], -1)
            groups, group_in, kernel, row_of = 1, H * W * in_layout.stride, (1, 1), row.ravel()
        else:
            groups = node.attrs.get("groups", 1)
            kernel = node["weight"].shape[2:]
            if groups == 1:
                group_in, channel = in_layout.stride, in_layout.channel_at()
            else:
                group_in = in_layout.group_stride
                channel = np.arange(group_in)
                channel[in_layout.group_channels:] = -1
            kh, kw = kernel
            # K index (ky, kx, p) reads channel[p]; the weight row is c * KH * KW + ky * KW + kx.
            taps = np.arange(kh * kw)
            row_of = np.where(channel[None, :] >= 0, channel[None, :] * kh * kw + taps[:, None],
                              -1).ravel()
        out_channels = self.shape(node.name)[0]
        per_group = out_channels // groups
        if groups == 1:
            group_out, group_stride = out_layout.stride, 0
            column_of = out_layout.channel_at()[None, :]
        elif out_layout.groups == groups:
            group_out = group_stride = out_layout.group_stride
            column_of = np.full((groups, group_out), -1)
            column_of[:, :per_group] = (np.arange(groups)[:, None] * per_group
                                        + np.arange(per_group))
        elif out_layout.groups == 1:
            group_out = group_stride = per_group
            column_of = np.arange(groups)[:, None] * per_group + np.arange(per_group)
        else:
            raise ProgramError(f"{where}: a convolution in {groups} groups cannot write a "
                               f"tensor read in {out_layout.groups} groups")
        return groups, group_in, kernel, row_of, group_out, group_stride, column_of

    def _matmul_weights(self, node):
        step, rows, cols = self.qnet.steps[node.name], self.rows, self.cols
        (groups, group_in, kernel, row_of, group_out, group_stride,
         column_of) = self._matmul_geometry(node)
        tiles = -(-group_out // cols)
        k = kernel[0] * kernel[1] * group_in
        self.max_k = max(self.max_k, k)
        w = np.asarray(step.w_codes)
        start = sum(len(part) for part in self.weights)
        blocks = []
        for g in range(groups):
            columns = np.full(tiles * cols, -1)
            columns[:group_out] = column_of[g]
            matrix = np.zeros((k, tiles * cols), dtype=np.int64)
            valid = (row_of[:, None] >= 0) & (columns[None, :] >= 0)
            # A grouped weight matrix holds each group's rows in its own columns.
            r = np.broadcast_to(row_of[:, None], valid.shape)
            c = np.broadcast_to(columns[None, :], valid.shape)
            matrix[valid] = w[r[valid], c[valid]]
            tiled = matrix.reshape(k // rows, rows, tiles, cols).transpose(2, 0, 1, 3)
            blocks.append(tiled.ravel())
            for channel in columns:
                self.records += ([0, 1, 0] if channel < 0 else
                                 [int(step.bias[channel]), int(step.M[channel]),
                                  int(step.shift[channel])])
        self.weights.append(np.concatenate(blocks))
        self.products[node.name] = dict(
            weights=start, params=len(self.records) // 3 - groups * tiles * cols,
            groups=groups, group_in=group_in, group_out=group_out, group_stride=group_stride,
            kernel_h=kernel[0], kernel_w=kernel[1])

    def _instruction(self, node, base):
        qnet, step = self.qnet, self.qnet.steps[node.name]
        family = self.family
        where = f"layer {node.name!r}"
        source = self.source(node.inputs[0])
        _, H, W = self.shape(source)
        _, OH, OW = self.shape(node.name)
        fields = dict(src=base[source], dst=base[node.name], in_h=H, in_w=W,
                      in_c=self.layouts[source].stride, out_h=OH, out_w=OW,
                      out_c=self.layouts[node.name].stride,
                      a_fmt=format_bytes(family, qnet.format_of(node.inputs[0])),
                      out_fmt=format_bytes(family, step.out_fmt), node=node.name)
        ceiling = relu_ceiling(node) if node.op in ("conv", "dense", "add") else None
        flags = 0 if ceiling is None else Flag.RELU
        if ceiling is not None and ceiling != math.inf:
            flags |= Flag.CLIP
            fmt = step.out_fmt
            fields["clip"] = int(fmt.ordinals(fmt.quantize(np.array([ceiling])))[0])
        fields["flags"] = int(flags)
        if node.op in ("conv", "dense"):
            fields.update(self.products[node.name], b_fmt=format_bytes(family, step.w_fmt))
            if node.op == "dense":
                fields.update(in_h=1, in_w=1, in_c=fields["group_in"])
            else:
                top, left, _, _ = padding_sides(node["padding"])
                fields.update(stride=node["stride"], pad_top=top, pad_left=left)
            return checked_instruction(Instruction(Op.MATMUL, **fields), where)
        if node.op == "maxpool":
            fields.update(kernel_h=node["kernel"], kernel_w=node["kernel"],
                          stride=node["stride"], out_fmt=bytes(4))
            return checked_instruction(Instruction(Op.MAXPOOL, **fields), where)
        if node.op == "avgpool":
            kernel = (node["kernel"],) * 2 if "kernel" in node.attrs else (H, W)
            fields.update(kernel_h=kernel[0], kernel_w=kernel[1],
                          stride=node.attrs.get("stride", 1), params=len(self.records) // 3)
            self.records += [0, int(step.M), int(step.shift)]
            return checked_instruction(Instruction(Op.AVGPOOL, **fields), where)
        other = self.source(node.inputs[1])
        if self.layouts[other] != self.layouts[source]:
            raise ProgramError(f"{where}: its inputs are stored in different layouts")
        fields.update(src2=base[other], b_fmt=format_bytes(family, qnet.format_of(other)))
        return checked_instruction(Instruction(Op.ADD, **fields), where)


def _aligned(address, alignment):
    return -(-address // alignment) * alignment


class _Allocator:
    """First fit over the activation memory above ``start``; ``end`` is the high mark."""

    def __init__(self, start, alignment):
        self.start, self.alignment, self.end = start, alignment, start
        self.used = {}  # base -> size

    def take(self, size):
        size = _aligned(max(size, 1), self.alignment)
        address = self.start
        for base, length in sorted(self.used.items()):
            if base - address >= size:
                break
            address = max(address, base + length)
        self.used[address] = size
        self.end = max(self.end, address + size)
        return address

    def free(self, base):
        del self.used[base]


