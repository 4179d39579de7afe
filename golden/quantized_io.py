"""Quantized networks as portable ``.npz`` files: formats and parameters included, so that a
saved network runs (integer or fake engine, accelerator, report) without searching again.

A file holds the folded float network (as :func:`golden.network.save_network` writes it, keys
under ``network.``), a JSON ``quantized`` string (scheme, n, family, the input format, the
scaling limits and every step's formats as :func:`golden.parse_format` specs) and each step's
arrays under ``step.<node>.<field>`` at their own dtypes (weight codes, bias in accumulator
units, M, shift, channel scales, float bias; a bias beyond int64 as decimal text). Loaded
without pickle.
"""

import json
from dataclasses import asdict, fields

import numpy as np

from . import parse_format
from .family import parse_family
from ._io import read_npz, storable_integers, stored_integers
from .arith import ScalingLimits, check_channel_param
from .network import network_arrays, network_from_arrays
from .ptq import SCHEMES, QuantizedNetwork, Step

__all__ = ["save_quantized", "load_quantized", "quantized_from_arrays", "is_quantized_file"]

_FORMATS = ("out_fmt", "w_fmt", "a_fmt")
_ARRAYS = ("w_codes", "bias", "M", "shift", "channel_scale", "float_bias", "w_shift",
           "w_block_exponent")
_VERSION = 1


def save_quantized(path, qnet):
    """Write ``qnet`` (a :class:`golden.ptq.QuantizedNetwork`) to ``path``."""
    if not isinstance(qnet, QuantizedNetwork):
        raise TypeError(f"qnet must be a golden.ptq.QuantizedNetwork, not {qnet!r}")
    arrays = network_arrays(qnet.network, prefix="network.")
    steps = {}
    for name, step in qnet.steps.items():
        steps[name] = {key: getattr(step, key).spec for key in _FORMATS
                       if getattr(step, key) is not None}
        for key in _ARRAYS:
            value = getattr(step, key)
            if value is not None and not (key == "w_block_exponent" and value == 0):
                arrays[f"step.{name}.{key}"] = storable_integers(value)
    header = {"version": _VERSION, "scheme": qnet.scheme, "n": qnet.n,
              "family": qnet.family.spec, "input_fmt": qnet.input_fmt.spec,
              "limits": asdict(qnet.limits), "steps": steps}
    arrays["quantized"] = np.array(json.dumps(header, sort_keys=True))
    np.savez(path, **arrays)


def is_quantized_file(contents):
    return "quantized" in contents


def load_quantized(path):
    """The :class:`golden.ptq.QuantizedNetwork` saved at ``path``; a clear error for a missing,
    corrupt or inconsistent file (or a float network file, which needs ``tent quantize``)."""
    return quantized_from_arrays(read_npz(path, "quantized network"), path)


def quantized_from_arrays(contents, path):
    """The quantized network stored in ``contents`` (the arrays of the file at ``path``)."""
    if not is_quantized_file(contents):
        raise ValueError(f"{path} is not a quantized network file (a float network? quantize "
                         f"it first: tent quantize)")
    network = network_from_arrays(contents, path, prefix="network.")
    try:
        header = json.loads(str(contents["quantized"]))
        if header.get("version") != _VERSION:
            raise ValueError(f"version {header.get('version')} (this code reads {_VERSION})")
        if header["scheme"] not in SCHEMES:
            raise ValueError(f"unknown scheme {header['scheme']!r}")
        limits = ScalingLimits(**{f.name: header["limits"][f.name]
                                  for f in fields(ScalingLimits)})
        nodes = {node.name: node for node in network.nodes}
        if set(header["steps"]) != set(nodes):
            raise ValueError(f"steps {sorted(header['steps'])} do not match the network's "
                             f"nodes {sorted(nodes)}")
        steps = {}
        for name, specs in header["steps"].items():
            values = {key: parse_format(spec) for key, spec in specs.items()}
            for key in _ARRAYS:
                if f"step.{name}.{key}" in contents:
                    values[key] = stored_integers(contents[f"step.{name}.{key}"])
            if "w_block_exponent" in values:
                values["w_block_exponent"] = int(values["w_block_exponent"])
            steps[name] = Step(node=nodes[name], **values)
        # Files written before the family was recorded ran the project's default family.
        family = parse_family(header["family"]) if "family" in header else None
        qnet = QuantizedNetwork(network, header["scheme"], int(header["n"]),
                                parse_format(header["input_fmt"]),
                                {node.name: steps[node.name] for node in network.nodes},
                                limits, family)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed quantized network ({type(error).__name__}: "
                         f"{error})") from None
    for name, step in qnet.steps.items():
        try:
            _check_step(step, limits)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: step {name!r} ({step.node.op}): {error}") from None
    return qnet


def _check_step(step, limits):
    """The arrays a step needs are there and within the limits the file records (a hand-edited
    or damaged file would otherwise run with values no hardware holds)."""
    needed = (("w_codes", "bias", "M", "shift") if step.w_fmt is not None
              else ("M", "shift") if step.node.op == "avgpool" else ())
    missing = [key for key in needed if getattr(step, key) is None]
    if missing:
        raise ValueError(f"the arrays {', '.join(missing)} are missing")
    if not needed:
        return
    if step.w_fmt is not None:
        codes = step.w_fmt.check_codes(step.w_codes)
        if codes.ndim != 2:
            raise ValueError(f"weight codes must be a (K, N) matrix, not of shape {codes.shape}")
        columns = (codes.shape[1],)
        check_channel_param("bias", step.bias, -limits.max_abs_bias, limits.max_abs_bias,
                            columns)
    else:
        columns = np.shape(step.M)
    check_channel_param("M", step.M, 1, (1 << limits.m_bits) - 1, columns)
    check_channel_param("shift", step.shift, 0, limits.shift_max, columns)
