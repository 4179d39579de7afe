"""``make fuzz``: the long tier of the host-link fuzz (:mod:`sim.tb_hostlink` through
:func:`sim.hostlink_bench.run_hostlink_bench`) and of the client's frame decoder.

    python -m scripts.fuzz [--rounds 400] [--noisy-layers 12] [--decoder-cases 20000]

Per design (TFX ses 2x3, FXP int 3x2): ``--rounds`` rounds of line garbage (random bytes,
flipped bits, noise inside frames, truncated frames, framing errors, breaks), each followed by
a command that must be answered; no damaged frame executed; layers bit-exact afterwards; then
``--noisy-layers`` layers over a line that damages one byte in 150 in both directions. The
decoder: ``--decoder-cases`` random streams of noise, damaged frames and stray SYNCs, in
random chunks, must give back exactly the valid frames. Writes ``build/fuzz/fuzz.json``/``.md``.
"""

import argparse
import random
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from golden._checks import check_int
from golden.family import FXPFamily, TFXFamily
from hdl.protocol import DEVICE_SYNC, Frame, FrameDecoder, INFO_BYTES, encode_frame
from scripts.records import markdown_table, write_report
from sim.hostlink_bench import run_hostlink_bench
from sim.toolchain import BUILD

OUT = BUILD / "fuzz"
DESIGNS = [("tfx:8,3 ses 2x3", (TFXFamily(8, 3), "ses", 2, 3)),
           ("fxp:6 int 3x2", (FXPFamily(6), "int", 3, 2))]


def fuzz_decoder(cases, seed):
    """Random streams into the client's decoder: exactly the valid frames must come out."""
    rng = random.Random(seed)
    frames_out = 0
    for _ in range(cases):
        stream, want = bytearray(), []
        for _ in range(rng.randrange(1, 8)):
            stream += bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(INFO_BYTES + 1)))
            kind, seq = rng.randrange(256), rng.randrange(256)
            data = bytearray(encode_frame(DEVICE_SYNC, kind, payload, seq=seq))
            damage = rng.random()
            if damage < 0.3:
                for _ in range(rng.randrange(1, 4)):
                    bit = rng.randrange(8, 8 * len(data))
                    data[bit // 8] ^= 1 << (bit % 8)
            else:
                if damage < 0.5:
                    stream += bytes([DEVICE_SYNC, kind, seq, rng.randrange(256), 0xFF])
                want.append(Frame(kind, seq, payload))
            stream += data
        decoder, got, at = FrameDecoder(DEVICE_SYNC, max_length=INFO_BYTES), [], 0
        while at < len(stream):
            step = rng.randrange(1, 16)
            got += decoder.feed(bytes(stream[at:at + step]))
            at += step
        # Noise may, once in 2**16, hold a valid frame of its own; only damaged ones must go.
        if [f for f in got if f in want] != want:
            raise AssertionError(f"the decoder lost valid frames: {want} -> {got}")
        frames_out += len(got)
    return {"cases": cases, "frames": frames_out}


def _bench(label, design, rounds, layers, seed):
    start = time.monotonic()
    result = run_hostlink_bench(*design, fuzz_rounds=rounds, noisy_layers=layers, seed=seed)
    log = Path(result.log).read_text()
    resent = [int(n) for n in re.findall(r"(\d+) frames resent", log)]
    damaged = [int(n) for n in re.findall(r"noisy line: (\d+) bytes damaged", log)]
    return {"design": label, "passed": result.passed, "tests": result.tests,
            "failed": result.failed, "rounds": rounds, "noisy_layers": layers,
            "fuzz_resends": resent[0] if resent else None,
            "noisy_bytes_damaged": damaged[0] if damaged else None,
            "seconds": round(time.monotonic() - start, 1), "log": str(result.log)}


def markdown(record):
    lines = ["# Host-link fuzz", "",
             "Made by `make fuzz` (`python -m scripts.fuzz`): cocotb, the UART model and the "
             "host client against the simulated host link (Icarus).", ""]
    lines += markdown_table(
        ["design", "garbage rounds", "frames resent", "noisy layers", "bytes damaged", "result",
         "seconds"],
        [(run["design"], run["rounds"], run["fuzz_resends"], run["noisy_layers"],
          run["noisy_bytes_damaged"], "PASS" if run["passed"] else "FAIL", run["seconds"])
         for run in record["benches"]], align="lrrrrlr")
    d = record["decoder"]
    lines += ["", f"Client decoder: {d['cases']:,} random streams, {d['frames']:,} frames "
              f"decoded, every valid frame found ({d['seconds']} s)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.fuzz",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--noisy-layers", type=int, default=12)
    parser.add_argument("--decoder-cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        check_int("--rounds", args.rounds, 1, 10 ** 6)
        check_int("--noisy-layers", args.noisy_layers, 1, 10 ** 4)
        check_int("--decoder-cases", args.decoder_cases, 1, 10 ** 8)
        start = time.monotonic()
        print(f"fuzz: client decoder, {args.decoder_cases:,} streams ...", flush=True)
        decoder = fuzz_decoder(args.decoder_cases, args.seed)
        decoder["seconds"] = round(time.monotonic() - start, 1)
        print(f"fuzz: host link, {args.rounds} rounds and {args.noisy_layers} noisy layers "
              f"per design, both designs at once ...", flush=True)
        with ThreadPoolExecutor(len(DESIGNS)) as pool:
            benches = list(pool.map(lambda d: _bench(*d, args.rounds, args.noisy_layers,
                                                     args.seed), DESIGNS))
    except (ValueError, TypeError, RuntimeError, AssertionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    record = {"decoder": decoder, "benches": benches}
    write_report(OUT, "fuzz", record, markdown(record))
    print(markdown(record))
    return int(not all(run["passed"] for run in benches))


if __name__ == "__main__":
    sys.exit(main())
