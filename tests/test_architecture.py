"""The package structure: golden <- hdl <- sim <- scripts, nothing imported backwards; no
simulator reachable from the spec, the hardware or the host client."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("golden", "hdl", "sim", "scripts")
SIMULATORS = ("cocotb", "cocotb_tools", "amaranth.sim")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Every module ``path`` imports, anywhere in it (function bodies included), absolute."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def import_graph(root=ROOT):
    """``{module: imported modules}`` of every project module."""
    return {_module_name(path): _imports(path)
            for layer in LAYERS for path in sorted((root / layer).rglob("*.py"))}


def _layer(module):
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def backward_imports(graph):
    """(importer, imported) pairs where a package imports one above it."""
    return sorted((importer, imported) for importer, imported_set in graph.items()
                  for imported in imported_set
                  if _layer(imported) is not None and _layer(imported) > _layer(importer))


def reachable(graph, start):
    """Every module reachable by imports from ``start`` (project modules followed)."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for imported in graph.get(module, ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def _simulators(modules):
    return sorted(m for m in modules if any(m == s or m.startswith(s + ".") for s in SIMULATORS))


def test_packages_import_one_way():
    assert backward_imports(import_graph()) == []


@pytest.mark.parametrize("start", ["hdl.client", "hdl.tiling", "hdl.protocol"])
def test_no_simulator_reachable_from_the_host_side(start):
    assert _simulators(reachable(import_graph(), start)) == []


def test_no_simulator_in_golden_or_hdl():
    graph = import_graph()
    for module in graph:
        if _layer(module) <= LAYERS.index("hdl"):
            assert _simulators(reachable(graph, module)) == [], module


def test_the_checks_see_a_backward_import_and_a_simulator():
    graph = {"golden.a": {"sim.runner"}, "hdl.b": {"cocotb.triggers"}, "sim.runner": set()}
    assert backward_imports(graph) == [("golden.a", "sim.runner")]
    assert _simulators(reachable(graph, "hdl.b")) == ["cocotb.triggers"]


def test_host_client_imports_without_cocotb():
    """The host client in a Python where cocotb and Amaranth's simulator cannot be imported."""
    script = textwrap.dedent("""
        import importlib.abc, sys
        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("cocotb", "cocotb_tools") or \\
                        name.startswith("amaranth.sim"):
                    raise ImportError(f"{name} is hidden")
        sys.meta_path.insert(0, Hide())
        import hdl.client, scripts.host
        try:
            import cocotb
        except ImportError:
            pass
        else:
            raise SystemExit("cocotb was not hidden")
        loaded = [m for m in sys.modules if m.startswith(("cocotb", "amaranth.sim"))]
        assert not loaded, loaded
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
