"""The house's layers, read from every module's imports (function-level ones included): Dagster stays in
defs/, definitions.py and cli.py; the lower layers never reach up; nothing imports in a circle."""

import ast
from pathlib import Path

from xcoder_assets_tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "xcoder_assets"
# A layer may import the layers listed for it (and itself); the top (defs, cli) may import anything.
ALLOWED = {
    "store": set(),
    "present": {"store"},  # what people read: markdown, charts, figures, progress lines, lineage views
    "sandbox": {"store"},
    "llm": {"store"},
    "recipe": {"store", "present", "llm", "sandbox"},
    "simulator": {"store", "present", "llm", "recipe", "sandbox"},
    "launched": {"store", "present", "recipe", "sandbox", "llm"},
}
NO_DAGSTER = set(ALLOWED)  # Pipes programs use dagster_pipes, not dagster


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> dict[str, set[str]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = _imports(path)
    return found


def test_no_lower_layer_imports_a_higher_one_or_dagster():
    wrong = []
    for module, imports in _modules().items():
        parts = module.split(".")
        layer = parts[1] if len(parts) > 2 else None
        if layer not in ALLOWED:
            continue
        for name in imports:
            target = name.split(".")
            if target[0] == "dagster" and layer in NO_DAGSTER:
                wrong.append(f"{module} imports {name}")
            if target[0] == "xcoder_assets" and len(target) > 1:
                other = target[1]
                if other != layer and other not in ALLOWED[layer]:
                    wrong.append(f"{module} imports {name}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circle_between_modules():
    """Module-level imports only (a circle there breaks an import order); between xcoder_assets modules."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xcoder_assets."):
                top.add(node.module)
            elif isinstance(node, ast.Import):
                top |= {a.name for a in node.names if a.name.startswith("xcoder_assets.")}
        graph[name] = top
    # deferred imports inside functions are allowed to point back, but no module-level circle may exist
    seen, stack, circles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            circles.append(" -> ".join(stack[stack.index(node) :] + [node]))
            return
        if node in seen or node not in graph:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not circles, "\n".join(circles)


def test_defs_modules_do_not_import_each_other_in_a_circle_even_inside_functions():
    """defs/resources.py, partitions.py and operations.py once formed a circle through a deferred import."""
    graph = {
        name: {i for i in imports if i.startswith("xcoder_assets.defs.")}
        for name, imports in _modules().items()
        if name.startswith("xcoder_assets.defs.")
    }
    for name, targets in graph.items():
        for target in targets:
            assert name not in graph.get(target, set()), f"{name} <-> {target}"
