"""Every user mistake the reliability review found ends in one clear line that names the
problem and the legal range: no traceback, nothing silently clamped or ignored."""

import json
import subprocess
import sys

import numpy as np
import pytest

from golden import FXP, TFX
from golden.arith import matmul, scale, Accumulators
from golden.family import FXPFamily
from golden.layers import Layer, quantize_dense
from golden.search import search_tfx
from sim.toolchain import ROOT

PY = sys.executable


def run(*args, input=None):
    """A command of the project: (exit code, stdout, stderr)."""
    done = subprocess.run([PY, *args], cwd=ROOT, capture_output=True, text=True, input=input)
    return done.returncode, done.stdout, done.stderr


def one_line_error(stderr, *parts):
    line = stderr.strip()
    assert "\n" not in line and "Traceback" not in line, stderr
    for part in parts:
        assert part in line, line
    return line


# golden CLI ------------------------------------------------------------------------------------

def test_search_of_an_npz_archive_is_named(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.ones(3))
    code, _, err = run("-m", "golden", "search", str(tmp_path / "x.npz"))
    assert code == 2
    one_line_error(err, "x.npz is an .npz archive (of a), not one .npy array")


def test_search_is_max_zero_is_refused_not_ignored(tmp_path):
    np.save(tmp_path / "t.npy", np.linspace(-1, 1, 50))
    code, _, err = run("-m", "golden", "search", str(tmp_path / "t.npy"), "--is-max", "0")
    assert code == 2
    one_line_error(err, "--is-max must be an integer from 1 to 7, not 0")
    code, out, _ = run("-m", "golden", "search", str(tmp_path / "t.npy"), "--is-max", "1",
                       "--json")
    assert code == 0 and json.loads(out)["tfx"]["format"].startswith("tfx:8,1,")


def test_search_of_huge_values_is_refused_and_json_stays_json(tmp_path):
    np.save(tmp_path / "big.npy", np.array([1e300, -1e300, 1.0]))
    code, out, err = run("-m", "golden", "search", str(tmp_path / "big.npy"), "--json")
    assert code == 2 and out == ""
    one_line_error(err, "Tensor magnitudes must be below 2**400", "not 1e+300")
    with pytest.raises(ValueError, match="below 2\\*\\*400"):
        search_tfx(np.array([2.0 ** 401]), 8)
    assert np.isfinite(search_tfx(np.array([2.0 ** 399, 1.0]), 8).error)


def test_table_into_a_closed_pipe_is_quiet():
    done = subprocess.run(f"{PY} -m golden table tfx:12,4,0 | head -2", shell=True, cwd=ROOT,
                          capture_output=True, text=True)
    assert done.stdout.count("\n") == 2 and done.stderr == ""


def test_make_table_without_format_prints_the_default_table():
    done = subprocess.run(["make", "-n", "table"], cwd=ROOT, capture_output=True, text=True)
    assert "golden table tfx:8,3,0" in done.stdout


# golden API ------------------------------------------------------------------------------------

def test_uint64_bias_does_not_wrap():
    f = FXP(8, 0)
    with pytest.raises(ValueError, match=r"bias must lie within ±2147483647 \(bias_bits=32\), "
                                         r"not 9223372036854775808"):
        matmul(np.array([[1]]), f, np.array([[1]]), f, bias=np.array([np.uint64(2 ** 63)]))
    family = FXPFamily(8)
    with pytest.raises(ValueError, match="bias must be an integer from"):
        Layer.make(family=family, a_fmt=f, w_fmt=f, out_fmt=f, N=1,
                   bias=np.array([np.uint64(2 ** 63)]))


def test_bools_are_not_values_or_codes():
    f, t = FXP(8, 0), TFX(8, 3, 0)
    with pytest.raises(TypeError, match="Values to quantize must be real numbers, not bool"):
        f.quantize(True)
    with pytest.raises(TypeError, match="Codes of TFX\\(8,3,0\\) must be integers, not bool"):
        t.decode(np.array([True, False]))


def test_a_string_is_not_a_relu_flag():
    f, family = FXP(8, 0), FXPFamily(8)
    with pytest.raises(TypeError, match="relu must be True or False, not 'no'"):
        Layer.make(family=family, a_fmt=f, w_fmt=f, out_fmt=f, N=1, relu="no")
    assert Layer.make(family=family, a_fmt=f, w_fmt=f, out_fmt=f, N=1, relu=np.bool_(True)).relu
    with pytest.raises(TypeError, match="relu must be a bool"):
        scale(Accumulators(np.array([1]), 0, np.array([False])), f, relu="no")


