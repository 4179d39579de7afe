"""The control reply that the receiver or the executor asks the framer to send."""

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["ReplySignature"]


class ReplySignature(wiring.Signature):
    """A request for one control frame: ``valid`` for one cycle with the reply ``kind`` (ACK,
    ERROR or INFO, :class:`hdl.protocol.Reply`), the ``command`` it answers, the ``seq`` it
    echoes and, for ERROR, the error ``code``."""

    def __init__(self):
        super().__init__({"valid": Out(1), "kind": Out(8), "command": Out(8), "seq": Out(8),
                          "code": Out(8)})
