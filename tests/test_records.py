"""Records name how they were made; the one Markdown-table helper."""

import json

import pytest

from scripts.records import markdown_table, provenance, write_report


def test_a_record_carries_its_provenance(tmp_path):
    write_report(tmp_path, "thing", {"value": 3}, "# Thing\n")
    record = json.loads((tmp_path / "thing.json").read_text())
    assert record["value"] == 3
    made = record["provenance"]
    assert set(made) == {"command", "commit", "dirty", "date", "machine", "wall_s"}
    assert made["command"].startswith("python -m ")
    assert len(made["commit"]) == 40 and made["date"].endswith("Z")
    assert "cores" in made["machine"] and made["wall_s"] > 0
    assert (tmp_path / "thing.md").read_text() == "# Thing\n"


def test_a_record_is_a_dict(tmp_path):
    with pytest.raises(TypeError, match="a record is a dict, not list"):
        write_report(tmp_path, "thing", [1, 2])


def test_provenance_wall_time_grows():
    assert provenance()["wall_s"] <= provenance()["wall_s"]


def test_markdown_table_aligns_and_checks_row_lengths():
    assert markdown_table(["a", "b"], [(1, "x"), (2, "")], align="lr") == [
        "| a | b |", "|---|---:|", "| 1 | x |", "| 2 | |"]
    with pytest.raises(ValueError, match="a row of 1 cells in a table of 2 columns"):
        markdown_table(["a", "b"], [(1,)])
    with pytest.raises(ValueError, match="align has 1 columns, the header 2"):
        markdown_table(["a", "b"], [], align="l")
