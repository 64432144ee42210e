"""Print noisegen's import graph and check the layer rules.

Every ``import`` statement in every module under ``noisegen/`` counts,
module-level and function-level alike (parsed with :mod:`ast`, nothing is
imported).  Run ``python tools/import_graph.py`` from the repository root:
it prints one line per module (``module -> imports``), then the rule
violations, and exits 1 when there is any.  ``tests/test_layout.py`` runs
the same checks.

Rules (issue 14):

* no cycle among noisegen modules;
* nothing under ``_kernels`` imports from outside ``_kernels`` except
  ``_core.jit`` (jit options; the counter RNG leaf is ``_kernels.rng``);
* no private name (``_x``) is imported from a module in another folder;
* no module is longer than 500 lines;
* imports point down the layer order of :data:`LAYERS`;
* noisegen modules import each other at module top, never inside a
  function (only optional third-party packages are imported lazily), except
  the CUDA kernels, which need numba-cuda, and the command's entry point
  (:data:`LAZY_ALLOWED`).

A module may also name imports in a module-level ``_LAZY`` dict literal
(``{".module": "*" or ("name", ...)}``) and a ``_SUBPACKAGES`` tuple of
submodule names, which it imports on first use through PEP 562
(``noisegen/__init__.py`` does, to keep ``import noisegen`` light); each
entry is an edge like an import statement.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "noisegen"
MAX_LINES = 500

#: Layers from the top down: a module may import only from its own layer or
#: from layers below it.  A module belongs to the layer of the longest prefix
#: that names it (``noisegen.cuda`` is the public GPU package, above the
#: transforms; ``noisegen._gpu`` holds the CUDA targets of the functional API,
#: below it).
LAYERS = [
    ("noisegen", "noisegen.__main__", "noisegen.torch", "noisegen.lhotse", "noisegen.hf", "noisegen.ray", "noisegen.cli"),
    ("noisegen.batch",),
    ("noisegen.data",),
    ("noisegen.cuda",),
    ("noisegen.transforms",),
    ("noisegen.audio",),
    ("noisegen.synth",),
    ("noisegen.effects",),
    ("noisegen._gpu",),
    ("noisegen._design",),
    ("noisegen._kernels",),
    ("noisegen._core",),
]
KERNEL_ALLOWED = {"noisegen._core.jit"}
#: Modules that may import noisegen modules inside functions: the CUDA kernels
#: register their scalar helpers and compile only once numba-cuda is there; the
#: command's entry point imports the command line inside its try, so a Ctrl-C
#: during those imports (about a second) is reported as one line, not a traceback.
LAZY_ALLOWED = ("noisegen._kernels.cuda", "noisegen.__main__")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, is_pkg: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = importer.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports(mods: dict[str, Path]) -> dict[str, set[tuple[str, str]]]:
    """``module -> {(imported module, imported name or "")}`` for noisegen targets."""
    graph: dict[str, set[tuple[str, str]]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        edges: set[tuple[str, str]] = set()
        tree = ast.parse(path.read_text(), str(path))
        for module, names in lazy_table(tree).items():
            level = len(module) - len(module.lstrip("."))
            base = _resolve(name, is_pkg, level, module.lstrip(".") or None)
            edges |= {(_longest(base, mods), "" if n == "*" else n) for n in ([names] if names == "*" else names)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "noisegen":
                        edges.add((_longest(alias.name, mods), ""))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_pkg, node.level, node.module)
                if base.split(".")[0] != "noisegen":
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in mods:  # ``from . import module``
                        edges.add((sub, ""))
                    else:
                        edges.add((_longest(base, mods), alias.name))
        graph[name] = {e for e in edges if e[0] != name}
    return graph


def lazy_table(tree: ast.Module) -> dict:
    """``{".module": "*" or names}`` from the module-level ``_LAZY`` and ``_SUBPACKAGES`` literals."""
    table = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if "_LAZY" in names:
                table.update(ast.literal_eval(node.value))
            if "_SUBPACKAGES" in names:
                table.update({f".{sub}": "*" for sub in ast.literal_eval(node.value)})
    return table


def _longest(dotted: str, mods: dict[str, Path]) -> str:
    parts = dotted.split(".")
    while parts and ".".join(parts) not in mods:
        parts.pop()
    return ".".join(parts)


def folder(mod: str, mods: dict[str, Path]) -> str:
    """The package a module lives in (a package's own ``__init__`` counts as inside it)."""
    if mods[mod].name == "__init__.py":
        return mod
    return mod.rpartition(".")[0]


def layer(mod: str) -> int:
    best, found = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (mod == prefix or (mod.startswith(prefix + ".") and prefix != "noisegen")) and len(prefix) > best:
                best, found = len(prefix), i
    if found is None:
        raise KeyError(f"{mod} is in no layer of tools/import_graph.LAYERS")
    return found


def _parents(mod: str) -> list[str]:
    parts = mod.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def cycles(graph: dict[str, set[tuple[str, str]]]) -> list[list[str]]:
    """Import cycles, counting that importing ``a.b.c`` first runs ``a.b``'s ``__init__``."""
    adj = {}
    for m, edges in graph.items():
        targets = {t for t, _ in edges}
        own = set(_parents(m)) | {m}
        targets |= {p for t in list(targets) for p in _parents(t) if p not in own and p in graph}
        adj[m] = sorted(targets)
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in adj.get(m, ()):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):]
                i = cycle.index(min(cycle))
                cycle = cycle[i:] + cycle[:i]
                if cycle not in found:
                    found.append(cycle)
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(adj):
        if m not in state:
            visit(m)
    return found


def lazy_imports(mods: dict[str, Path]) -> list[str]:
    """``module:line`` of every noisegen import made inside a function."""
    found = []
    for name, path in mods.items():
        if name.startswith(LAZY_ALLOWED):
            continue
        is_pkg = path.name == "__init__.py"
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    target = _resolve(name, is_pkg, node.level, node.module)
                elif isinstance(node, ast.Import):
                    target = node.names[0].name
                else:
                    continue
                if target.split(".")[0] == "noisegen":
                    found.append(f"{name}:{node.lineno}")
    return found


def violations() -> list[str]:
    mods = modules()
    graph = imports(mods)
    out = [" -> ".join(c + c[:1]) + ": import cycle" for c in cycles(graph)]
    out += [f"{where}: a noisegen import inside a function (import at module top)" for where in lazy_imports(mods)]
    for mod, edges in sorted(graph.items()):
        for target, name in sorted(edges):
            if mod.startswith("noisegen._kernels") and not (
                target.startswith("noisegen._kernels") or target in KERNEL_ALLOWED
            ):
                out.append(f"{mod} imports {target}: _kernels imports only _kernels and _core.jit")
            if name.startswith("_") and not name.startswith("__") and folder(target, mods) != folder(mod, mods):
                out.append(f"{mod} imports private {target}.{name} from another folder")
            if layer(target) < layer(mod):
                out.append(f"{mod} imports {target}: upward (layer order in tools/import_graph.py)")
        n = len(mods[mod].read_text().splitlines())
        if n > MAX_LINES:
            out.append(f"{mod}: {n} lines > {MAX_LINES}")
    return out


def main() -> int:
    graph = imports(modules())
    for mod in sorted(graph):
        targets = sorted({t for t, _ in graph[mod]})
        print(f"{mod} -> {', '.join(targets) if targets else '(none)'}")
    bad = violations()
    print(f"\n{len(graph)} modules, {sum(len(e) for e in graph.values())} edges, {len(bad)} violations")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
