"""The package layout keeps its rules (issue 14): folders are layers and
imports only point down; checked on the source with ``ast`` (module-level
and function-level imports), so it holds on every machine, GPU or not.
``python tools/import_graph.py`` prints the graph."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
graph = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = graph
_spec.loader.exec_module(graph)


def test_layout_rules_hold():
    assert graph.violations() == []


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path):
    edges = graph.imports(graph.modules())
    # a function-level import (optional dependency aside) is an edge like any other
    assert any(t == "noisegen._core.jit" for t, _ in edges["noisegen._kernels.rng"])
    fake = {"a.x": {("a.y", "")}, "a.y": {("a.x", "")}}
    assert graph.cycles(fake)


def test_every_module_is_in_a_layer():
    layers = {mod: graph.layer(mod) for mod in graph.modules()}  # KeyError names a module in no layer
    assert layers and all(0 <= i < len(graph.LAYERS) for i in layers.values())


def test_the_checker_flags_a_noisegen_import_inside_a_function(tmp_path, monkeypatch):
    pkg = tmp_path / "noisegen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "late.py").write_text("import os\n\n\ndef f():\n    from . import early\n    import numpy\n")
    (pkg / "early.py").write_text("")
    monkeypatch.setattr(graph, "ROOT", tmp_path)
    monkeypatch.setattr(graph, "PACKAGE", pkg)
    assert graph.lazy_imports(graph.modules()) == ["noisegen.late:5"]


def test_the_lazy_table_of_the_package_counts_as_its_imports():
    edges = graph.imports(graph.modules())["noisegen"]
    assert {("noisegen.effects", ""), ("noisegen.transforms", ""), ("noisegen.data.stream", "AugmentStream"),
            ("noisegen.cuda", "")} <= edges


def test_the_checker_flags_a_lazy_table_entry_that_points_up(tmp_path, monkeypatch):
    pkg = tmp_path / "noisegen"
    (pkg / "_core").mkdir(parents=True)
    (pkg / "effects").mkdir()
    for init in (pkg / "__init__.py", pkg / "_core" / "__init__.py", pkg / "effects" / "__init__.py"):
        init.write_text("")
    (pkg / "_core" / "low.py").write_text('_LAZY = {"..effects": ("mix", "_secret")}\n')
    monkeypatch.setattr(graph, "ROOT", tmp_path)
    monkeypatch.setattr(graph, "PACKAGE", pkg)
    found = graph.violations()
    assert "noisegen._core.low imports noisegen.effects: upward (layer order in tools/import_graph.py)" in found
    assert "noisegen._core.low imports private noisegen.effects._secret from another folder" in found


def test_jit_options_are_set_in_the_jit_module_only():
    """DESIGN: all jit options (cache, fastmath flags, nogil, parallel) are set in one module; the biquad
    kernels set their fastmath flags where they were decorated."""
    import ast

    from conftest import ROOT

    options = {"cache", "fastmath", "nogil", "parallel", "error_model", "boundscheck"}
    found = []
    for path in (ROOT / "noisegen").rglob("*.py"):
        if path.as_posix().endswith("_core/jit.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {k.arg}" for k in node.keywords if k.arg in options]
    assert found == []
