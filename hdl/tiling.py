"""Host-side tiling of a layer onto the accelerator, and the stream payloads that carry it.

Pure Python (NumPy and Amaranth's data layouts, no simulator): the host client of a board
(:mod:`hdl.client`) and the simulation driver (:mod:`sim.array_driver`) both use it.

A layer is ``Q_out(relu?((bias + a @ w) * M * 2**(E - shift)))`` on codes: ``a`` (M, K) in
``a_fmt``, ``w`` (K, N) in ``w_fmt``. :func:`plan_layer` cuts it into what the accelerator's
streams take, in order:

- for every tile of ``cols`` output columns: one config transfer (formats, that tile's bias,
  M and shift), then for every chunk of at most ``depth`` rows of ``a``: one pass per tile of
  ``rows`` of K, each a weight tile (``rows`` transfers) and the chunk's activation vectors,
  the first marked ``first``, all of the first K-tile ``acc_first`` and of the last ``acc_last``;
- the accelerator returns one result vector per activation of a last pass, in that order, and
  :meth:`LayerPlan.assemble` puts them back into an (M, N) array.

K, N and M need not be multiples of anything: missing rows and columns are zero codes (zero
in every format), padded output columns are dropped.
"""

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

from golden._checks import check_int

__all__ = ["LayerPlan", "Pass", "plan_layer", "packed_groups", "unpack_result", "pack_payload",
           "unpack_payload"]


@dataclass(frozen=True)
class Pass:
    """One weight tile and the activation vectors that use it."""

    weights: np.ndarray  # (rows, cols) codes
    activations: np.ndarray  # (P, rows) codes
    acc_first: bool
    acc_last: bool
    shifts: np.ndarray = None  # (cols,) block shifts of block-scaled weights, else None


@dataclass
class LayerPlan:
    """Everything the streams carry for one layer, in order, and how results come back."""

    shape: tuple  # (M, N) of the output
    groups: list = field(default_factory=list)  # (config dict, [Pass, ...]) per column tile
    slots: list = field(default_factory=list)  # (row, columns) of each result vector, in order

    @property
    def results(self):
        return len(self.slots)

    def assemble(self, vectors):
        """(M, N) array from the result vectors (each of length ``cols``), in stream order."""
        if len(vectors) != len(self.slots):
            raise ValueError(f"expected {len(self.slots)} result vectors, got {len(vectors)}")
        out = np.zeros(self.shape, dtype=np.int64)
        for (row, columns), vector in zip(self.slots, vectors):
            width = len(range(*columns.indices(self.shape[1])))
            out[row, columns] = np.asarray(vector)[:width]
        return out


