"""The ``tent`` command line: import, quantize and eval from files, and one-line errors for
every bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from golden.arith import DEFAULT_LIMITS
from golden.datasets import load
from golden.models import MODELS, model_path
from golden.network import fold, load_network
from golden.ptq import quantize_network
from golden.quantized_io import load_quantized
from scripts.fpga.flow import SynthConfig
from scripts.tent import main
from tests.onnx_models import network_to_onnx, separable_model

DIGITS_CONVNET = model_path("digits", "convnet", 0)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_quantize_eval_from_an_onnx_file(tmp_path, capsys):
    onnx.save(network_to_onnx(load_network(DIGITS_CONVNET)), tmp_path / "m.onnx")
    code, out, err = _run(capsys, "import", tmp_path / "m.onnx", "-o", tmp_path / "net.npz")
    assert code == 0 and "wrote" in out and "2 conv" in out, err
    x, y = load("digits", "test")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    np.savez(tmp_path / "calibration.npz", images=load("digits", "calibration")[0])
    code, out, err = _run(capsys, "quantize", tmp_path / "net.npz", "--scheme", "tfx",
                          "--n", "6", "--calibration", tmp_path / "calibration.npz",
                          "-o", tmp_path / "q.npz")
    assert code == 0, err
    code, out, err = _run(capsys, "eval", tmp_path / "q.npz", "--data", tmp_path / "data.npz",
                          "--json")
    assert code == 0, err
    record = json.loads(out)
    # the same as quantizing the project's own file in Python
    network = fold(load_network(DIGITS_CONVNET))
    reference = quantize_network(network, "tfx", 6, load("digits", "calibration")[0])
    assert record["accuracy"] == float(np.mean(reference.predict(x) == y))
    assert record["engine"] == "integer" and record["images"] == len(x)
    saved = load_quantized(tmp_path / "q.npz")
    assert saved.formats() == reference.formats()
    code, out, err = _run(capsys, "eval", tmp_path / "net.npz", "--data", "digits",
                          "--images", 100, "--per-class")
    assert code == 0 and "100 images: accuracy" in out and "class 9:" in out, err


def test_quantize_for_a_board_uses_the_registers_make_synth_builds(tmp_path, capsys):
    board = SynthConfig().limits
    assert board != DEFAULT_LIMITS
    for choice, limits in (("default", DEFAULT_LIMITS), ("board", board)):
        code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", 6,
                              "--limits", choice, "-o", tmp_path / f"{choice}.npz")
        assert code == 0, err
        qnet = load_quantized(tmp_path / f"{choice}.npz")
        assert qnet.limits == limits
        steps = [step for step in qnet.steps.values() if step.M is not None]
        assert max(int(np.max(step.M)) for step in steps) < 1 << limits.m_bits
        assert max(int(np.max(step.shift)) for step in steps) <= limits.shift_max
    # A minifloat scheme's default registers are its family's: a 64-bit bias.
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fp-channel", "--n", 8,
                          "-o", tmp_path / "fp.npz")
    assert code == 0 and "FP(8,4," in out, err
    assert load_quantized(tmp_path / "fp.npz").limits.bias_bits == 64


def test_quantize_to_another_exponent_size_keeps_the_family_in_the_file(tmp_path, capsys):
    from golden.family import PositFamily
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "posit", "--n", 6,
                          "--family", "posit:6,0", "-o", tmp_path / "es0.npz")
    assert code == 0 and "posit at n = 6 (Posit6/es0)" in out and "Posit(6,0," in out, err
    qnet = load_quantized(tmp_path / "es0.npz")
    assert qnet.family == PositFamily(6, 0) and qnet.limits.bias_bits == 64
    # A file written before the family was recorded runs its scheme's default family.
    contents = dict(np.load(tmp_path / "es0.npz"))
    header = json.loads(str(contents["quantized"]))
    del header["family"]
    contents["quantized"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **contents)
    assert load_quantized(tmp_path / "old.npz").family == PositFamily(6, 1)
    energy = tmp_path / "energy.json"
    energy.write_text(json.dumps({"formats": [{"n": 6, "workload": "layer", "designs": {
        "posit": {"whole_pj_per_mac": 60.0}, "posit:6,0": {"whole_pj_per_mac": 50.0}}}]}))
    code, out, err = _run(capsys, "report", tmp_path / "es0.npz", "--energy", energy, "--json")
    record = json.loads(out)
    assert code == 0 and record["family"] == "posit:6,0", err
    assert record["energy"]["design"] == "posit:6,0" and record["energy"]["pj_per_mac"] == 50.0


@pytest.mark.cocotb
@pytest.mark.sim
def test_another_exponent_size_runs_through_the_simulated_array(tmp_path, capsys):
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fp-channel", "--n", 8,
                          "--family", "fp:8,5", "-o", tmp_path / "e5.npz")
    assert code == 0, err
    qnet = load_quantized(tmp_path / "e5.npz")  # conv1's bias needs 65 bits: Python ints
    assert qnet.limits.bias_bits == 72 and qnet.steps["conv1"].bias.dtype == object
    assert max(abs(int(b)) for b in qnet.steps["conv1"].bias) >= 1 << 63
    code, out, err = _run(capsys, "run", tmp_path / "e5.npz", "--images", 1, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["images"] == 1 and [layer["op"] for layer in record["layers"]] == [
        "conv", "conv", "dense"]


@pytest.mark.parametrize("family,message", [
    ("fp:8,5", "scheme posit at n = 8 picks formats of a posit family of width 8, not FP8/E5"),
    ("posit:6,0", "picks formats of a posit family of width 8, not Posit6/es0"),
    ("posit:8", "Family spec must be 'tfx:N,IS_MAX[,IS_MIN]', 'fxp:N', 'ufxp:N', 'posit:N,ES'"),
])
def test_a_family_the_scheme_cannot_pick_from_is_a_one_line_error(family, message, tmp_path,
                                                                   capsys):
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "posit", "--n", 8,
                          "--family", family, "-o", tmp_path / "q.npz")
    assert code == 1 and err.startswith("tent quantize: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "q.npz").exists()


def test_the_console_script_is_installed():
    tent = Path(sys.executable).parent / "tent"
    result = subprocess.run([tent, "eval", DIGITS_CONVNET, "--images", "20"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "digits:test, 20 images: accuracy" in result.stdout


def test_one_image_is_one_image(capsys):
    code, out, err = _run(capsys, "eval", DIGITS_CONVNET, "--images", "1")
    assert code == 0 and "digits:test, 1 image: accuracy" in out, err


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "q.npz"
    assert main(["quantize", str(DIGITS_CONVNET), "--scheme", "fxp-channel-signed", "--n", "4",
                 "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("case,message", [
    ("nan", r"3 image values are NaN or infinite"),
    ("shape", r"images of shape \(5, 3, 8, 8\) do not fit the network's input \(N, 1, 8, 8\)"),
    ("labels", r"labels from 0 to 12 are outside 0 to 9 \(the network has 10 classes\)"),
    ("label_count", r"labels of shape \(4,\) do not match 5 images"),
    ("strings", r"images must be real numbers, not <U1"),
    ("suffix", r"DATA '.*data.csv' is neither a bundled dataset"),
    ("split", r"unknown split 'validation' of digits: choose from train, calibration, test"),
    ("missing", r"data file .*none.npz does not exist"),
    ("no_images", r"has no images: it needs an array 'x' or 'images', has \['pixels'\]"),
])
def test_bad_data_is_a_one_line_error(case, message, quantized, tmp_path, capsys):
    x = np.zeros((5, 1, 8, 8))
    y = np.arange(5)
    data = tmp_path / "data.npz"
    if case == "nan":
        x[0, 0, 0, :3] = np.nan
        np.savez(data, x=x, y=y)
    elif case == "shape":
        np.savez(data, x=np.zeros((5, 3, 8, 8)))
    elif case == "labels":
        np.savez(data, x=x, y=np.array([0, 1, 2, 3, 12]))
    elif case == "label_count":
        np.savez(data, x=x, y=y[:4])
    elif case == "strings":
        np.save(tmp_path / "data.npy", np.full((5, 1, 8, 8), "a"))
        data = tmp_path / "data.npy"
    elif case == "suffix":
        data = tmp_path / "data.csv"
    elif case == "split":
        data = "digits:validation"
    elif case == "missing":
        data = tmp_path / "none.npz"
    else:
        np.savez(data, pixels=x)
    code, out, err = _run(capsys, "eval", quantized, "--data", data)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("tent eval: error: ")
    assert __import__("re").search(message, err), err


@pytest.mark.parametrize("argv,message", [
    (["eval", DIGITS_CONVNET, "--engine", "integer"],
     "tent eval: error: the integer engine needs a quantized network"),
    (["quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", "2", "-o", "q.npz"],
     "tent quantize: error: --n must be"),
    (["quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", "5", "-o", "q.onnx"],
     "tent quantize: error: the output q.onnx must end in .npz"),
    (["import", "nothing.onnx", "-o", "net.npz"],
     "tent import: error: ONNX model nothing.onnx does not exist"),
    (["eval", "nothing.npz"], "tent eval: error: network file nothing.npz does not exist"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *argv)
    assert code == 1 and err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_a_float_network_file_is_not_a_quantized_one(tmp_path):
    with pytest.raises(ValueError, match="is not a quantized network file"):
        load_quantized(DIGITS_CONVNET)


@pytest.mark.cocotb
@pytest.mark.sim
def test_run_through_the_simulated_array(quantized, tmp_path, capsys):
    x = load("digits", "test")[0][:2]
    np.save(tmp_path / "images.npy", x)
    code, out, err = _run(capsys, "run", quantized, "--data", tmp_path / "images.npy",
                          "--images", 2, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["accuracy"] is None and record["images"] == 2
    assert record["scheme"] == "fxp-channel-signed" and record["array"] == "4x4"
    assert [layer["op"] for layer in record["layers"]] == ["conv", "conv", "dense"]
    code, out, err = _run(capsys, "run", quantized, "--images", 3, "--rows", 2, "--cols", 3)
    assert code == 0, err
    assert "on 3 images of digits:test: every layer bit-exact" in out and "2x3 array" in out


@pytest.mark.cocotb
@pytest.mark.sim
def test_a_depthwise_separable_relu6_model_runs_through_the_simulated_array(tmp_path, capsys,
                                                                          monkeypatch):
    """Depthwise and grouped convolutions (one matrix product per group) and ReLU6 (the host
    clips the array's results) from an ONNX file to the array, bit-exact."""
    onnx.save(separable_model(np.random.default_rng(3)), tmp_path / "m.onnx")
    rng = np.random.default_rng(4)
    np.save(tmp_path / "calibration.npy", rng.normal(0, 1, (32, 3, 10, 10)))
    np.savez(tmp_path / "test.npz", x=rng.normal(0, 1, (2, 3, 10, 10)), y=[1, 7])
    for argv in (("import", tmp_path / "m.onnx", "-o", tmp_path / "net.npz"),
                 ("quantize", tmp_path / "net.npz", "--scheme", "tfx-channel", "--n", 8,
                  "--calibration", tmp_path / "calibration.npy", "-o", tmp_path / "q.npz")):
        code, out, err = _run(capsys, *argv)
        assert code == 0, err
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    code, out, err = _run(capsys, "run", "q.npz", "--data", "test.npz", "--images", 2, "--json")
    assert code == 0, err
    record = json.loads(out)
    products = [(layer["node"], layer["K"], layer["N"]) for layer in record["layers"]]
    assert products.count(("dw", 9, 1)) == 8 and products.count(("gc", 27, 2)) == 4
    assert ("c1", 27, 8) in products and ("pw", 8, 12) in products


def test_run_refuses_an_array_the_blocks_do_not_fit(tmp_path, capsys):
    assert main(["quantize", str(DIGITS_CONVNET), "--scheme", "fxp-mx", "--n", "4",
                 "-o", str(tmp_path / "mx.npz")]) == 0
    code, out, err = _run(capsys, "run", tmp_path / "mx.npz", "--images", 1, "--rows", 3)
    assert code == 1 and err == ("tent run: error: fxp-mx's blocks of 32 weights need an array "
                                 "whose rows divide 32, not 3\n"), err


@pytest.mark.cocotb
@pytest.mark.sim
@pytest.mark.parametrize("scheme,family", [("fxp-channel", "FXP4+U"),
                                           ("tfx-channel-unsigned", "TFX4/IS<=2+U"),
                                           ("tfx-mx16", "TFX4/IS<=2")])
def test_unsigned_and_block_scaled_schemes_run_through_the_simulated_array(scheme, family,
                                                                           tmp_path, capsys):
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", scheme, "--n", 4,
                          "-o", tmp_path / "u.npz")
    assert code == 0, err
    qnet = load_quantized(tmp_path / "u.npz")
    assert qnet.hardware_family.label == family
    assert qnet.input_fmt.signed == ("-mx" in scheme)
    code, out, err = _run(capsys, "run", tmp_path / "u.npz", "--images", 2, "--rows", 2,
                          "--cols", 2, "--json")
    assert code == 0, err
    record = json.loads(out)  # the bench checked every layer against the integer engine
    assert record["family"] == family and record["images"] == 2


