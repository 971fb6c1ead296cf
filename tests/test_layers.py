"""Stage order: features imports neither training nor scoring; training does not import scoring."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"features": {"training", "scoring", "experiments"}, "training": {"scoring", "experiments"},
             "nexus": {"training", "scoring", "experiments"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_later_stages(package):
    for path in (REPO / package).rglob("*.py"):
        if package == "nexus" and path.name == "cli.py":
            continue  # the CLI wires every stage together
        bad = _imports(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"
