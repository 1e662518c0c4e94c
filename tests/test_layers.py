"""The layers of src/jzcli, as the README's Design section draws them, checked on the source (ast).

    cli  →  stages (importer, engine, report, retour, check, jw323)
         →  parts (readers, rules, store, output)
         →  vocabulary (domain, refdata, errors, ijw)

A module imports only from its own layer or the layers below it, there is no import cycle between
modules (imports inside functions count too), and no module loads another of the project's by name
(importlib, find_spec): every dependency is a plain import a reader can follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "jzcli"

# Highest first. A module belongs to the first entry its dotted name starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry", ("jzcli.__main__",)),
    ("cli", ("jzcli.cli",)),
    ("stages", ("jzcli.importer", "jzcli.engine", "jzcli.report", "jzcli.retour", "jzcli.check", "jzcli.jw323")),
    ("parts", ("jzcli.readers", "jzcli.rules", "jzcli.store", "jzcli.output")),
    ("vocabulary", ("jzcli.domain", "jzcli.refdata", "jzcli.errors", "jzcli.ijw", "jzcli")),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or (prefix != "jzcli" and module.startswith(prefix + ".")):
                return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py and the README")


def resolve(node: ast.ImportFrom | ast.Import, here: str) -> set[str]:
    """The project modules an import statement loads (a package's __init__ counts as that package)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("jzcli"):
                found.add(name)
        return found
    base = node.module or ""
    if node.level:
        package = here if MODULES[here].name == "__init__.py" else here.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    if not base.startswith("jzcli"):
        return found
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.add(candidate if candidate in MODULES else base)
    return found


def imports_of(module: str) -> dict[str, int]:
    """Every project module this one imports, with the line of the first import."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in resolve(node, module):
                if target != module:
                    out.setdefault(target, node.lineno)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    here = RANK[layer_of(module)]
    upward = [
        f"{MODULES[module].relative_to(SRC)}:{line} imports {target} ({layer_of(target)})"
        for target, line in sorted(GRAPH[module].items(), key=lambda kv: kv[1])
        if target != "jzcli" and RANK[layer_of(target)] < here
    ]
    assert not upward, f"{module} ({layer_of(module)}) reaches up:\n" + "\n".join(upward)


def test_no_import_cycles():
    """Tarjan's strongly connected components over the module graph: every component is one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w == "jzcli" or w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_no_module_loaded_by_name():
    offenders = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "find_spec", "__import__"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {name}()")
    assert not offenders, "load project modules with a plain import:\n" + "\n".join(offenders)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The checker itself: a rules module importing the CLI is reported (so the test can fail)."""
    node = ast.parse("from jzcli.cli import terminal\nfrom jzcli import refdata\n").body
    assert resolve(node[0], "jzcli.rules.registry") == {"jzcli.cli.terminal"}
    assert RANK[layer_of("jzcli.cli.terminal")] < RANK[layer_of("jzcli.rules.registry")]
    assert resolve(node[1], "jzcli.rules.registry") == {"jzcli.refdata"}


MAX_FUNCTION_LINES = 80


def test_no_function_of_80_lines_or_more():
    """Every function reads on one screen: a longer one is split into named steps."""
    long = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length >= MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}() {length} lines")
    assert not long, "split these functions:\n" + "\n".join(sorted(long))
