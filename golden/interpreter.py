"""The interpreter of standalone programs: the sequencer's specification.

:class:`Machine` holds a program's memory and executes its instructions in the hardware's
order (:mod:`golden.program` defines them); its logits equal the integer engine's
(:meth:`golden.ptq.QuantizedNetwork.run_integer`) bit for bit.
"""

from dataclasses import dataclass

import numpy as np

from .arith import Accumulators, matmul, scale
from .program import Flag, Op, Program, ProgramError, channel_position, format_from
from ._checks import check_int

__all__ = ["Machine", "Pass", "matmul_schedule"]


@dataclass(frozen=True)
class Pass:
    """One pass of a ``MATMUL``: a weight tile and the vectors that use it.

    Attributes
    ----------
    group, tile, k_tile : int
        The group, its column tile (``tile`` counts over groups: ``group * tiles + t``) and
        the K-tile.
    weights : int
        The weight tile's code address (``rows x cols`` codes, row-major).
    reads : numpy.ndarray
        Per vector, the code address of its first lane (``rows`` codes from there), or -1
        where the window lies outside the input (a vector of code 0).
    acc_first, acc_last : bool
        The first K-tile (the sums start from the bias) and the last (they are scaled and
        written).
    writes : numpy.ndarray
        Per vector, the code address of its result's column 0 (``width`` codes from there).
    width : int
        Valid columns of the tile.
    """

    group: int
    tile: int
    k_tile: int
    weights: int
    reads: np.ndarray
    acc_first: bool
    acc_last: bool
    writes: np.ndarray
    width: int