def test_report_counts_traffic_and_prices_it_from_an_energy_record(quantized, tmp_path,
                                                                    capsys):
    energy = tmp_path / "energy.json"
    energy.write_text(json.dumps({"library": "lib", "made": {"at": "then"}, "rows": [
        {"n": 4, "workload": "layer", "whole": {"tfx_pj_per_mac": 90.0, "fxp_pj_per_mac": 80.0}}]}))
    code, out, err = _run(capsys, "report", quantized, "--energy", energy)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "is not an energy record of make report" in err and "run make report again" in err
    energy.write_text(json.dumps({"library": "lib", "made": {"at": "then"}, "formats": [
        {"n": 4, "workload": "layer", "designs": {"tfx": {"whole_pj_per_mac": 90.0},
                                                  "fxp": {"whole_pj_per_mac": 80.0}}},
        {"n": 4, "workload": "random", "designs": {"tfx": {"whole_pj_per_mac": 1.0},
                                                   "fxp": {"whole_pj_per_mac": 1.0}}}]}))
    code, out, err = _run(capsys, "report", quantized, "--energy", energy, "--json")
    assert code == 0, err
    record = json.loads(out)
    q = load_quantized(quantized)
    assert {k: record[k] for k in ("macs", "weight_bits", "bias_bits", "activation_bits")} \
        == q.traffic()
    assert record["largest_K"] == max(s.w_codes.shape[0] for s in q.steps.values()
                                      if s.w_codes is not None)
    bits = record["weight_bits"] + record["bias_bits"] + record["activation_bits"]
    e = record["energy"]
    assert e["pj_per_mac"] == 80.0 and e["design"] == "fxp" and e["made"] == "then"
    assert e["energy_nj"]["stated"] == pytest.approx(record["macs"] * 0.080 + bits * 0.005)
    code, out, err = _run(capsys, "report", quantized, "--energy", tmp_path / "none.json")
    assert code == 1 and out == "" and "the energy record " in err and "does not exist" in err
    import scripts.tent
    scripts.tent.ENERGY_RECORD, saved = tmp_path / "none.json", scripts.tent.ENERGY_RECORD
    try:  # no record made yet where the default looks: the figures it can give, and a note
        code, out, err = _run(capsys, "report", quantized)
    finally:
        scripts.tent.ENERGY_RECORD = saved
    assert code == 0 and "energy: no energy record at" in out
    assert f"make synth MAX_K={record['largest_K']} or more" in out
    energy.write_text(json.dumps({"formats": [  # a record with every format's rows
        {"n": 8, "workload": "layer", "designs": {"fxp": {"whole_pj_per_mac": 40.0}}},
        {"n": 4, "workload": "layer", "designs": {"posit": {"whole_pj_per_mac": 70.0}}}]}))
    code, out, err = _run(capsys, "report", quantized, "--energy", energy)
    assert code == 0 and "measured FXP at n = 8, not 4: no energy per inference" in out
    energy.write_text("[1, 2")
    code, out, err = _run(capsys, "report", quantized, "--energy", energy)
    assert code == 1 and "is not an energy record of make report" in err
    energy.write_text("[1, 2]")
    code, out, err = _run(capsys, "report", quantized, "--energy", energy)
    assert code == 1 and "holds a JSON list, not an object" in err and err.count("\n") == 1