def test_complex_inputs_are_refused_not_truncated():
    family = FXPFamily(8)
    f = FXP(8, 4)
    with pytest.raises(TypeError, match="w must be real numbers, not complex128"):
        quantize_dense(np.ones((2, 2)) * (1 + 1j), np.zeros(2), family=family, a_fmt=f,
                       calibration_out=np.ones((3, 2)), relu=False)
    with pytest.raises(TypeError, match="Values to quantize must be real numbers, not complex"):
        f.quantize(np.array([1 + 2j]))
    from golden.network import Network
    from golden.models import model_path
    from golden.network import load_network
    network = load_network(model_path("digits", "convnet", 0))
    with pytest.raises(TypeError, match="the input must be real numbers, not complex128"):
        network.forward(np.zeros((1, *network.input_shape), dtype=complex))
    assert Network  # imported for its name in the message above


# hdl CLI ---------------------------------------------------------------------------------------

def test_hdl_output_into_a_missing_folder_fails_before_converting():
    code, out, err = run("-m", "hdl", "mac", "--family", "tfx:8,3", "-o", "/missing/dir/x.v")
    assert code == 2 and out == ""
    one_line_error(err, "cannot write /missing/dir/x.v: the folder /missing/dir does not exist")


# scripts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--seeds", "0"], "--seeds must be an integer from 1 to 100, not 0"),
    (["--rows", "-1"], "rows must be an integer from 1 to 64 (or 0 for the board's default "
                       "size), not -1"),
    (["--rows", "70", "--cols", "2"], "rows must be an integer from 1 to 64"),
    (["--rows", "2"], "give both rows and cols (1 to 64 each), or neither"),
    (["--board", "nonexistent"], "unknown board"),
    (["--max-k", "0"], "--max-k must be an integer from 1 to 1048576, not 0"),
    (["--split-dsp", "--form", "int"], "a split DSP multiplies factors of at most 8 bits; TFX8/IS<=3 in form "
                      "'int' has 11-bit factors; use form 'ses'"),
    (["--split-dsp", "--no-dsp"], "give them with DSPs on an iCE40 board, not on icebreaker "
                                  "without DSPs"),
    (["--clock-mhz", "300"], "the iCE40 PLL makes 16 to 275 MHz, not 300 MHz"),
    (["--board", "ulx3s-25f", "--clock-mhz", "50"], "a PLL clock is built for iCE40 boards only"),
    (["--baud", "5000000", "--clock-mhz", "0"], "a 12 MHz clock makes no UART bit time within 2 % of 5000000 baud "
                            "(at most 3,000,000 baud"),
    (["--format", "posit", "--n", "2"], "n must be an integer from 3 to 16, not 2"),
    (["--format", "posit", "--split-dsp", "--form", "int"],
     "Posit8/es1 in form 'int' has 26-bit factors; use form 'ses'"),
], ids=["seeds0", "rows-1", "rows70", "rows-only", "board", "max-k0", "split-int", "split-nodsp",
        "clock300", "clock-ecp5", "baud5M", "posit-n2", "posit-split-int"])
def test_synth_refuses_bad_arguments_before_building(args, message, tmp_path):
    code, out, err = run("-m", "scripts.synth", *args)
    assert code == 2
    one_line_error(err, message)


@pytest.mark.parametrize("args,message", [
    (["--images", "0", "demo"], "--images must be an integer from 1 to 540, not 0"),
    (["--images", "-3", "demo"], "--images must be an integer from 1 to 540, not -3"),
    (["--timeout", "0", "info"], "timeout must be a positive number of seconds, not 0.0"),
    (["--retries", "-1", "info"], "retries must be an integer from 0 to 100, not -1"),
], ids=["images0", "images-3", "timeout0", "retries-1"])
def test_host_refuses_bad_arguments_before_opening_the_port(args, message):
    code, _, err = run("-m", "scripts.host", "--port", "/dev/nonexistent-tent", *args)
    assert code == 1
    one_line_error(err, message)


def test_accuracy_refuses_negative_test_images():
    code, _, err = run("-m", "scripts.accuracy", "--test-images", "-5")
    assert code == 2
    one_line_error(err, "--test-images must be an integer from 0 to 1048576, not -5")
