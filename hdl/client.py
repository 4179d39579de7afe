"""Host client of the accelerator's UART link (protocol: :mod:`hdl.protocol`).

Pure Python: it imports neither cocotb nor Amaranth's simulator, so a user talking to a board
needs only the project's run-time dependencies (pyserial for :class:`SerialTransport`).

The client is written once, against a transport with two coroutines, ``write(data)`` and
``read(timeout) -> bytes`` (empty when nothing came in ``timeout`` seconds), and a ``clock()``
in seconds: a serial port (:class:`SerialTransport`), or a UART model in cocotb simulation
(:mod:`sim.tb_hostlink`, simulated time). Every reply has one deadline, ``timeout`` seconds
after its frame was sent (or after the previous result, while results are awaited), however
much noise arrives meanwhile; bytes that form no valid frame are skipped. It
tiles a layer with :func:`hdl.tiling.plan_layer` for the build the device reports, sends one
frame at a time, waits for each ACK, and collects RESULT frames.
"""

import asyncio
import time

from golden.family import parse_family
from .accelerator import stream_layouts
from .protocol import (DEVICE_SYNC, HOST_SYNC, BuildInfo, Command, Error, FrameDecoder,
                       ProtocolError, Reply, encode_frame, item_bytes)
from .tiling import packed_groups, plan_layer, unpack_result

__all__ = ["HostClient", "DeviceError", "SerialTransport"]

# The longest control reply (INFO); RESULT frames are as long as the build says.
_CONTROL_PAYLOAD = 18


class DeviceError(Exception):
    """The device answered a frame with ERROR (``code``: an :class:`hdl.protocol.Error`, or
    the raw byte when this client does not know it)."""

    def __init__(self, code, command):
        try:
            self.code = Error(code)
            name = self.code.name
        except ValueError:
            self.code, name = code, f"unknown error code 0x{code:02x}"
        self.command = command
        super().__init__(f"the device rejected command 0x{command:02x}: {name}")


class HostClient:
    """Talks to one device; ``timeout`` seconds is the longest wait for any reply."""

    def __init__(self, transport, *, timeout=2.0):
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.transport = transport
        self.timeout = timeout
        self.decoder = FrameDecoder(DEVICE_SYNC, max_length=_CONTROL_PAYLOAD)
        self.results = []
        self.build = None

    async def _frames(self, deadline):
        """The valid frames that arrive before ``deadline`` (transport clock), at least one."""
        while True:
            remaining = deadline - self.transport.clock()
            if remaining <= 0:
                raise TimeoutError(f"no reply from the device within {self.timeout} s (is it "
                                   f"connected, programmed and at the right baud rate?)")
            frames = self.decoder.feed(await self.transport.read(remaining))
            if frames:
                return frames

    async def send(self, command, payload=b""):
        """Send one frame and wait for its reply (ACK payload or INFO), collecting results."""
        return await self.exchange(encode_frame(HOST_SYNC, command, payload))

    async def exchange(self, data):
        """Send ``data`` as it is (a frame, or anything a test makes) and wait for the reply:
        the ACK or INFO payload, a :class:`DeviceError` for ERROR; RESULTs are collected."""
        await self.transport.write(data)
        deadline = self.transport.clock() + self.timeout
        while True:
            for kind, body in await self._frames(deadline):
                if kind == Reply.RESULT:
                    self.results.append(body)
                elif kind == Reply.ERROR:
                    if len(body) != 2:
                        raise ProtocolError(f"an ERROR reply of {len(body)} bytes (2 expected): "
                                            f"{body.hex()}")
                    raise DeviceError(body[0], body[1])
                elif kind in (Reply.ACK, Reply.INFO):
                    return body

    async def info(self):
        self.build = BuildInfo.from_payload(await self.send(Command.INFO))
        layouts = stream_layouts(parse_family(self.build.family), self.build.rows,
                                 self.build.cols, self.build.limits)
        self.decoder.max_length = max(_CONTROL_PAYLOAD, item_bytes(layouts["results"].size))
        return self.build

    async def reset(self):
        await self.send(Command.RESET)

    async def _items(self, command, items, size):
        per_frame = max(1, self.build.max_payload // size)
        for start in range(0, len(items), per_frame):
            await self.send(command, b"".join(items[start:start + per_frame]))

    async def run_layer(self, a, w, layer):
        """Codes and NaR flags of ``layer`` on codes ``a`` (M, K) and ``w`` (K, N)."""
        build = self.build or await self.info()
        family = parse_family(build.family)
        layouts = stream_layouts(family, build.rows, build.cols, build.limits)
        sizes = {name: item_bytes(layout.size) for name, layout in layouts.items()}
        plan = plan_layer(a, w, layer, rows=build.rows, cols=build.cols, depth=build.depth,
                          max_K=build.max_K)

        def encode(raws, name):
            return [raw.to_bytes(sizes[name], "little") for raw in raws]

        self.results = []
        for config, passes in packed_groups(plan, layouts):
            await self.send(Command.CONFIG, encode([config], "config")[0])
            for rows, vectors in passes:
                await self._items(Command.WEIGHTS, encode(rows, "weights"), sizes["weights"])
                await self._items(Command.ACTIVATIONS, encode(vectors, "activations"),
                                  sizes["activations"])
        while len(self.results) < plan.results:
            for kind, body in await self._frames(self.transport.clock() + self.timeout):
                if kind == Reply.RESULT:
                    self.results.append(body)
        vectors = [unpack_result(layouts, int.from_bytes(body, "little"))
                   for body in self.results]
        return (plan.assemble([codes for codes, _ in vectors]),
                plan.assemble([nars for _, nars in vectors]))


class SerialTransport:
    """A serial port (pyserial) as a transport; a port that cannot be opened is a
    ``ConnectionError`` naming it."""

    def __init__(self, port, baud):
        import serial
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, ValueError) as error:
            raise ConnectionError(f"cannot open serial port {port} at {baud} baud: "
                                  f"{error}") from None

    def clock(self):
        return time.monotonic()

    async def write(self, data):
        self.port.write(data)

    async def read(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.port.read(4096)
            if data:
                return data
            await asyncio.sleep(0.001)
        return b""
