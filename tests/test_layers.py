"""The house's shape: each floor imports only its own and lower floors, one import circle (the
source registry's), the root command imported by nobody, the service never near raw files, and no
module over 400 lines."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLOORS = ["nexus", "features", "training", "scoring", "service", "experiments", "benchmarks"]  # lowest first
ROOT_COMMAND = "nexus.cli"  # composes every stage's `cli` module; nothing imports it
LONG_ALLOWED: set[str] = set()  # none: the Cardinal port is split into settings, vocabulary, fences, indicators
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for floor in FLOORS:
        for path in (REPO / floor).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imported(path: Path) -> set[str]:
    """Every project module `path` imports (at the top or inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            for a in node.names:
                names.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    resolved = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            resolved.add(name)
    return resolved


GRAPH = {name: _imported(path) - {name} for name, path in MODULES.items()}


def _floor(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != ROOT_COMMAND))
def test_a_module_imports_only_its_floor_and_lower(module):
    higher = sorted(m for m in GRAPH[module] if _floor(m) > _floor(module))
    assert not higher, f"{module} imports {higher} from a higher floor"


def test_the_root_command_only_composes_the_stage_commands():
    importers = sorted(m for m, deps in GRAPH.items() if ROOT_COMMAND in deps)
    assert not importers, f"{importers} import {ROOT_COMMAND}; read the session from nexus.console"
    upward = {m for m in GRAPH[ROOT_COMMAND] if _floor(m) > 0}
    assert all(m.endswith(".cli") for m in upward), sorted(upward)


def test_the_service_never_reads_raw_files():
    for module in (m for m in MODULES if m.startswith("service")):
        bad = sorted(m for m in GRAPH[module] if m.startswith(("features.sources", "features.readers")))
        assert not bad, f"{module} imports {bad}"


def _circles() -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while True:
                w = stack.pop()
                on.discard(w)
                part.add(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(part)

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_one_import_circle_the_source_registry():
    circles = _circles()
    allowed = [c for c in circles if c <= {"features.registry", *(m for m in MODULES if m.startswith("features.sources"))}]
    assert len(allowed) <= 1 and circles == allowed, f"import circles: {[sorted(c) for c in circles if c not in allowed]}"


def test_no_module_over_400_lines():
    long = {p.relative_to(REPO).as_posix(): n for p in MODULES.values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= LONG_ALLOWED, {k: v for k, v in long.items() if k not in LONG_ALLOWED}