def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    model = tmp_path / "net.npz"
    code, out, err = _run(capsys, "import", MODELS / "digits-convnet-s0.onnx", "-o", tmp_path)
    assert code == 1 and "must end in .npz" in err
    (tmp_path / "dir.npz").mkdir()
    code, out, err = _run(capsys, "import", MODELS / "digits-convnet-s0.onnx", "-o",
                          tmp_path / "dir.npz")
    assert code == 1 and "is a directory: give a file name ending in .npz" in err
    # A location that cannot be written (as root nothing is refused, so os.access is told):
    # refused before the calibration, in one line.
    import scripts.tent
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(scripts.tent.os, "access", lambda path, mode: Path(path) != locked)
    for argv in (("import", MODELS / "digits-convnet-s0.onnx"),
                 ("quantize", MODELS / "digits-convnet-s0.npz", "--scheme", "tfx", "--n", "8")):
        code, out, err = _run(capsys, *argv, "-o", locked / "x.npz")
        assert code == 1 and "cannot be written (permission denied)" in err, err
        assert err.count("\n") == 1 and not model.exists()
    monkeypatch.undo()

    def refused(*args, **kwargs):  # and a refusal that only the write itself meets
        raise PermissionError(13, "Permission denied", str(model))
    monkeypatch.setattr(scripts.tent, "save_network", refused)
    code, out, err = _run(capsys, "import", MODELS / "digits-convnet-s0.onnx", "-o", model)
    assert code == 1 and "Permission denied" in err and err.count("\n") == 1


