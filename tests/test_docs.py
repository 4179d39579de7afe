"""The documentation stays true: every path, link, make target, variable and command that the
README and docs/ name exists; the formats' worked examples are what the golden model decodes;
the generated parts are current; the README's walkthrough runs and prints what it shows."""

import functools
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from golden import parse_format
from scripts import docs
from scripts.records import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MAKE_TARGETS = {target for target, _ in docs.make_targets()}
MAKE_VARIABLES = {name for name, _, _ in docs.make_variables()}


def page_id(path):
    return str(path.relative_to(ROOT))


def code_blocks(text, kinds=("console", "sh")):
    """The contents of the fenced blocks of the given kinds."""
    return [m[2] for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S) if m[1] in kinds]


def test_the_readme_is_a_short_front_door():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:30])
    assert "make test " in first_screen and "make synth BOARD=icebreaker" in first_screen
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Set-up: two commands", "## Your own model in six commands",
                        "## Which format is worth its silicon?", "## Sweeps on a cluster",
                        "## Make targets",
                        "## Layout", "## Documentation"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_link_leads_somewhere(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page_id(page)} links to {target}, which does not exist"
        if anchor:
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-")
                     for h in re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)}
            assert anchor in slugs, f"{page_id(page)} links to #{anchor} of {path or 'itself'}"


_REPO_PATH = re.compile(r"`((?:golden|hdl|sim|scripts|tests|models|docs|\.ci)/[\w./-]*)`")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_path_named_exists(page):
    for path in _REPO_PATH.findall(page.read_text()):
        if "<" in path or "*" in path:
            continue
        assert (ROOT / path).exists(), f"{page_id(page)} names {path}, which does not exist"


def test_no_file_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        path = ROOT / name
        if not path.exists():  # deleted in the work tree, not yet in the index
            continue
        if path.suffix not in {".py", ".md", ".toml", ".sh", ".cfg", ".txt"} and \
                name not in {"Makefile", ".ci/run"}:
            continue
        text = path.read_text()
        outside = ("../" + "shared", "shared/" + "design")  # spelt so as not to match here
        assert not any(needle in text for needle in outside), \
            f"{name} points outside the repository"


def _make_commands(text):
    for block in code_blocks(text) + re.findall(r"`(make [^`]+)`", text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("make "):
                yield line.split("#")[0].strip()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_command_names_a_target_and_its_variables(page):
    for command in _make_commands(page.read_text()):
        words = command.split()[1:]
        targets = [w for w in words if "=" not in w and not w.startswith(("[", "-", "…"))]
        for target in targets[:1]:
            assert target.rstrip(",.;)") in MAKE_TARGETS, \
                f"{page_id(page)}: `{command}` names no make target"
        for word in words:
            name = word.lstrip("[").partition("=")[0]
            if "=" in word and name.isupper():
                assert name in MAKE_VARIABLES, \
                    f"{page_id(page)}: `{command}` sets {name}, which the Makefile does not take"


@functools.lru_cache(maxsize=None)
def _parser_options(module, arguments):
    text = docs.command_help(module, arguments)
    return set(re.findall(r"(--[\w-]+)", text))


_TENT_COMMAND = re.compile(r"tent (import|quantize|eval|run|report|deploy)\b([^\n`]*)")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_tent_option_named_exists(page):
    text = page.read_text()
    for block in code_blocks(text) + [text]:
        for sub, rest in _TENT_COMMAND.findall(block):
            known = _parser_options("scripts.tent", (sub,))
            for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest):
                assert option in known, f"{page_id(page)}: tent {sub} has no {option}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_module_named_exists(page):
    for module in set(re.findall(r"python -m ([\w.]+)", page.read_text())):
        importlib.util.find_spec(module) or pytest.fail(
            f"{page_id(page)} names python -m {module}, which does not exist")


def _worked_examples():
    for page in sorted((ROOT / "docs" / "formats").glob("*.md")):
        text = page.read_text()
        for spec, table in re.findall(r"## Worked examples: `([^`]+)`\n[^|#]*?((?:\|.*\n)+)",
                                      text):
            rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
            yield pytest.param(spec, rows, id=f"{page.stem}-{spec}")


