"""The host-linked accelerator on a board: its UART pins, its default clock."""

from amaranth.hdl import Module
from amaranth.lib import io, wiring

from .hostlink import HostLink

__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """A :class:`hdl.hostlink.HostLink` on the board's first UART, clocked by the board's
    default clock (its ``clocks_per_bit`` must match that clock and the baud rate).

    Parameters
    ----------
    link : HostLink
        The link to put on the pins.

    Members
    -------
    None: the top level talks to the platform's pins (``uart`` 0: ``rx`` and ``tx``).
    """

    def __init__(self, *, link):
        if not isinstance(link, HostLink):
            raise TypeError(f"link must be an hdl.hostlink.HostLink, not {link!r}")
        self.link = link
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.link = self.link
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [self.link.rx.eq(rx.i), tx.o.eq(self.link.tx)]
        return m