def test_a_closed_pipe_is_quiet(monkeypatch, capsys):
    """tent ... | head: the reader went away. BrokenPipeError is a ConnectionError, which
    tent otherwise reports as an error; here it must end quietly."""
    import scripts.tent

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")
    discarded = []
    monkeypatch.setattr(scripts.tent, "_report", closed)
    monkeypatch.setattr(scripts.tent, "discard_stdout", lambda: discarded.append(True))
    assert main(["report", "anything.npz"]) == 0
    assert capsys.readouterr().err == "" and discarded == [True]


@pytest.mark.cocotb
@pytest.mark.sim
# Unsigned activations: the build's INFO names TFX6/IS<=2+U, each layer's formats travel with
# their unsigned fields. Block-scaled weights: the INFO names the block, each weight row
# carries its block shifts.
@pytest.mark.parametrize("scheme", ["tfx-channel-unsigned", "fxp-mx16"])
def test_deploy_runs_a_network_over_the_simulated_uart(scheme, tmp_path):
    from golden.models import MODELS, load_mlp
    from golden.network import save_network
    from sim.hostlink_bench import run_deploy_bench

    save_network(tmp_path / "mlp.npz", load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    assert main(["quantize", str(tmp_path / "mlp.npz"), "--scheme", scheme,
                 "--n", "6", "--calibration", "digits", "-o", str(tmp_path / "q.npz")]) == 0
    np.savez(tmp_path / "x.npz", x=load("digits", "test")[0][:3])
    result = run_deploy_bench(tmp_path / "q.npz", tmp_path / "x.npz")
    assert result.passed, result


def test_deploy_errors_name_the_port_and_the_mismatch(quantized, capsys):
    for resident in ([], ["--resident"]):
        code, out, err = _run(capsys, "deploy", quantized, "--port", "/dev/nonexistent-tent",
                              *resident)
        assert code == 1 and err.startswith("tent deploy: error: cannot open serial port "
                                            "/dev/nonexistent-tent")
    import asyncio
    from dataclasses import replace

    from golden.arith import ScalingLimits
    from hdl.network_runner import run_on_device

    class Device:
        def __init__(self, **build):
            self.build = replace(_build(), **build)

        async def info(self):
            return self.build

    def _build():
        from hdl.protocol import BuildInfo
        limits = ScalingLimits()
        return BuildInfo(family="fxp:4", form="int", rows=4, cols=4, depth=64, max_K=144,
                         bias_bits=limits.bias_bits, m_bits=limits.m_bits,
                         shift_max=limits.shift_max, max_payload=256, scaling="shared")

    qnet = load_quantized(quantized)
    x = load("digits", "test")[0][:1]
    with pytest.raises(ValueError, match=r"the device runs FXP8 .* the network needs FXP4"):
        asyncio.run(run_on_device(Device(family="fxp:8"), qnet, x))
    with pytest.raises(ValueError, match=r"K = 144\) exceeds the device's max_K = 64"):
        asyncio.run(run_on_device(Device(max_K=64), qnet, x))


def test_data_on_the_wrong_scale_is_warned_about(tmp_path, capsys, quantized):
    from golden.datasets import load as load_dataset
    x, y = load_dataset("digits", "test")
    np.savez(tmp_path / "u8.npz", x=np.rint(x * 255).astype(np.uint8), y=y)
    code, out, err = _run(capsys, "eval", DIGITS_CONVNET, "--data", tmp_path / "u8.npz")
    assert code == 0 and "warning: " in err
    assert "the images are integers from 0 to 255" in err and "divide 8-bit pixels by 255" in err
    np.savez(tmp_path / "f255.npz", x=x * 255, y=y)
    code, out, err = _run(capsys, "eval", quantized, "--data", tmp_path / "f255.npz")
    assert code == 0 and "the images range from 0 to 255, but the network was trained on " \
        "digits images in [0, 1]" in err
    assert "% of the input values lie beyond" in err and "they saturate" in err
    code, out, err = _run(capsys, "eval", quantized, "--data", "digits:test")
    assert code == 0 and err == ""  # the right data: no warning
    np.savez(tmp_path / "zeros.npz", x=np.zeros((20, 1, 8, 8)))
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fxp-layer", "--n", 8,
                          "--calibration", tmp_path / "zeros.npz", "-o", tmp_path / "z.npz")
    assert "warning: " in err and "every calibration value is 0" in err
    np.savez(tmp_path / "huge.npz", x=x[:20] * 1e30)
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fxp-layer", "--n", 8,
                          "--calibration", tmp_path / "huge.npz", "-o", tmp_path / "h.npz")
    assert "calibration values reach 1e+30: are the images, or the normalisation, on the " \
        "right scale?" in err