def plan_layer(a, w, layer, *, rows, cols, depth, max_K):
    """Tile ``a @ w`` (codes, (M, K) and (K, N)) for a ``rows x cols`` array; see the module."""
    a = layer.a_fmt.check_codes(a)
    w = layer.w_fmt.check_codes(w)
    if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0]:
        raise ValueError(f"Shapes do not fit a matrix product (M, K) @ (K, N): "
                         f"{a.shape} and {w.shape}")
    (M, K), N = a.shape, w.shape[1]
    if N != len(layer.bias):
        raise ValueError(f"the layer has {len(layer.bias)} output columns, w has {N}")
    check_int("K", K, 1, max_K)
    check_int("M", M, 1, 1 << 30)
    k_tiles = -(-K // rows)
    a_padded = np.zeros((M, k_tiles * rows), dtype=np.int64)
    a_padded[:, :K] = a
    n_tiles = -(-N // cols)
    w_padded = np.zeros((k_tiles * rows, n_tiles * cols), dtype=np.int64)
    w_padded[:K, :N] = w
    shifts = None if layer.w_shift is None else _tile_shifts(layer.w_shift, rows, cols)
    plan = LayerPlan((M, N))
    for nt in range(n_tiles):
        columns = slice(nt * cols, min(N, (nt + 1) * cols))
        passes = []
        for start in range(0, M, depth):
            chunk = range(start, min(M, start + depth))
            for kt in range(k_tiles):
                ks = slice(kt * rows, (kt + 1) * rows)
                passes.append(Pass(w_padded[ks, nt * cols:(nt + 1) * cols],
                                   a_padded[chunk.start:chunk.stop, ks],
                                   kt == 0, kt == k_tiles - 1,
                                   None if shifts is None else shifts[kt, nt]))
            plan.slots += [(row, columns) for row in chunk]
        plan.groups.append((layer.config(columns, cols), passes))
    return plan


def _tile_shifts(w_shift, rows, cols):
    """Block shifts (K, N) as one vector of ``cols`` per (K-tile, column tile): every row of
    a K-tile must share its column's shift (a ``ValueError`` otherwise)."""
    K, N = w_shift.shape
    k_tiles, n_tiles = -(-K // rows), -(-N // cols)
    padded = np.zeros((k_tiles * rows, n_tiles * cols), dtype=np.int64)
    padded[:K, :N] = w_shift
    padded[K:] = padded[(k_tiles - 1) * rows]  # padding rows take their tile's shifts
    tiles = padded.reshape(k_tiles, rows, n_tiles, cols)
    if (tiles != tiles[:, :1]).any():
        raise ValueError(f"the block shifts change inside a K-tile of {rows} rows: the block "
                         f"size must be a multiple of the array's rows")
    return tiles[:, 0]  # (k_tiles, n_tiles, cols)


def pack_payload(shape, value):
    """The integer of a port of ``shape`` (an Amaranth layout or shape) holding ``value``:
    a dict for a ``StructLayout``, a sequence for an ``ArrayLayout``, an int otherwise."""
    if isinstance(shape, data.Layout):
        raw = 0
        for key, field in shape:
            raw |= pack_payload(field.shape, value[key]) << field.offset
        return raw
    width = Shape.cast(shape).width
    value = int(value)
    if not -(1 << width) <= value < (1 << width):
        raise ValueError(f"{value} does not fit a {width}-bit field")
    return value & ((1 << width) - 1)


def unpack_payload(shape, raw):
    """Inverse of :func:`pack_payload`: dicts, lists and (sign-extended) ints."""
    if isinstance(shape, data.Layout):
        items = [(key, unpack_payload(field.shape, raw >> field.offset)) for key, field in shape]
        if isinstance(shape, data.ArrayLayout):
            return [value for _, value in items]
        return dict(items)
    shape = Shape.cast(shape)
    value = raw & ((1 << shape.width) - 1)
    if shape.signed and value >> (shape.width - 1):
        value -= 1 << shape.width
    return value


def packed_groups(plan, layouts):
    """The plan's transfers as stream payload integers (``layouts``: ``hdl.accelerator.
    stream_layouts``): per column tile, the config and, per pass, its weight rows and its
    activation vectors (flags set)."""
    blocked = isinstance(layouts["weights"], data.StructLayout)

    def weight_row(step, row):
        if not blocked:
            if step.shifts is not None:
                raise ValueError("the layer's weights are block-scaled (W-MX); the "
                                 "accelerator was built without mx_block")
            return row
        return {"codes": row, "shift": [0] * len(row) if step.shifts is None else step.shifts}

    for config, passes in plan.groups:
        yield pack_payload(layouts["config"], config), [
            ([pack_payload(layouts["weights"], weight_row(step, row))
              for row in step.weights],
             [pack_payload(layouts["activations"], {
                 "codes": codes, "first": int(i == 0), "acc_first": int(step.acc_first),
                 "acc_last": int(step.acc_last)}) for i, codes in enumerate(step.activations)])
            for step in passes]


def unpack_result(layouts, raw):
    """One result payload integer to (codes, NaR flags), a list of ``cols`` each."""
    fields = unpack_payload(layouts["results"], raw)
    return fields["codes"], [(fields["nar"] >> j) & 1 for j in range(len(fields["codes"]))]