@pytest.mark.parametrize(("spec", "rows"), list(_worked_examples()))
def test_worked_examples_are_what_the_golden_model_decodes(spec, rows):
    fmt = parse_format(spec)
    assert rows
    for row in rows:
        code = int(row[0].replace(" ", ""), 2)
        shown = row[-1].strip()
        value = fmt.decode(code)
        if shown.startswith("NaR"):
            assert value != value, f"{spec} code {row[0]} is shown as NaR"
        else:
            number = float(shown.split()[0].replace("−", "-"))
            assert value == number, f"{spec} code {row[0]}: the page says {number}, not {value}"


def test_the_tfx_values_listed_are_every_positive_value():
    text = (ROOT / "docs" / "formats" / "tfx.md").read_text()
    listed = re.search(r"The positive values of `tfx:5,2,0`, in order: ([^.]*(?:\.\d+[^.]*)*)\.\n",
                       text)[1]
    values = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", listed)]
    assert values == sorted(v for v in parse_format("tfx:5,2,0").values() if v > 0)


def test_the_generated_files_are_current():
    """make docs writes nothing new: the make table and references match the Makefile and
    the parsers, and every results page whose record is in build/ matches it."""
    stale = [page_id(path) for path, text in docs.generated_files().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"out of date, run make docs: {stale}"


def test_make_help_lists_every_target(tmp_path):
    help_text = subprocess.run(["make", "--no-print-directory", "-s", "help"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    for target in MAKE_TARGETS:
        assert f"make {target} " in help_text
    for name in MAKE_VARIABLES:
        assert f"  {name} " in help_text
    phony = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", (ROOT / "Makefile").read_text(), re.M)[1]
    assert set(phony.replace("\\", " ").split()) == MAKE_TARGETS


def test_a_stale_generated_file_is_caught(monkeypatch, tmp_path):
    """Teeth: a Makefile whose comment changed makes the README's table stale."""
    makefile = tmp_path / "Makefile"
    makefile.write_text((ROOT / "Makefile").read_text().replace(
        "## this list", "## this list, and more"))
    assert docs.readme_make_table(makefile) != docs.readme_make_table()


def test_result_pages_name_how_they_were_made():
    for page in docs.RESULT_PAGES:
        path = ROOT / "docs" / "results" / f"{page.name}.md"
        assert path.exists(), f"no results page {page.name}"
        text = path.read_text()
        for field in ("| made by |", "| command |", "| commit |", "| date |", "| machine |",
                      "| wall time |"):
            assert field in text, f"{page.name}: no {field.strip('| ')}"
        what = docs._section(text, docs.WHAT_IT_SAYS)
        assert what and not what.startswith("Not written yet"), \
            f"{page.name} says nothing in \"What it says\""
        assert docs._section(text, docs.THE_RECORD)


def test_a_results_page_is_generated_from_its_record(tmp_path):
    from scripts.records import write_report
    write_report(tmp_path / "perf", "perf", {"rows": []}, "# Record title\n\n## Table\n\n| a |\n")
    page = next(p for p in docs.RESULT_PAGES if p.name == "perf")
    existing = "# Old\n\n## What it says\n\nHand-written words.\n\n## The record\n\nstale\n"
    text = docs.result_page(page, tmp_path, existing)
    assert "| command | `python -m " in text and "Hand-written words." in text
    assert "### Table" in text and "stale" not in text and "Record title" not in text
    assert docs.result_page(page, tmp_path / "nothing", existing) is None


def test_the_readme_answer_is_generated_from_the_energy_record(tmp_path):
    """The README's answer table comes from make report's answer rows for the headline
    ConvNet, with both records' provenance; without the record it is left as it is."""
    assert docs.readme_answer(tmp_path) is None
    made = lambda command, commit: {"command": command, "commit": commit, "dirty": False,
                                    "date": "2026-12-07T18:00:00Z"}
    row = lambda design, scheme, accuracy, energy, **more: {
        "dataset": "fashion-mnist", "model": "convnet", "n": 4, "design": design,
        "priced_on": design, "scheme": scheme, "accuracy": accuracy, "std": 0.01, "seeds": 3,
        "pj_per_mac": energy, "area_um2": 1.5e6, "energy_nj": 1000.0 * energy,
        "plain_price": False, **more}
    energy = {"provenance": made("python -m scripts.report", "abcdef0123"),
              "accuracy_provenance": made("python -m scripts.accuracy", "1234567890"),
              "answer": [row("tfx", "tfx-channel-unsigned", 0.87, 35.0, plain_price=True),
                         {**row("fxp", "fxp-channel", 0.89, 32.0, tfx_accuracy_points=-2.0,
                                tfx_energy_ratio=35 / 32), "priced_on": "fxp+u"},
                         {**row("tfx", "tfx", 0.5, 1.0), "model": "resnet"}]}
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "energy.json").write_text(json.dumps(energy))
    text = docs.readme_answer(tmp_path)
    assert "mean ± standard deviation over 3 training seeds" in text
    assert "| 4 | TFX | tfx-channel-unsigned † | 87.0 ± 1.0 | 1.500 | 35.0 | 35.0 | | |" in text
    assert "| 4 | FXP +U | fxp-channel | 89.0 ± 1.0 | 1.500 | 32.0 | 32.0 | -2.0 | 1.094 |" in text
    assert "resnet" not in text and "† Priced on the family's plain design" in text
    assert ("Made by `python -m scripts.accuracy` at commit 1234567 (2026-12-07) and "
            "`python -m scripts.report` at commit abcdef0 (2026-12-07)") in text
    readme = "a\n" + docs.ANSWER_START + "\nold table\n" + docs.ANSWER_END + "\nbullets\n"
    assert docs._between(readme, docs.ANSWER_START, docs.ANSWER_END, text) == (
        "a\n" + docs.ANSWER_START + "\n" + text + docs.ANSWER_END + "\nbullets\n")


def _walkthrough(page="README.md", heading="## Your own model in six commands"):
    """The first console block after ``heading`` in ``page`` (the README's walkthrough):
    [(command, expected output lines)]."""
    text = (ROOT / page).read_text()
    start = text.index(heading)
    block = code_blocks(text[start:], ("console",))[0]
    steps = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


@pytest.mark.cocotb
def test_the_readme_walkthrough_runs_and_prints_what_it_shows(tmp_path):
    (tmp_path / "models").symlink_to(ROOT / "models")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ['PATH']}"}
    variables = {}
    for command, expected in _walkthrough():
        if re.fullmatch(r"\w+=\S+", command):
            name, _, value = command.partition("=")
            variables[name] = str(Path(sys.executable).parent / "tent") \
                if value.endswith("bin/tent") else value
            continue
        words = [variables.get(w[1:], w) if w.startswith("$") else w
                 for w in shlex.split(command)]
        done = subprocess.run(words, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env, timeout=900)
        assert done.returncode == 0, f"{command}: {done.stdout}"
        got = done.stdout.splitlines()
        if words[1] == "report":  # the energy lines need make report's record
            keep = [line for line in expected if not line.startswith(("  energy", "  from "))]
            assert got[:len(keep)] == keep, command
            assert len(got) > len(keep)
        elif words[1] == "compare":  # which run is each format's best, the energy figures
            # and the front depend on make report's record: the runs shown must be in
            # compare.json with the accuracies shown, and the rest must match.
            runs = {(run["n"], run["label"]): f"{100 * run['accuracy']:.2f}" for run in
                    json.loads((tmp_path / "cmp" / "compare.json").read_text())["runs"]}
            shown = [re.match(r"  n=(\d+) [^:]+: (.+?) ([\d.]+) %", line) for line in expected]
            assert all(runs[(int(m[1]), m[2])] == m[3] for m in shown if m), command
            rest = lambda lines: [line for line in lines
                                  if not line.startswith(("  n=", "  Pareto", "  energy:"))]
            assert rest(got) == rest(expected), command
        elif words[1] == "run":  # the simulator's own lines (a cached build) come between
            remaining = iter(got)
            assert all(any(line == seen for seen in remaining) for line in expected), \
                f"{command}: {expected} not in {got}"
        else:
            assert got == expected, command


def test_the_guides_standalone_program_is_what_tent_compile_prints(tmp_path):
    shutil.copy(ROOT / "models" / "fashion-mnist-convnet-s0.npz", tmp_path / "net.npz")
    tent = str(Path(sys.executable).parent / "tent")
    steps = _walkthrough("docs/guide/tent.md", "## A standalone program")
    assert [command.split()[1] for command, _ in steps] == ["quantize", "compile"]
    for command, expected in steps:
        words = [tent if w == "$T" else w for w in shlex.split(command)]
        done = subprocess.run(words, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stdout}"
        if expected:
            assert done.stdout.splitlines() == expected, command
