"""Host client of the accelerator's UART link (protocol: :mod:`hdl.protocol`).

Pure Python: it imports neither cocotb nor Amaranth's simulator, so a user talking to a board
needs only the project's run-time dependencies (pyserial for :class:`SerialTransport`).

The client is written once, against a transport with two coroutines, ``write(data)`` and
``read(timeout) -> bytes`` (empty when nothing came in ``timeout`` seconds), and a ``clock()``
in seconds: a serial port (:class:`SerialTransport`), or a UART model in cocotb simulation
(:mod:`sim.tb_hostlink`, simulated time).

Every reply has one deadline, ``timeout`` seconds after its frame was sent or after the last
RESULT frame that arrived meanwhile (results trickling in over a slow line are progress),
however much noise arrives: bytes that form no valid frame, frames of unknown kinds and
replies to other SEQs are skipped. A frame is sent again, with the same SEQ, after a timeout
or an error that says it arrived damaged (:data:`hdl.protocol.RETRYABLE`; the device never
executes it twice), up to ``retries`` times. RESULT frames are counted: when one is lost (its
count skipped, or too few arrive), :meth:`HostClient.run_layer` lets the frame in progress
finish and runs the layer again from a reset array, up to ``retries`` times, then raises
:class:`LinkError`. The client tiles a layer with :func:`hdl.tiling.plan_layer` for the
build the device reports.
"""

import asyncio
import time
import zlib

from golden.program import read_program
from .protocol import (DEVICE_SYNC, HOST_SYNC, INFO_BYTES, MAX_PAYLOAD, RETRYABLE, BuildInfo,
                       Command, Error, FrameDecoder, ProtocolError, Reply, ResidentInfo,
                       encode_frame, item_bytes)
from .tiling import packed_groups, plan_layer, unpack_result

__all__ = ["HostClient", "ResidentClient", "image_frames", "DeviceError", "LinkError",
           "SerialTransport"]

# The longest control reply (INFO); RESULT frames are as long as the build says.
_CONTROL_PAYLOAD = INFO_BYTES


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


class LinkError(Exception):
    """The line lost something the protocol cannot ask for again (a RESULT frame)."""


