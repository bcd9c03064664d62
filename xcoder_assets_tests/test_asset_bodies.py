"""Asset bodies are wiring: no asset, asset check or op function body in defs/ is over MAX_BODY_LINES lines.

A stage's algorithm and bookkeeping live in recipe/ (no Dagster there) and the write / settings / refresh
epilogue in defs/resources.publish(), so a body reads: config and inputs, one recipe call, publish.
A body's lines are those below the `def` line and its signature, blank lines, comments and docstring
included (what a reader scrolls through).
"""

import ast
import inspect
import io
import tokenize
from pathlib import Path

import dagster as dg

from xcoder_assets.definitions import defs as lazy_defs
from xcoder_assets_tests.conftest import PROJECT_ROOT

DEFS = PROJECT_ROOT / "xcoder_assets" / "defs"
MAX_BODY_LINES = 40
# Decorators that make an asset, an asset check or an op of the function under them.
DECORATORS = {"asset", "multi_asset", "graph_asset", "asset_check", "multi_asset_check", "op"}

# Being reduced: (module, function) of bodies still over the limit while they are rewritten; empty when none is,
# and an entry no longer over the limit fails the test below until removed.
ALLOWED_OVER: set[tuple[str, str]] = set()


def body_lines(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines below the signature: from the line after the one holding the signature's closing ':' to the
    function's last line."""
    lines = source.splitlines(keepends=True)
    text = "".join(lines[node.lineno - 1 : node.end_lineno])
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            depth += 1
        elif token.string in ")]}":
            depth -= 1
        elif token.string == ":" and depth == 0:
            signature_end = node.lineno + token.start[0] - 1
            return node.end_lineno - signature_end
    raise AssertionError(f"no signature end found for {node.name}")


def _decorator_name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def decorated_functions(path: Path) -> dict[str, int]:
    """Every function of a defs module decorated as an asset, asset check or op (nested ones too, as made by
    a factory), with its body's length."""
    source = path.read_text(encoding="utf-8")
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            _decorator_name(d) in DECORATORS for d in node.decorator_list
        ):
            found[node.name] = body_lines(source, node)
    return found


def all_bodies() -> dict[tuple[str, str], int]:
    return {
        (path.name, name): length
        for path in sorted(DEFS.glob("*.py"))
        for name, length in decorated_functions(path).items()
    }


def _compute_functions(defs: dg.Definitions) -> set[tuple[str, str]]:
    """(module file, function name) of every asset's and asset check's compute function of the loaded code
    location, for the cross-check that the source scan saw them all."""
    found = set()
    nodes = [a.node_def for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    nodes += [c.node_def for c in defs.asset_checks or []]
    for node in nodes:
        fn = getattr(getattr(node, "compute_fn", None), "decorated_fn", None)
        if fn is None:  # a graph-backed asset: its ops are decorated functions of their own
            continue
        path = Path(inspect.getsourcefile(fn)).resolve()
        if path.parent == DEFS.resolve():
            found.add((path.name, fn.__name__))
    return found


def test_body_lines_counts_below_the_signature():
    source = (
        "@dg.asset(deps=['x'])\n"
        "def a(\n"
        "    context: Ctx, config: Cfg = Cfg(x=(1, 2)),\n"
        ") -> dg.MaterializeResult:\n"
        '    """Doc."""\n'
        "\n"
        "    return dict(a=1,\n"
        "                b=2)\n"
    )
    node = ast.parse(source).body[0]
    assert body_lines(source, node) == 4
    one_line = "def f(x: dict = {'a': 1}) -> int: return 1\n"
    assert body_lines(one_line, ast.parse(one_line).body[0]) == 0


def test_the_scan_finds_every_asset_and_check_of_the_code_location():
    scanned = set(all_bodies())
    loaded = _compute_functions(lazy_defs())
    assert len(loaded) >= 15, loaded  # the whole graph, not an empty load
    assert loaded <= scanned, f"assets the source scan missed: {sorted(loaded - scanned)}"


def test_no_asset_body_is_over_the_limit():
    bodies = all_bodies()
    over = {key: n for key, n in bodies.items() if n > MAX_BODY_LINES and key not in ALLOWED_OVER}
    assert not over, "asset / check / op bodies over {} lines (move the work into recipe/ and publish()):\n{}".format(
        MAX_BODY_LINES, "\n".join(f"  defs/{m}: {f} has {n} lines" for (m, f), n in sorted(over.items()))
    )
    # an allowed entry that no longer exists or is no longer over the limit is stale: drop it from the list
    stale = {key for key in ALLOWED_OVER if bodies.get(key, 0) <= MAX_BODY_LINES}
    assert not stale, f"no longer over {MAX_BODY_LINES} lines, remove from ALLOWED_OVER: {sorted(stale)}"