def test_a_bias_too_wide_names_the_remedy(tmp_path, capsys):
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", 15,
                          "-o", tmp_path / "q.npz")
    assert code == 1 and "the bias needs 33 bits" in err
    assert "quantize with --limits wide (128-bit bias) or a smaller --n" in err
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", 15,
                          "--limits", "wide", "-o", tmp_path / "q.npz")
    assert code == 0 and load_quantized(tmp_path / "q.npz").limits.bias_bits == 128, err
    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fp", "--n", 15,
                          "--limits", "wide", "-o", tmp_path / "f.npz")
    assert code == 1 and "beyond the 128 bits any build takes: choose a smaller --n" in err


@pytest.mark.parametrize("kind", ["missing", "directory", "text"])
def test_every_subcommand_refuses_a_bad_path_in_one_line(tmp_path, capsys, kind):
    bad = {"missing": tmp_path / "none.npz", "directory": tmp_path / "dir.npz",
           "text": tmp_path / "text.npz"}[kind]
    if kind == "directory":
        bad.mkdir()
    if kind == "text":
        bad.write_text("hello\n")
    onnx_bad = bad.with_suffix(".onnx")
    if kind == "directory":
        onnx_bad.mkdir()
    if kind == "text":
        onnx_bad.write_text("hello\n")
    for argv in (["import", onnx_bad, "-o", tmp_path / "out.npz"],
                 ["quantize", bad, "--scheme", "tfx", "--n", "8", "-o", tmp_path / "q.npz"],
                 ["eval", bad], ["run", bad, "--images", "1"], ["report", bad],
                 ["deploy", bad, "--port", "/dev/null", "--images", "1"],
                 ["eval", DIGITS_CONVNET, "--data", bad]):
        code, out, err = _run(capsys, *argv)
        assert code == 1 and err.startswith(f"tent {argv[0]}: error: "), (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        expected = {"missing": "does not exist", "directory": "is a directory",
                    "text": "is not a"}[kind]
        assert expected in err, (argv, err)


def test_an_mlp_takes_flat_or_image_shaped_inputs_and_names_its_own_shape(tmp_path, capsys):
    from onnx import helper
    from tests.onnx_models import graph_model, tensor
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2")]
    inits = [tensor("w1", rng.normal(0, 0.3, (64, 20))), tensor("b1", np.zeros(20)),
             tensor("w2", rng.normal(0, 0.3, (20, 10))), tensor("b2", np.zeros(10))]
    onnx.save(graph_model(nodes, inits, (64,)), tmp_path / "mlp.onnx")
    assert _run(capsys, "import", tmp_path / "mlp.onnx", "-o", tmp_path / "mlp.npz")[0] == 0
    code, out, err = _run(capsys, "eval", tmp_path / "mlp.npz", "--data", "digits:test")
    assert code == 0 and "540 images: accuracy" in out, err  # (N, 1, 8, 8): 64 values each
    np.save(tmp_path / "wrong.npy", np.zeros((4, 63)))
    code, out, err = _run(capsys, "eval", tmp_path / "mlp.npz", "--data", tmp_path / "wrong.npy")
    assert code == 1 and "images of shape (4, 63) do not fit the network's input (N, 64)" in err


@pytest.mark.parametrize("edit,message", [
    (lambda c, s: c.__setitem__(f"step.{s}.M", c[f"step.{s}.M"] * 0 + (1 << 16)),
     "M must be an integer from 1 to 65535, not 65536"),
    (lambda c, s: c.__setitem__(f"step.{s}.shift", c[f"step.{s}.shift"] * 0 - 1),
     "shift must be an integer from 0 to 31, not -1"),
    (lambda c, s: c.__setitem__(f"step.{s}.bias", c[f"step.{s}.bias"] * 0 + (1 << 40)),
     "bias must be an integer from -2147483647 to 2147483647"),
    (lambda c, s: c.__setitem__(f"step.{s}.w_codes", c[f"step.{s}.w_codes"] + 256),
     "must be integers from 0 to 15, not "),
    (lambda c, s: c.pop(f"step.{s}.M"), "the arrays M are missing"),
])
def test_a_quantized_file_is_checked_against_its_limits(quantized, tmp_path, capsys, edit,
                                                        message):
    contents = dict(np.load(quantized))
    step = next(k.split(".")[1] for k in contents if k.endswith(".M"))
    edit(contents, step)
    np.savez(tmp_path / "edited.npz", **contents)
    code, out, err = _run(capsys, "eval", tmp_path / "edited.npz", "--images", "5")
    assert code == 1 and f"step '{step}'" in err and message in err, err
    assert err.count("\n") == 1


def test_each_run_has_a_work_folder_of_its_own(tmp_path, monkeypatch):
    """Two files named qnet.npz in different folders, or two runs at once, used to share
    build/tent/run/qnet.*; the folder is under TENT_WORK when it is set."""
    from scripts.tent import run_folder
    monkeypatch.setenv("TENT_WORK", str(tmp_path / "work"))
    first, second = run_folder("qnet"), run_folder("qnet")
    assert first != second and first.parent == second.parent == tmp_path / "work"
    assert first.name.startswith("qnet-") and first.is_dir() and second.is_dir()
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("TENT_WORK", str(tmp_path / "file" / "below"))
    with pytest.raises(ValueError, match="cannot make a work folder under .*: set TENT_WORK"):
        run_folder("qnet")


def test_evaluation_in_batches_gives_the_whole_arrays_predictions(quantized):
    """tent eval predicts a batch at a time (bounded memory, a progress bar on a terminal):
    the same predictions; calibration reports each batch it has done."""
    from golden.ptq import calibration_samples
    from scripts.tent import _in_batches
    q = load_quantized(quantized)
    x = load("digits", "test")[0][:250]
    assert np.array_equal(_in_batches(q.predict, x, "test", batch=64), q.predict(x))
    assert np.array_equal(_in_batches(q.network.predict, x, "test", batch=100),
                          q.network.predict(x))
    done = []
    calibration_samples(q.network, load("digits", "test")[0], progress=done.append)
    assert done == [250, 250, 40]


def test_report_prices_a_scheme_on_its_build_or_says_what_the_record_leaves_out(tmp_path,
                                                                                capsys):
    """An unsigned or W-MX scheme is priced on its build when the energy record measured it,
    else on the family's plain design, with a note naming what that leaves out."""
    energy = tmp_path / "energy.json"
    plain = {"tfx": {"whole_pj_per_mac": 40.0}, "fxp": {"whole_pj_per_mac": 30.0}}
    energy.write_text(json.dumps({"formats": [{"n": 6, "workload": "layer", "designs": plain}]}))
    path = tmp_path / "mx.npz"
    assert main(["quantize", str(DIGITS_CONVNET), "--scheme", "tfx-mx", "--n", "6",
                 "-o", str(path)]) == 0
    capsys.readouterr()
    code, out, err = _run(capsys, "report", path, "--energy", energy, "--json")
    record = json.loads(out)
    assert code == 0 and record["priced_as"] == (
        "the TFX6/IS<=3 design's energy, without the block shifters of its blocks of 32")
    assert record["energy"]["design"] == "tfx" and record["energy"]["pj_per_mac"] == 40.0
    code, out, err = _run(capsys, "report", path, "--energy", energy)
    assert "  priced as the TFX6/IS<=3 design's energy, without the block shifters" in out
    unsigned = tmp_path / "u.npz"
    assert main(["quantize", str(DIGITS_CONVNET), "--scheme", "fxp-channel", "--n", "6",
                 "-o", str(unsigned)]) == 0
    capsys.readouterr()
    code, out, err = _run(capsys, "report", unsigned, "--energy", energy, "--json")
    assert json.loads(out)["priced_as"] == ("the FXP6 design's energy, without its unsigned "
                                            "variants (FXP6+U)")
    builds = {**plain, "tfx+mx32": {"whole_pj_per_mac": 45.0},
              "fxp+u": {"whole_pj_per_mac": 33.0}}
    energy.write_text(json.dumps({"formats": [{"n": 6, "workload": "layer",
                                               "designs": builds}]}))
    for quantized, design, pj in ((path, "tfx+mx32", 45.0), (unsigned, "fxp+u", 33.0)):
        code, out, err = _run(capsys, "report", quantized, "--energy", energy, "--json")
        record = json.loads(out)
        assert "priced_as" not in record and "not_built" not in record, err
        assert record["energy"]["design"] == design and record["energy"]["pj_per_mac"] == pj
    code, out, err = _run(capsys, "report", unsigned, "--energy", energy)
    assert "the FXP +U 4x4 accelerator's whole energy" in out
    tfx_channel = tmp_path / "plain.npz"
    assert main(["quantize", str(DIGITS_CONVNET), "--scheme", "tfx-channel", "--n", "6",
                 "-o", str(tfx_channel)]) == 0
    capsys.readouterr()
    code, out, err = _run(capsys, "report", tfx_channel, "--energy", energy, "--json")
    record = json.loads(out)
    assert "not_built" not in record and "priced_as" not in record
    assert record["energy"]["design"] == "tfx"


def test_compile_writes_a_program_whose_interpreter_matches_the_engine(tmp_path, capsys):
    from golden.interpreter import Machine
    from golden.program import read_program

    code, out, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fxp-layer", "--n", 8,
                          "-o", tmp_path / "q.npz")
    assert code == 0, err
    code, out, err = _run(capsys, "compile", tmp_path / "q.npz", "-o", tmp_path / "net.bin",
                          "--rows", 3, "--cols", 3, "--check", 5)
    assert code == 0, err
    assert "on a 3x3 array; 5 instructions" in out
    assert "checked: on 5 images of digits:test the program's logits equal" in out
    program = read_program((tmp_path / "net.bin").read_bytes())
    qnet = load_quantized(tmp_path / "q.npz")
    x, _ = load("digits", "test")
    machine = Machine(program)
    assert [machine.classify(c)[0] for c in program.input_codes(x[:20])] == list(
        qnet.predict(x[:20]))


