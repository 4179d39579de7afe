"""Talk to a board running the accelerator over its serial link (:mod:`hdl.client`).

    python -m scripts.host --port /dev/ttyUSB1 info
    python -m scripts.host --port /dev/ttyUSB1 demo     # the digits layer, checked bit-exact
"""

import argparse
import asyncio
import sys

import numpy as np

from golden._checks import check_int
from golden.family import parse_family
from hdl.client import DeviceError, HostClient, LinkError, SerialTransport
from hdl.protocol import BAUD_RANGE, DEFAULT_BAUD, ProtocolError

__all__ = ["main"]


async def _demo(client, images):
    from golden.datasets import load_digits
    from golden.layers import choose_format, quantize_dense, run_layer
    from golden.models import MODELS, load_mlp
    build = await client.info()
    family, limits = parse_family(build.family), build.limits
    model = load_mlp(MODELS / "digits_mlp.npz")
    x_cal, _ = load_digits("calibration")
    x, _ = load_digits("test")
    a_fmt = choose_format(x_cal, family)
    w_codes, layer = quantize_dense(*model.layers[0], family=family, a_fmt=a_fmt, relu=True,
                                    calibration_out=model.activations(x_cal)[1], limits=limits)
    a_codes = a_fmt.quantize(x[:images])
    codes, _ = await client.run_layer(a_codes, w_codes, layer)
    want, _ = run_layer(a_codes, w_codes, layer, limits=limits)
    return int(np.sum(codes != want)), codes.size


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.host",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help="the build's UART rate (make synth BAUD=, default %(default)s)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds to wait for each reply (default 2)")
    parser.add_argument("--retries", type=int, default=3,
                        help="times a frame, or a layer, is tried again after a loss on the "
                             "line (default 3)")
    parser.add_argument("command", choices=("info", "reset", "demo"))
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from golden.datasets import load_digits
            check_int("--images", args.images, 1, len(load_digits("test")[0]))
        check_int("--baud", args.baud, *BAUD_RANGE)
        HostClient(None, timeout=args.timeout, retries=args.retries)  # checks both
        client = HostClient(SerialTransport(args.port, args.baud), timeout=args.timeout,
                            retries=args.retries)
        if args.command == "info":
            print(asyncio.run(client.info()))
        elif args.command == "reset":
            asyncio.run(client.reset())
        else:
            wrong, total = asyncio.run(_demo(client, args.images))
            print(f"{total - wrong} of {total} output codes equal the golden model's")
            return int(wrong != 0)
    except (TimeoutError, DeviceError, ProtocolError, LinkError, ConnectionError, ValueError,
            TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
