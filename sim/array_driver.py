"""cocotb driver of :class:`hdl.accelerator.Accelerator`: runs tiled layers through its streams.

One coroutine owns all four streams and the clock, cycle by cycle: at each falling edge it
drives the sources, then waits for the read-only phase, where ``valid & ready`` shows which
transfers the next rising edge makes. Sources may idle at random between transfers (input
gaps; once a source shows an item it holds it, valid and payload, until it is taken: the
stream rules) and the sink may refuse at random (output stalls); neither may change any
result, only the cycle count. A :class:`sim.streams.StreamMonitor` on each of the four streams
fails the run when the design (results) or the driver itself (the inputs) breaks the stream
rules. Optional parameters: ``period_ns`` (the clock) and ``settle_ns`` (for a gate netlist
with delays: the outputs are read that long after the falling edge, not in its time step).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, Timer

from golden.arith import ScalingLimits
from golden.family import parse_family
from hdl.accelerator import stream_layouts
from hdl.tiling import packed_groups, plan_layer, unpack_result
from .common import CLOCK_PERIOD_NS, ClockedBench
from .streams import StreamMonitor

__all__ = ["ArrayDriver", "RunStats", "accelerator_params"]


def accelerator_params(array):
    """The runner parameters :class:`ArrayDriver` reads, from the accelerator that was built."""
    return {"family": array.family.spec, "rows": array.rows, "cols": array.cols,
            "max_K": array.max_K, "depth": array.depth,
            "limits": dataclasses.asdict(array.limits), "mx_block": array.mx_block,
            "block_shift": array.block_shift}


@dataclass
class RunStats:
    """Cycle counts of one :meth:`ArrayDriver.run`."""

    cycles: int  # from the first input transfer to the last result, both included
    activations: int  # activation vectors streamed (padding included)
    results: int

    def utilisation(self, useful_macs, pes):
        """Useful MACs over PE-cycles: tile switches, loading and draining all included."""
        return useful_macs / (pes * self.cycles)


class ArrayDriver:
    """Drives an accelerator built with the parameters in ``p`` (the runner's JSON)."""

    def __init__(self, dut, p):
        self.dut = dut
        self.family = parse_family(p["family"])
        self.rows, self.cols = p["rows"], p["cols"]
        self.depth, self.max_K = p["depth"], p["max_K"]
        self.limits = ScalingLimits(**p["limits"])
        self.mx_block, self.block_shift = p.get("mx_block"), p.get("block_shift", 0)
        self.layouts = stream_layouts(self.family, self.rows, self.cols, self.limits,
                                      p.get("block_shift", 0))
        self.clock = ClockedBench(dut, p.get("period_ns", CLOCK_PERIOD_NS))
        # A timed gate netlist needs time after the falling edge before its outputs settle.
        self.settle_ns = p.get("settle_ns")

    async def start(self):
        for port in ("config", "weights", "activations"):
            getattr(self.dut, f"{port}__valid").value = 0
        self.dut.results__ready.value = 0
        await self.clock.start()

    def plan(self, a, w, layer):
        return plan_layer(a, w, layer, rows=self.rows, cols=self.cols, depth=self.depth,
                          max_K=self.max_K)

    def _queues(self, plans):
        """The control queue (configs and activations, in order) and the weight queue, each
        weight tile tagged with the config its layer starts with (it must not load earlier:
        it is decoded with that layer's w_IS)."""
        control, weights = [], []
        configs = 0
        for plan in plans:
            layer_config = configs
            for config, passes in packed_groups(plan, self.layouts):
                control.append(("config", config))
                configs += 1
                for rows, vectors in passes:
                    weights += [(row, layer_config) for row in rows]
                    control += [("vector", vector) for vector in vectors]
        return control, weights

    async def run(self, plans, *, rng=None, input_gaps=0.0, output_stalls=0.0, timeout=None):
        """Stream every plan; returns (one list of (codes, nars) result vectors per plan, stats).

        ``input_gaps`` and ``output_stalls`` are the probabilities that a source idles or the
        sink refuses in a given cycle.
        """
        dut = self.dut
        rng = rng or np.random.default_rng(0)
        control, weights = self._queues(plans)
        expected = sum(plan.results for plan in plans)
        timeout = timeout or 50 * (len(control) + len(weights) + expected) + 1000
        results, configs_taken = [], 0
        ci = wi = 0
        c_shown = w_shown = False  # an item is offered and not yet taken: hold it
        monitors = {name: StreamMonitor(name) for name in
                    ("config", "weights", "activations", "results")}
        first_cycle = last_cycle = None
        for cycle in range(timeout):
            if len(results) == expected and ci == len(control) and wi == len(weights):
                break
            await FallingEdge(dut.clk)
            # Sources: present the next item unless idling.
            c_item = control[ci] if ci < len(control) else None
            c_show = c_item is not None and (c_shown or not (input_gaps and rng.random() < input_gaps))
            dut.config__valid.value = int(c_show and c_item[0] == "config")
            dut.activations__valid.value = int(c_show and c_item[0] == "vector")
            if c_show:
                port = dut.config__payload if c_item[0] == "config" else dut.activations__payload
                port.value = c_item[1]
            w_item = weights[wi] if wi < len(weights) else None
            w_show = (w_item is not None and w_item[1] < configs_taken
                      and (w_shown or not (input_gaps and rng.random() < input_gaps)))
            dut.weights__valid.value = int(w_show)
            if w_show:
                dut.weights__payload.value = w_item[0]
            sink_ready = not (output_stalls and rng.random() < output_stalls)
            dut.results__ready.value = int(sink_ready)
            if self.settle_ns:
                await Timer(self.settle_ns, unit="ns")
            await ReadOnly()
            fired = False
            c_shown, w_shown = c_show, w_show
            if c_show and int((dut.config__ready if c_item[0] == "config"
                               else dut.activations__ready).value):
                configs_taken += c_item[0] == "config"
                ci += 1
                fired = True
                c_shown = False
            if w_show and int(dut.weights__ready.value):
                wi += 1
                fired = True
                w_shown = False
            for name in ("config", "weights", "activations", "results"):
                valid = int(getattr(dut, f"{name}__valid").value)
                ready = int(getattr(dut, f"{name}__ready").value)
                payload = int(getattr(dut, f"{name}__payload").value) if valid else None
                monitors[name].sample(valid, ready, payload, cycle)
            if fired and first_cycle is None:
                first_cycle = cycle
            if sink_ready and int(dut.results__valid.value):
                results.append(unpack_result(self.layouts, int(dut.results__payload.value)))
                last_cycle = cycle
                if len(results) > expected:
                    raise AssertionError(f"more results than the {expected} expected")
        else:
            raise AssertionError(
                f"timed out after {timeout} cycles: {ci}/{len(control)} control items, "
                f"{wi}/{len(weights)} weight rows, {len(results)}/{expected} results")
        await FallingEdge(dut.clk)
        for port in ("config", "weights", "activations"):
            getattr(dut, f"{port}__valid").value = 0
        split, start = [], 0
        for plan in plans:
            split.append(results[start:start + plan.results])
            start += plan.results
        vectors = sum(1 for item in control if item[0] == "vector")
        return split, RunStats(last_cycle - first_cycle + 1, vectors, expected)