class HostClient:
    """Talks to one device; ``timeout`` seconds is the longest wait for any reply, ``retries``
    the times a frame (or a layer) is tried again after a loss on the line."""

    def __init__(self, transport, *, timeout=2.0, retries=3):
        if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(retries, bool) or not (isinstance(retries, int) and 0 <= retries <= 100):
            raise ValueError(f"retries must be an integer from 0 to 100, not {retries!r}")
        self.transport = transport
        self.timeout = timeout
        self.retries = retries
        self.decoder = FrameDecoder(DEVICE_SYNC, max_length=_CONTROL_PAYLOAD)
        self.results = []
        self.build = None
        self.seq = 0
        self.resent = 0  # frames sent again (timeouts, damaged on the way)
        self._next_result = 0
        self._lost = None  # what was lost of the layer being run
        self._collecting = False  # RESULT frames belong to the layer being run
        self._in_session = False

    async def _frames(self, deadline):
        """The valid frames that arrive before ``deadline`` (transport clock), at least one."""
        while True:
            remaining = deadline - self.transport.clock()
            if remaining <= 0:
                raise TimeoutError(f"no reply from the device within {self.timeout} s")
            frames = self.decoder.feed(await self.transport.read(remaining))
            if frames:
                return frames

    def _result(self, frame):
        if self._lost:
            return
        if frame.seq != self._next_result:
            self._lost = (f"RESULT frame {self._next_result} was lost on the line (frame "
                          f"{frame.seq} came next)")
            return
        self._next_result = (self._next_result + 1) % 256
        self.results.append(frame.payload)

    def _check_results(self):
        if self._lost:
            raise LinkError(self._lost)

    async def send(self, command, payload=b""):
        """Send one command and wait for its reply (ACK payload or INFO), collecting results;
        a new session starts with INFO."""
        if not self._in_session and command != Command.INFO:
            await self.info()
        seq, frame = self._next_frame(command, payload)
        return await self.exchange(frame, seq=seq)

    def _next_frame(self, command, payload=b""):
        """The next SEQ and the frame of ``command`` that carries it."""
        self.seq = (self.seq + 1) % 256
        return self.seq, encode_frame(HOST_SYNC, command, payload, seq=self.seq)

    async def exchange(self, data, *, seq=None):
        """Send ``data`` as it is (a frame, or anything a test makes) and wait for the reply
        with ``seq`` (any reply if None): the ACK or INFO payload, a :class:`DeviceError` for
        ERROR; RESULTs are collected. Timeouts and damaged frames are retried."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            await self.transport.write(data)
            try:
                return await self._reply(seq)
            except TimeoutError:
                if last:
                    tries = f", {attempt + 1} tries" if attempt else ""
                    raise TimeoutError(
                        f"no reply from the device within {self.timeout} s{tries} (is it "
                        f"connected, programmed, at the right baud rate and of protocol "
                        f"version 2?)") from None
            except DeviceError as error:
                if last or error.code not in RETRYABLE:
                    raise
            self.resent += 1

    async def _reply(self, seq):
        deadline = self.transport.clock() + self.timeout
        while True:
            for frame in await self._frames(deadline):
                if frame.kind == Reply.RESULT:
                    if self._collecting:
                        self._result(frame)
                        deadline = self.transport.clock() + self.timeout
                elif seq is not None and frame.seq != seq:
                    continue  # a late reply to an earlier try
                elif frame.kind == Reply.ERROR:
                    error = _device_error(frame)
                    if error.code in (Error.STALLED, Error.BOUND):
                        self._next_result = 0  # the array was reset
                    raise error
                elif frame.kind in (Reply.ACK, Reply.INFO):
                    return frame.payload

    async def info(self):
        self._in_session, self._collecting = True, False
        self.build = BuildInfo.from_payload(await self.send(Command.INFO))
        self._next_result = 0
        layouts = self.build.stream_layouts()
        self.decoder.max_length = max(_CONTROL_PAYLOAD, item_bytes(layouts["results"].size))
        return self.build

    async def reset(self):
        self._collecting = False  # what is still on its way belongs to no layer
        await self.send(Command.RESET)
        self._next_result = 0

    async def _items(self, command, items, size):
        per_frame = max(1, self.build.max_payload // size)
        for start in range(0, len(items), per_frame):
            await self.send(command, b"".join(items[start:start + per_frame]))

    async def run_layer(self, a, w, layer):
        """Codes and NaR flags of ``layer`` on codes ``a`` (M, K) and ``w`` (K, N); a layer
        that lost a RESULT frame on the line is run again from a reset array."""
        build = self.build or await self.info()
        plan = plan_layer(a, w, layer, rows=build.rows, cols=build.cols, depth=build.depth,
                          max_K=build.max_K)
        for attempt in range(self.retries + 1):
            try:
                return await self._run_plan(plan)
            except LinkError:
                if attempt == self.retries:
                    raise
                self.resent += 1
                await self.reset()

    async def _run_plan(self, plan):
        build = self.build
        layouts = build.stream_layouts()
        sizes = {name: item_bytes(layout.size) for name, layout in layouts.items()}

        def encode(raws, name):
            return [raw.to_bytes(sizes[name], "little") for raw in raws]

        self.results, self._collecting, self._lost = [], True, None
        for config, passes in packed_groups(plan, layouts):
            await self.send(Command.CONFIG, encode([config], "config")[0])
            for rows, vectors in passes:
                await self._items(Command.WEIGHTS, encode(rows, "weights"), sizes["weights"])
                await self._items(Command.ACTIVATIONS, encode(vectors, "activations"),
                                  sizes["activations"])
                self._check_results()
        while len(self.results) < plan.results:
            self._check_results()
            try:
                frames = await self._frames(self.transport.clock() + self.timeout)
            except TimeoutError:
                raise LinkError(f"{len(self.results)} of {plan.results} RESULT frames came "
                                f"within {self.timeout} s of each other") from None
            for frame in frames:
                if frame.kind == Reply.RESULT:
                    self._result(frame)
        self._check_results()
        self._collecting = False
        vectors = [unpack_result(layouts, int.from_bytes(body, "little"))
                   for body in self.results]
        return (plan.assemble([codes for codes, _ in vectors]),
                plan.assemble([nars for _, nars in vectors]))


def _device_error(frame):
    """The :class:`DeviceError` of an ERROR frame (code, command)."""
    if len(frame.payload) != 2:
        raise ProtocolError(f"an ERROR reply of {len(frame.payload)} bytes (2 expected): "
                            f"{frame.payload.hex()}")
    return DeviceError(frame.payload[0], frame.payload[1])


def image_frames(codes, max_payload):
    """The frames that carry one image's input codes to a resident build whose frames hold
    ``max_payload`` bytes, as (command, payload): ``INPUT`` frames of ``max_payload`` codes
    while more than one frame's worth remain, then the ``RUN`` frame with the rest."""
    data = bytes(int(c) for c in codes)
    last = max(0, (len(data) - 1) // max_payload * max_payload)
    return ([(Command.INPUT, data[start:start + max_payload])
             for start in range(0, last, max_payload)] + [(Command.RUN, data[last:])])


class ResidentClient(HostClient):
    """Talks to a resident build (:mod:`hdl.standalone.device`): loads a program image once,
    then classifies images. Frames, SEQs, timeouts and retries as :class:`HostClient`'s;
    RUN's reply is a RESULT frame with its SEQ."""

    def __init__(self, transport, **options):
        super().__init__(transport, **options)
        self.decoder.max_length = MAX_PAYLOAD  # INFO and RESULT frames are longer

    async def _reply(self, seq):
        deadline = self.transport.clock() + self.timeout
        while True:
            for frame in await self._frames(deadline):
                if seq is not None and frame.seq != seq:
                    continue  # a late reply to an earlier try
                if frame.kind == Reply.ERROR:
                    raise _device_error(frame)
                if frame.kind in (Reply.ACK, Reply.INFO, Reply.RESULT):
                    return frame.payload

    async def info(self):
        """The device's :class:`hdl.protocol.ResidentInfo` (a session starts with it)."""
        self._in_session = True
        self.build = ResidentInfo.from_payload(await self.send(Command.INFO))
        return self.build

    def check_fits(self, program):
        """A ``ValueError`` naming the first thing ``program`` (a
        :class:`golden.program.Program`) needs beyond the connected build."""
        build = self.build
        size, channels = (1 << build.size_bits) - 1, (1 << build.channel_bits) - 1
        needs = [
            ("the family", program.family.spec, build.family, program.family.spec == build.family),
            ("the array", f"{program.rows}x{program.cols}", f"{build.lanes}x{build.lanes}",
             program.rows == program.cols == build.lanes),
            ("the scaling registers", program.limits, build.limits,
             (program.limits.bias_bits, program.limits.m_bits) ==
             (build.bias_bits, build.m_bits) and program.limits.shift_max <= build.shift_max),
            ("instructions", len(program.instructions), build.instructions,
             len(program.instructions) <= build.instructions),
            ("parameter records", len(program.bias), build.records,
             len(program.bias) <= build.records),
            ("memory (codes)", program.memory_codes, 1 << build.address_bits,
             program.memory_codes <= 1 << build.address_bits),
            ("the longest dot product", program.max_k, build.max_K,
             program.max_k <= build.max_K),
            ("the largest pooling window", program.max_window, build.max_window,
             program.max_window <= build.max_window),
            ("the largest ADD alignment", program.max_align, build.max_align,
             program.max_align <= build.max_align),
            ("the largest height or width", program.largest_size, size,
             program.largest_size <= size),
            ("the most channels", program.largest_channels, channels,
             program.largest_channels <= channels)]
        for what, needed, held, fits in needs:
            if not fits:
                raise ValueError(f"the program needs {what} {needed}; the device's build has "
                                 f"{held}")

    async def load(self, image, *, progress=None):
        """Loads a program image (bytes) unless the device already holds it (same CRC-32),
        in frames of the build's ``max_payload``; ``progress(sent, total)`` after each.
        Returns whether it was sent."""
        program = read_program(image)
        build = self.build or await self.info()
        self.check_fits(program)
        crc = zlib.crc32(image[:-4])
        if build.loaded and build.crc == crc:
            return False
        await self.send_image(image, progress=progress)
        self.build = build = await self.info()
        if not build.loaded or build.crc != crc:
            raise ProtocolError(f"the device did not keep the program (loaded {build.loaded}, "
                                f"CRC {build.crc:08x}, sent {crc:08x})")
        return True

    async def send_image(self, image, *, progress=None):
        """``LOAD_START``, then ``image`` (bytes, checked by nothing here) in ``LOAD`` frames
        of the build's ``max_payload``; ``progress(sent, total)`` after each."""
        build = self.build or await self.info()
        await self.send(Command.LOAD_START)
        chunk = build.max_payload
        for start in range(0, len(image), chunk):
            await self.send(Command.LOAD, image[start:start + chunk])
            if progress:
                progress(min(start + chunk, len(image)), len(image))

    async def classify(self, codes):
        """``(class, logits)`` of one image's input codes ((y, x, c) order), sent as
        :func:`image_frames` splits them."""
        build = self.build or await self.info()
        for command, payload in image_frames(codes, build.max_payload):
            payload = await self.send(command, payload)
        return _classified(payload)

    async def classify_many(self, images, *, on_result=None):
        """``(class, logits)`` of each image of ``images`` (input codes, one row an image),
        pipelined: an image whose codes fit one RUN frame is sent as soon as the RESULT of
        the image two before it is in, so that the line brings it while the device computes
        the one before (the device holds one waiting frame). An image of several frames
        waits for the RESULT before it. A lost or damaged reply is retried as by
        :meth:`send`. ``on_result(k, result)`` as each result comes in."""
        build = self.build or await self.info()
        results, ahead = [], None  # ahead: (seq, frame) of a RUN sent before its turn

        def deliver(result):
            results.append(result)
            if on_result:
                on_result(len(results) - 1, result)

        async def collect(seq, frame):
            try:
                payload = await self._reply(seq)
            except (TimeoutError, DeviceError):
                payload = await self.exchange(frame, seq=seq)
            deliver(_classified(payload))

        for codes in images:
            frames = image_frames(codes, build.max_payload)
            if len(frames) > 1:
                if ahead:
                    await collect(*ahead)
                    ahead = None
                deliver(await self.classify(codes))
                continue
            seq, frame = self._next_frame(Command.RUN, frames[0][1])
            await self.transport.write(frame)
            if ahead:
                await collect(*ahead)
            ahead = (seq, frame)
        if ahead:
            await collect(*ahead)
        return results


def _classified(payload):
    """``(class, logits)`` of a RESULT payload."""
    if len(payload) < 3:
        raise ProtocolError(f"a RESULT of {len(payload)} bytes: {payload.hex()}")
    return int.from_bytes(payload[-2:], "little"), list(payload[:-2])


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
