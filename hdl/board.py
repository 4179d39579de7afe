"""The host-linked accelerator on a board: its UART pins, its clock (the board's, or a PLL's)."""

from amaranth.hdl import ClockDomain, Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer

from .hostlink import HostLink
from .pll import PLLSettings
from .standalone.device import ResidentDevice

__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """A :class:`hdl.hostlink.HostLink` (or a :class:`hdl.standalone.device.ResidentDevice`)
    on the board's first UART, clocked by the board's
    default clock or by an iCE40 PLL from it (the link's ``clocks_per_bit`` must match that
    clock and the baud rate).

    Parameters
    ----------
    link : HostLink or ResidentDevice
        The design to put on the pins.
    pll : hdl.pll.PLLSettings or None
        ``None``: the ``sync`` domain is the board's default clock. Otherwise an
        ``SB_PLL40_PAD`` on the default clock's pin (iCE40) makes the ``sync`` clock
        (``pll.output_hz``, constrained for timing at that frequency), held in reset until
        the PLL locks.

    Members
    -------
    None: the top level talks to the platform's pins (``uart`` 0: ``rx`` and ``tx``).
    """

    def __init__(self, *, link, pll=None):
        if not isinstance(link, (HostLink, ResidentDevice)):
            raise TypeError(f"link must be an hdl.hostlink.HostLink or an "
                            f"hdl.standalone.device.ResidentDevice, not {link!r}")
        if pll is not None and not isinstance(pll, PLLSettings):
            raise TypeError(f"pll must be an hdl.pll.PLLSettings or None, not {pll!r}")
        self.link = link
        self.pll = pll
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            self._clock_from_pll(m, platform)
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.link = self.link
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [self.link.rx.eq(rx.i), tx.o.eq(self.link.tx)]
        return m

    def _clock_from_pll(self, m, platform):
        pin = platform.request(platform.default_clk, dir="-")
        m.domains.sync = sync = ClockDomain("sync")
        locked = Signal()
        m.submodules.pll = Instance(
            "SB_PLL40_PAD", **self.pll.parameters,
            p_PLLOUT_SELECT="GENCLK",
            i_PACKAGEPIN=pin.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=sync.clk, o_LOCK=locked)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        platform.add_clock_constraint(sync.clk, self.pll.output_hz)
