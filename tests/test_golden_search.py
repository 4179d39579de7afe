"""The TENT per-tensor search and the golden model's command line."""

import json
import re

import numpy as np
import pytest

from golden import FXP, TFX
from golden.__main__ import main
from golden.search import quantization_error, search_fxp, search_tfx


def brute_force_mse(x, fmt):
    return float(np.mean((fmt.decode(fmt.quantize(x)) - x) ** 2))


@pytest.mark.parametrize("seed", range(3))
def test_fast_errors_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=3000) * 0.05
    x[:5] = [0.0, 0.125, -0.125, 1e-9, -3.0]  # ties and extremes
    for fmt in [TFX(8, 3, -3), TFX(5, 2, 0), TFX(6, 5, -8), FXP(8, 9), FXP(4, 1, signed=False)]:
        assert quantization_error(x, fmt) == pytest.approx(brute_force_mse(x, fmt), rel=1e-9)
        mae = float(np.mean(np.abs(fmt.decode(fmt.quantize(x)) - x)))
        assert quantization_error(x, fmt, "mae") == pytest.approx(mae, rel=1e-9)


def test_search_finds_the_brute_force_optimum():
    rng = np.random.default_rng(5)
    x = rng.laplace(scale=0.02, size=4000)
    result = search_tfx(x, 6)
    errors = {(IS, SC): brute_force_mse(x, TFX(6, IS, SC)) for IS in range(1, 6) for SC in range(-32, 33)}
    best = min(errors.values())
    assert result.error == pytest.approx(best, rel=1e-9)
    assert errors[(result.format.IS, result.format.SC)] == pytest.approx(best, rel=1e-9)
    # Deterministic: ties go to the smaller IS, then the smaller SC.
    tied = sorted(key for key, value in errors.items() if value <= best * (1 + 1e-12))
    assert (result.format.IS, result.format.SC) == tied[0]
    fxp = search_fxp(x, 6)
    assert fxp.error == pytest.approx(min(brute_force_mse(x, FXP(6, F)) for F in range(-32, 33)))


def test_search_tie_breaks_to_smaller_IS():
    # Values that every IS represents exactly: zero error for all candidates that cover them.
    x = np.array([1.0, -1.0, 1.5, 0.0])
    result = search_tfx(x, 8)
    assert result.error == 0.0 and result.format == TFX(8, 1, 0)
    assert result.candidates["tfx:8,2,0"] == 0.0  # a tie, lost to the smaller IS


def test_search_respects_ranges_and_callable_objective():
    rng = np.random.default_rng(2)
    x = rng.normal(size=500)
    limited = search_tfx(x, 8, IS_range=(1, 3))
    assert 1 <= limited.format.IS <= 3
    assert len(limited.candidates) == 3 * 65

    def max_error(x, xq):
        return float(np.max(np.abs(x - xq)))

    custom = search_tfx(x, 5, objective=max_error, SC_range=(-4, 4))
    assert custom.objective == "max_error"
    assert custom.error == min(max_error(x, TFX(5, IS, SC).decode(TFX(5, IS, SC).quantize(x)))
                               for IS in range(1, 5) for SC in range(-4, 5))


@pytest.mark.parametrize("call,error,message", [
    (lambda: search_tfx([1.0, np.nan], 8), ValueError, "finite numbers only"),
    (lambda: search_tfx([], 8), ValueError, "must not be empty"),
    (lambda: search_tfx([1.0], 17), ValueError, "n must be an integer from 3 to 16, not 17"),
    (lambda: search_tfx([1.0], 8, objective="kl"), ValueError, "objective must be one of 'mse', 'mae'"),
    (lambda: search_tfx([1.0], 8, IS_range=(1, 8)), ValueError, "IS_range high must be an integer from 1 to 7"),
    (lambda: search_fxp([1.0], 8, F_range=(-40, 0)), ValueError, "F_range low must be an integer from -32 to 32"),
    (lambda: search_fxp(["a"], 8), TypeError, "Tensor must hold real numbers"),
])
def test_search_invalid_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cli_table(capsys):
    assert main(["table", "tfx:8,3,0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 256
    assert lines[2 + 0b01110011].split()[-1] == "4.75"
    assert "NaR" in lines[2 + 128]
    assert main(["table", "fxp:4,1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-1] == "-0.5"


def test_cli_quantize_and_errors(capsys):
    assert main(["quantize", "tfx:8,3,0", "1.65625", "--", "-100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "code     85" in out[0] and "code    129" in out[1]
    assert main(["quantize", "tfx:8,9,0", "1"]) == 2
    assert "IS must be an integer from 1 to 7, not 9" in capsys.readouterr().err
    assert main(["quantize", "fxp:8,2", "nan"]) == 2
    assert "Cannot quantize NaN" in capsys.readouterr().err


def test_cli_search(tmp_path, capsys):
    path = tmp_path / "w.npy"
    np.save(path, np.random.default_rng(0).normal(scale=0.1, size=(16, 8)))
    assert main(["search", str(path), "--n", "6", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["tfx"]["format"].startswith("tfx:6,") and record["ufxp"] is None
    assert record["tfx"]["error"] == pytest.approx(
        quantization_error(np.load(path), TFX(*map(int, record["tfx"]["format"][4:].split(",")))))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a numpy file")
    assert main(["search", str(bad)]) == 2
    assert re.match(r"error: cannot read .*bad.npy as a .npy array", capsys.readouterr().err)