def matmul_schedule(i, *, rows, cols, depth):
    """The passes of the ``MATMUL`` instruction ``i`` in the sequencer's order (group, column
    tile, chunk of at most ``depth`` output pixels, K-tile), as :class:`Pass` objects."""
    k_tiles = i.kernel_h * i.kernel_w * i.group_in // rows
    tiles = -(-i.group_out // cols)
    pixels = np.arange(i.out_h * i.out_w)
    for g in range(i.groups):
        for t in range(tiles):
            tile = g * tiles + t
            width = min(cols, i.group_out - t * cols)
            for start in range(0, len(pixels), depth):
                chunk = pixels[start:start + depth]
                oy, ox = chunk // i.out_w, chunk % i.out_w
                writes = i.dst + chunk * i.out_c + g * i.group_stride + t * cols
                for kt in range(k_tiles):
                    tap, first = divmod(kt * rows, i.group_in)
                    ky, kx = divmod(tap, i.kernel_w)
                    iy = oy * i.stride + ky - i.pad_top
                    ix = ox * i.stride + kx - i.pad_left
                    inside = (iy >= 0) & (iy < i.in_h) & (ix >= 0) & (ix < i.in_w)
                    reads = np.where(inside, i.src + (iy * i.in_w + ix) * i.in_c
                                     + g * i.group_in + first, -1)
                    yield Pass(g, tile, kt, i.weights + (tile * k_tiles + kt) * rows * cols,
                               reads, kt == 0, kt == k_tiles - 1, writes, width)


class Machine:
    """The sequencer's specification: a program's memory and its execution.

    Parameters
    ----------
    program : Program
        Loaded once: its weights at address 0, every other code 0.
    depth : int
        Output pixels per chunk of a ``MATMUL`` (the accumulator buffer's depth); changes
        the order of passes, never a result.
    """

    def __init__(self, program, *, depth=256):
        if not isinstance(program, Program):
            raise TypeError(f"program must be a golden.program.Program, not {program!r}")
        self.program = program
        self.depth = check_int("depth", depth, 1, 1 << 20)
        self.memory = np.zeros(program.memory_codes, dtype=np.int64)
        self.memory[:len(program.weights)] = program.weights
        self.passes = 0
        self.formats = {}

    def _fmt(self, data):
        if data not in self.formats:
            self.formats[data] = format_from(self.program.family, data)
        return self.formats[data]

    def load_image(self, codes):
        """Writes one image's codes (``image_codes`` of them, (y, x, c) order) into the
        input tensor."""
        inp, fmt = self.program.input, self.program.input_fmt
        codes = fmt.check_codes(np.asarray(codes))
        if codes.shape != (self.program.image_codes,):
            raise ProgramError(f"an image is {self.program.image_codes} codes, not "
                               f"{codes.shape}")
        pixel, c = np.divmod(np.arange(codes.size), inp["c"])
        position = channel_position(c, inp["group_channels"], inp["group_stride"])
        self.memory[inp["base"] + pixel * inp["stride"] + position] = codes

    def run(self, codes):
        """One image's logits (codes) after every instruction has run."""
        self.load_image(codes)
        for instruction in self.program.instructions:
            if instruction.op == Op.END:
                break
            getattr(self, f"_{Op(instruction.op).name.lower()}")(instruction)
        out = self.program.output
        return self.memory[out["base"]:out["base"] + out["count"]].copy()

    def classify(self, codes):
        """(class, logits) of one image: the first logit of the largest ordinal."""
        logits = self.run(codes)
        return int(np.argmax(self.program.output_fmt.ordinals(logits))), logits

    def _finish(self, i, acc, fmt, M=1, shift=0):
        """The scaling stage, ReLU and clip of one instruction's exact sums."""
        relu = bool(i.flags & Flag.RELU)
        codes = scale(acc, fmt, M=M, shift=shift, relu=relu, limits=self.program.limits)
        if i.flags & Flag.CLIP:
            codes = fmt.from_ordinals(np.minimum(fmt.ordinals(codes), i.clip))
        return codes

    def _matmul(self, i):
        program, memory = self.program, self.memory
        rows, cols = program.rows, program.cols
        a_fmt, w_fmt, out_fmt = self._fmt(i.a_fmt), self._fmt(i.b_fmt), self._fmt(i.out_fmt)
        lanes = np.arange(rows)
        total = None
        for step in matmul_schedule(i, rows=rows, cols=cols, depth=self.depth):
            weights = memory[step.weights:step.weights + rows * cols].reshape(rows, cols)
            inside = step.reads >= 0
            vectors = np.where(inside[:, None], memory[np.maximum(step.reads, 0)[:, None] + lanes],
                               0)
            record = slice(i.params + step.tile * cols, i.params + (step.tile + 1) * cols)
            part = matmul(vectors, a_fmt, weights, w_fmt,
                          bias=program.bias[record] if step.acc_first else None, nar="flag",
                          limits=program.limits)
            total = part.values if step.acc_first else total + part.values
            self.passes += 1
            if step.acc_last:
                acc = Accumulators(total, part.exponent, np.zeros(total.shape, bool))
                codes = self._finish(i, acc, out_fmt, program.M[record], program.shift[record])
                memory[step.writes[:, None] + np.arange(step.width)] = codes[:, :step.width]

    def _windows(self, i):
        """(out pixels, window taps, positions) addresses of a pooling instruction."""
        oy, ox = np.divmod(np.arange(i.out_h * i.out_w), i.out_w)
        ky, kx = np.divmod(np.arange(i.kernel_h * i.kernel_w), i.kernel_w)
        iy = oy[:, None] * i.stride + ky[None, :]
        ix = ox[:, None] * i.stride + kx[None, :]
        return i.src + (iy * i.in_w + ix)[:, :, None] * i.in_c + np.arange(i.in_c)

    def _store(self, i, codes):
        """Codes (out pixels, positions) to the instruction's output tensor."""
        self.memory[i.dst:i.dst + codes.size] = codes.reshape(-1)

    def _maxpool(self, i):
        fmt = self._fmt(i.a_fmt)
        ordinals = fmt.ordinals(self.memory[self._windows(i)])
        self._store(i, fmt.from_ordinals(ordinals.max(axis=1)))

    def _avgpool(self, i):
        fmt = self._fmt(i.a_fmt)
        total = fmt.to_int(self.memory[self._windows(i)], nar="zero").sum(axis=1)
        acc = Accumulators(total, fmt.int_exponent, np.zeros(total.shape, bool))
        self._store(i, self._finish(i, acc, self._fmt(i.out_fmt), self.program.M[i.params],
                                    self.program.shift[i.params]))

    def _add(self, i):
        size = i.in_h * i.in_w * i.in_c
        formats = (self._fmt(i.a_fmt), self._fmt(i.b_fmt))
        exponent = min(f.int_exponent for f in formats)
        total = 0
        for fmt, base in zip(formats, (i.src, i.src2)):
            ints = fmt.to_int(self.memory[base:base + size], nar="zero")
            ints = ints.astype(object if fmt.int_exponent - exponent > 40 else np.int64)
            total = total + (ints << (fmt.int_exponent - exponent))
        acc = Accumulators(np.asarray(total), exponent, np.zeros(size, bool))
        self._store(i, self._finish(i, acc, self._fmt(i.out_fmt)))