@pytest.mark.parametrize("extra,message", [
    (["-o", "net.npz"], "the output .*net.npz must end in .bin"),
    (["--rows", 0], "--rows must be an integer from 1 to 64, not 0"),
    (["--memory", 1000], r"the network needs [\d,]+ codes of memory .*; the memory holds 1,000"),
    (["--check", -1], "--check must be an integer from 0 to 10000, not -1"),
])
def test_compile_errors_are_one_line(tmp_path, capsys, extra, message):
    import re

    code, _, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "tfx", "--n", 8,
                        "-o", tmp_path / "q.npz")
    assert code == 0, err
    argv = ["-o", tmp_path / "net.bin"] if "-o" not in extra else []
    extra = [tmp_path / e if str(e).endswith(".npz") else e for e in extra]
    code, out, err = _run(capsys, "compile", tmp_path / "q.npz", *argv, *extra)
    assert code == 1 and err.count("\n") == 1 and re.search(message, err), err
    assert not (tmp_path / "net.bin").exists()


def test_compile_refuses_a_scheme_the_accelerator_does_not_build(tmp_path, capsys):
    code, _, err = _run(capsys, "quantize", DIGITS_CONVNET, "--scheme", "fxp-channel",
                        "--n", 8, "-o", tmp_path / "q.npz")
    assert code == 0, err
    code, _, err = _run(capsys, "compile", tmp_path / "q.npz", "-o", tmp_path / "net.bin")
    assert code == 1 and ("fxp-channel has unsigned tensors (FXP8+U): the standalone core does "
                          "not build unsigned activations yet") in err, err
