"""The training package reads as its pipeline: no module imports another in a circle, and evaluation
never reaches back into the training loop or the runner (issue #17)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

TRAINING = PROJECT_ROOT / "training"


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """training module -> the training modules it imports (anywhere in it, function bodies too)."""
    modules = {module_name(path): path for path in TRAINING.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("training"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
        graph[name] = {m for m in imported if m in modules and m not in (name, "training")}
    return graph


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth-first)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for following in graph[node]:
            if following == start:
                return [*path, start]
            if following not in seen:
                seen.add(following)
                stack.append((following, [*path, following]))
    return None


def test_no_training_module_imports_in_a_circle() -> None:
    graph = import_graph()
    assert len(graph) > 30  # the walk found the package
    cycles = [cycle for name in graph if (cycle := cycle_from(graph, name))]
    assert cycles == []


def test_evaluation_and_data_never_import_the_loop_or_the_runner() -> None:
    for name, imported in import_graph().items():
        if name.startswith(("training.evaluation", "training.data", "training.experiments", "training.models")):
            assert not imported & {"training.train", "training.run"}, name


ALLOWED = {
    "dialogue": set(),  # the input format: imported by both, imports neither
    "bot": {"dialogue"},  # the product serves models; it never needs the training package
    "training": {"dialogue", "bot"},  # training writes what the bot reads (model directories), through bot's readers
}


def test_every_top_level_package_imports_only_in_its_direction() -> None:
    """``bot/`` and ``dialogue/`` import nothing from ``training/``; ``dialogue/`` nothing from ``bot/`` (anywhere in
    a module, function bodies too)."""
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else
                         [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
                for name in names:
                    top = name.split(".")[0]
                    if top in ALLOWED and top != package and top not in allowed:
                        wrong.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert wrong == []
