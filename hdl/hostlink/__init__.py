"""The accelerator behind a UART host link (:class:`HostLink`) and its parts: the frame
receiver, the executor and the reply framer (protocol: :mod:`hdl.protocol`)."""

from .executor import FrameExecutor
from .framer import ReplyFramer
from .link import HostLink
from .receiver import FrameReceiver

__all__ = ["HostLink", "FrameReceiver", "FrameExecutor", "ReplyFramer"]
