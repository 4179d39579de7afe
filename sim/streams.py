"""Stream-rule checkers for cocotb benches: a stream's ``valid``, once high, stays high with
the same payload until the cycle in which ``ready`` is high too (the transfer)."""

from cocotb.triggers import FallingEdge, ReadOnly

__all__ = ["StreamMonitor", "StreamWatch"]


class StreamMonitor:
    """Checks one stream's rules, cycle by cycle (:meth:`sample` once per cycle, with the
    values that the next rising edge acts on)."""

    def __init__(self, name):
        self.name = name
        self.held = None  # the payload offered and not taken in the previous cycle
        self.transfers = 0

    def sample(self, valid, ready, payload, cycle, reset=False):
        """``reset``: the stream's consumer is reset at this edge (an offer may then end)."""
        if self.held is not None:
            if not valid:
                raise AssertionError(f"{self.name}: valid dropped at cycle {cycle} before the "
                                     f"transfer of payload 0x{self.held:x}")
            if payload != self.held:
                raise AssertionError(f"{self.name}: payload changed at cycle {cycle} before "
                                     f"ready (0x{self.held:x} to 0x{payload:x})")
        self.held = payload if valid and not ready and not reset else None
        self.transfers += bool(valid and ready)


class StreamWatch:
    """Monitors on streams inside a design, sampled every cycle by a coroutine of their own.

    ``ports``: {name: (valid, ready, payload) handles}; ``resets``: {name: handle} of a signal
    that resets that stream's consumer. The first violation is kept; :meth:`check` raises it
    (call it at the end of the test) and returns the transfers per stream.
    """

    def __init__(self, clk, ports, resets=None):
        self.clk = clk
        self.ports = ports
        self.resets = resets or {}
        self.monitors = {name: StreamMonitor(name) for name in ports}
        self.violation = None
        self.cycles = 0
        self.known = set()

    async def run(self):
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            for name, (valid, ready, payload) in self.ports.items():
                try:
                    v = int(valid.value)
                    values = (int(ready.value), int(payload.value) if v else None)
                    reset = name in self.resets and bool(int(self.resets[name].value))
                except ValueError:
                    # X or Z. Before a signal is first known this is the simulator's start
                    # (Icarus leaves an idle block's combinational outputs X until an input
                    # changes); afterwards it is a fault.
                    if name in self.known:
                        self.violation = self.violation or AssertionError(
                            f"{name}: unknown valid, ready or payload at cycle {self.cycles}")
                    continue
                self.known.add(name)
                try:
                    self.monitors[name].sample(v, *values, self.cycles, reset)
                except AssertionError as error:
                    self.violation = self.violation or error
            self.cycles += 1

    def check(self):
        if self.violation is not None:
            raise self.violation
        return {name: monitor.transfers for name, monitor in self.monitors.items()}
