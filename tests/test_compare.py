"""``tent compare``: the study's numbers for the user's network, its cache, its errors, and the
same records from a Dask cluster as from local processes (scripts.executor)."""

import json

import numpy as np
import pytest

from golden.models import MODELS, load_mlp
from golden.network import save_network
from golden.ptq import SCHEMES
from scripts import tent
from scripts.nn import compare
from scripts.nn.study import evaluate


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "digits-mlp.npz"
    save_network(path, load_mlp(MODELS / "digits_mlp.npz").to_network((1, 8, 8)))
    return path


def _compare(path, out, *extra):
    return tent.main(["compare", str(path), "--data", "digits:test", "--calibration",
                      "digits:calibration", "--jobs", "1", "-o", str(out), *extra])


def test_the_table_holds_the_studys_numbers_and_a_rerun_computes_nothing(
        mlp_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENT_WORK", str(tmp_path / "work"))
    assert _compare(mlp_file, tmp_path / "a", "--widths", "4", "6", "--formats", "tfx", "fxp",
                    "posit") == 0
    out = capsys.readouterr().out
    assert "digits-mlp.npz on digits:test, 540 images: 38 runs" in out
    record = json.loads((tmp_path / "a" / "compare.json").read_text())
    assert (tmp_path / "a" / "compare.md").is_file() and (tmp_path / "a" / "pareto.png").is_file()
    schemes = [s for s in SCHEMES if s.split("-")[0] in ("tfx", "fxp", "posit")]
    study = evaluate(mlp_file, "digits", [4, 6], schemes,
                     0, lambda line: None, cache=tmp_path / "study", variants=True)
    assert len(record["runs"]) == 38  # 15 schemes and posit es = 0's four, at 2 widths
    for run in record["runs"]:
        name = run["scheme"] + f"/{run['n']}" + ("" if run["label"] == run["scheme"]
                                                 else f"/{run['family']}")
        assert run["accuracy"] == study[name]["integer"], name
        assert 0 < run["agreement"] <= 1 and run["memory_bits"] > 0
    # The second run takes everything from the cache: no run is evaluated again, and the
    # calibration samples are not even computed.
    monkeypatch.setattr(compare, "evaluate_run", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(tent, "calibration_samples",
                        lambda *a, **k: pytest.fail("calibrated again"))
    assert _compare(mlp_file, tmp_path / "b", "--widths", "4", "6", "--formats", "tfx", "fxp",
                    "posit") == 0
    again = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert again["runs"] == record["runs"]


def test_priced_runs_carry_energy_and_the_answer_table(mlp_file, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("TENT_WORK", str(tmp_path / "work"))
    energy = {"array": "4x4", "library": "test cells", "formats": [
        {"n": 4, "workload": "layer", "array": "4x4", "designs": {
            "tfx": {"whole_pj_per_mac": 30.0, "area_um2": 1.3e6},
            "fxp": {"whole_pj_per_mac": 25.0, "area_um2": 1.2e6},
            "fxp+u": {"whole_pj_per_mac": 27.0, "area_um2": 1.25e6}}}]}
    path = tmp_path / "energy.json"
    path.write_text(json.dumps(energy))
    assert _compare(mlp_file, tmp_path / "out", "--widths", "4", "--formats", "tfx", "fxp",
                    "--energy", str(path)) == 0
    record = json.loads((tmp_path / "out" / "compare.json").read_text())
    tfx = next(r for r in record["runs"] if r["scheme"] == "tfx")
    macs = tfx["traffic"]["macs"]
    assert tfx["pj_per_mac"] == 30.0
    assert tfx["energy_nj"]["stated"] == pytest.approx(
        macs * 30.0 / 1000 + tfx["memory_bits"] * 5.0 / 1000)
    assert {r["design"] for r in record["answer"]} == {"tfx", "fxp"}
    # Each run priced on the build that runs its scheme, or on the plain design (marked).
    runs = {r["scheme"]: r for r in record["runs"]}
    assert (runs["fxp-channel"]["priced_on"], runs["fxp-channel"]["pj_per_mac"]) == ("fxp+u", 27.0)
    assert not runs["fxp-channel"]["plain_price"]
    unsigned = runs["tfx-channel-unsigned"]
    assert (unsigned["priced_on"], unsigned["plain_price"], unsigned["pj_per_mac"]) == (
        "tfx", True, 30.0)
    assert record["front"]
    text = (tmp_path / "out" / "compare.md").read_text()
    assert "| 4 | TFX |" in text and "Pareto front" in text and "test cells" in text
    assert "Pareto front (accuracy against energy per inference)" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    (["--widths", "2"], "--widths must be an integer from 3 to 16, not 2"),
    (["--widths", "4", "4"], "--widths repeats a width: 4 4"),
    (["--formats", "tfx", "--schemes", "fp"], "no scheme of --schemes fp is of --formats tfx"),
    (["--images", "5000"], "--images 5000 is more than the 540 images of digits:test"),
    (["--energy", "missing.json"], "the energy record missing.json does not exist"),
    (["--scheduler", "tcp://nowhere"], "needs a port"),
    (["--scheduler", "http://host:1"], "unknown protocol 'http'"),
    (["--jobs", "0"], "--jobs must be an integer from 1 to 256, not 0"),
])
def test_bad_arguments_are_one_line_errors(mlp_file, tmp_path, capsys, extra, message):
    assert _compare(mlp_file, tmp_path / "out", *extra) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error


def test_unlabelled_data_and_a_file_as_the_output_are_refused(mlp_file, tmp_path, capsys):
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((4, 1, 8, 8)))
    assert tent.main(["compare", str(mlp_file), "--data", str(images), "--calibration",
                      "digits:calibration", "-o", str(tmp_path / "out")]) == 1
    assert "has no labels: tent compare needs labelled images" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert _compare(mlp_file, tmp_path / "file") == 1
    assert "is a file, not a directory" in capsys.readouterr().err


def test_a_dask_cluster_gives_the_same_records_as_local_processes(mlp_file, tmp_path):
    from distributed import LocalCluster

    from golden.datasets import load
    from golden.network import load_network
    from golden.ptq import calibration_samples

    network = load_network(mlp_file)
    x, y = load("digits", "test")
    samples = calibration_samples(network, load("digits", "calibration")[0])
    runs = compare.compare_runs([4, 8], ("tfx", "fp"))
    records = []
    for where in ("local", "dask"):
        kwargs = {"jobs": 2} if where == "local" else {}
        if where == "dask":
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            kwargs["scheduler"] = cluster.scheduler_address
        try:
            results, accuracy = compare.run_compare(network, x, y, lambda: samples, runs,
                                                    cache=tmp_path / f"{where}.json", key="k",
                                                    **kwargs)
        finally:
            if where == "dask":
                cluster.close()
        record = compare.build_record(mlp_file, "digits:test", "digits:calibration", len(x),
                                      runs, results, accuracy)
        records.append(json.dumps(record, sort_keys=True))
    assert records[0] == records[1]
    assert '"fp (E5)"' in records[0]  # E5M2 ran on the workers, wide steps and all
