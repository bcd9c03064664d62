"""Feature extraction (template extract_features): a real feature tree of the seed's solution.

The tree is what a careful model would list, read from the solution's AST, imports and calls and
the statement's wording; the answer has a real model's imperfections at fixed rates, drawn from the
request's key (template name and values):

    58% fenced JSON after a sentence of prose, 15% bare JSON, 12% a <think> block then JSON,
    5% JSON with trailing commas (repairable), 6% prose with no JSON (unparseable), 4% cut off at
    max_tokens (finish_reason "length").
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from xcoder_assets.simulator.common import Answer, SimRequest, unit

_DOMAIN_WORDS = [
    (r"\bgraph|vertex|vertices|edges?\b|cities|roads?\b|cables?\b", "graph theory"),
    (r"\bgrid\b|\brows?\b.*\bcolumns?\b", "grid navigation"),
    (r"\btree\b|\bnodes?\b", "trees"),
    (r"\bstrings?\b|\bcharacters?\b|\bletters?\b|\bwords?\b", "string processing"),
    (r"\bprimes?\b|\bdivisor|\bgcd\b|\bmodulo\b|\bmod\b", "number theory"),
    (r"\bways\b|\bcount the (?:number of )?ways|\bchoose\b", "combinatorics"),
    (r"\bpolygon|\bcoordinates?\b|\bpoints?\b", "computational geometry"),
    (r"\bintervals?\b|\bmeetings?\b", "interval scheduling"),
    (r"\bqueries\b|\bquery\b", "query answering"),
    (r"\barray\b|\bsequence\b|\bsubarray\b", "array processing"),
    (r"\bmatrix\b|\bchessboard\b", "board and matrix problems"),
]

_MODULE_FEATURES = {
    "heapq": ("data_structures", "priority queue (binary heap)"),
    "collections": None,
    "bisect": ("algorithms.search algorithms", "binary search with bisect"),
    "itertools": ("coding_techniques", "itertools utilities"),
    "functools": ("optimization_techniques", "memoization with functools"),
    "math": ("mathematics.number theory", "math library functions"),
}

_NAME_FEATURES = {
    "deque": [("data_structures", "double-ended queue"), ("algorithms.graph algorithms", "breadth-first search")],
    "Counter": [("data_structures", "hash map counting (Counter)")],
    "defaultdict": [("data_structures", "hash map with default values")],
    "heappush": [("algorithms.graph algorithms", "priority-queue driven search")],
    "gcd": [
        ("mathematics.number theory", "greatest common divisor"),
        ("algorithms.mathematical algorithms", "euclidean algorithm"),
    ],
    "lru_cache": [("algorithmic_paradigm", "top-down dynamic programming"), ("optimization_techniques", "memoization")],
    "accumulate": [("optimization_techniques", "prefix sums"), ("coding_techniques", "running totals with accumulate")],
    "bisect_left": [("algorithms.search algorithms", "binary search on sorted array")],
    "setrecursionlimit": [("coding_techniques", "raising the recursion limit")],
}


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
    return names


def _max_loop_depth(node: ast.AST, depth: int = 0) -> int:
    best = depth
    for child in ast.iter_child_nodes(node):
        inner = depth + 1 if isinstance(child, (ast.For, ast.While, ast.comprehension)) else depth
        best = max(best, _max_loop_depth(child, inner))
    return best


def _recursive_functions(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == node.name
                for c in ast.walk(node)
            ):
                found.append(node.name)
    return found


def analyze_solution(question: str, code: str) -> dict[str, Any]:
    """A feature tree of a solution, from its AST and statement: what a careful model would list."""
    features: dict[str, list[str]] = {}

    def add(where: str, feature: str) -> None:
        bucket = features.setdefault(where, [])
        if feature not in bucket:
            bucket.append(feature)

    add("programming_language", "python 3")
    lowered = question.lower()
    for pattern, domain in _DOMAIN_WORDS:
        if re.search(pattern, lowered):
            add("problem_domain", domain)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    if tree is None:
        add("coding_techniques", "unparseable reference solution")
        return _nest(features, question)

    imports = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module.split(".")[0])
    for module in sorted(imports):
        mapped = _MODULE_FEATURES.get(module)
        if mapped:
            add(*mapped)
    calls = _calls(tree)
    for name in sorted(calls):
        for where, feature in _NAME_FEATURES.get(name, []):
            add(where, feature)
    source = code
    if "sys" in imports and ("stdin.read" in source or "stdin.buffer" in source):
        add("coding_techniques", "fast input reading")
    if "sorted" in calls or "sort" in calls:
        add("algorithms.sorting algorithms", "comparison sorting")
        if "key=lambda" in source.replace(" ", ""):
            add("coding_techniques", "custom sort keys")
        add("complexity_analysis", "o(n log n) sorting bound")
    if re.search(r"while\s+lo\s*<\s*hi|mid\s*=", source):
        add("algorithms.search algorithms", "binary search on the answer")
        add("problem_solving_strategies", "monotonic predicate search")
    recursive = _recursive_functions(tree)
    if recursive:
        add("algorithmic_paradigm", "recursion")
        if "solve" in recursive or "<<" in source:
            add("algorithmic_paradigm", "backtracking")
    if re.search(r"\[\s*\[.*\]\s*\*\s*\w+\s*for", source) or re.search(r"(best|dp|ways|prev|cur)\s*\[", source):
        add("algorithmic_paradigm", "dynamic programming")
        add("algorithms.dynamic programming", "tabulation over states")
        if "range(W, w - 1, -1)" in source or "range(cap" in source or re.search(r"range\(\w+, \w+ - 1, -1\)", source):
            add("algorithms.dynamic programming", "0/1 knapsack")
    if "% MOD" in source or "%MOD" in source or "pow(" in source:
        add("mathematics.number theory", "modular arithmetic")
    if "pow(" in source and "MOD - 2" in source:
        add("mathematics.number theory", "fermat modular inverse")
        add("mathematics.combinatorics", "binomial coefficients")
    if ">>=" in source or "&=" in source or "<<" in source:
        add("coding_techniques", "bit manipulation")
    if "stack" in source:
        add("data_structures", "stack")
        if "while stack" in source:
            add("algorithms.search algorithms", "monotonic stack")
    if "parent" in source and "find" in calls:
        add("data_structures", "disjoint set union")
        add("optimization_techniques", "path compression")
    if "indeg" in source:
        add("algorithms.graph algorithms", "topological sort (kahn's algorithm)")
    if "adj" in source:
        add("data_structures", "adjacency list")
    if "dist" in source and "heappop" in calls:
        add("algorithms.graph algorithms", "dijkstra shortest paths")
    if "x1 * y2" in source:
        add("algorithms.geometric algorithms", "shoelace formula")
        add("mathematics.linear algebra", "cross product")
    if "mat_mult" in source:
        add("mathematics.linear algebra", "matrix exponentiation")
        add("optimization_techniques", "exponentiation by squaring")
    if "prefix" in source or "pi[" in source:
        add("algorithms.string algorithms", "prefix function (kmp)")
    if "[::-1]" in source:
        add("coding_techniques", "slicing to reverse")
    if "sieve" in source:
        add("algorithms.mathematical algorithms", "sieve of eratosthenes")
    if re.search(r"for .* in .*:\s*\n\s*.*(best|current)\s*=\s*max", source) or "current < 0" in source:
        add("algorithms.dynamic programming", "kadane's algorithm")
    if "window" in source:
        add("problem_solving_strategies", "sliding window")
    if "greedy" in lowered or ("sorted" in calls and "count" in source and "free_at" in source):
        add("algorithmic_paradigm", "greedy choice")
    if "seen" in source and "x - a" in source:
        add("problem_solving_strategies", "complement lookup in a hash map")
    depth = _max_loop_depth(tree)
    add(
        "complexity_analysis",
        {0: "o(1) per query", 1: "linear time", 2: "quadratic time"}.get(depth, "polynomial time"),
    )
    if any(isinstance(n, (ast.ListComp, ast.GeneratorExp)) for n in ast.walk(tree)):
        add("coding_techniques", "list comprehensions and generators")
    if "break" in source or "return" in source and "if" in source:
        add("optimization_techniques", "early exit")
    if not any(k.startswith("algorithms") for k in features):
        add("algorithms.simulation", "direct simulation")
    return _nest(features, question)


def _nest(features: dict[str, list[str]], question: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for where, leaves in features.items():
        category, _, sub = where.partition(".")
        if sub:
            tree.setdefault(category, {})[sub] = leaves
        else:
            tree[category] = leaves
    for category in ("algorithms", "mathematics"):
        tree.setdefault(category, {})
    for category in (
        "problem_domain",
        "algorithmic_paradigm",
        "problem_solving_strategies",
        "data_structures",
        "coding_techniques",
        "complexity_analysis",
        "optimization_techniques",
    ):
        tree.setdefault(category, [])
    first_sentence = re.split(r"(?<=[.!?])\s", " ".join(question.split()), maxsplit=1)[0]
    tree["summary"] = f"Solves: {first_sentence[:160]}"
    return tree


def answer_feature_extraction(request: SimRequest) -> Answer:
    tree = analyze_solution(request.variables["question"], request.variables["code"])
    body = json.dumps(tree, indent=2)
    roll = unit(request.key, "extract")
    if roll < 0.06:
        return (
            "The solution reads the input and applies a standard technique; the main idea is to process "
            "each element once and keep the best answer so far. It is efficient enough for the limits.",
            "stop",
        )
    if roll < 0.10:
        return "```json\n" + body[: int(len(body) * 0.55)], "length"
    if roll < 0.15:
        return "```json\n" + re.sub(r'"\n(\s*)([\]}])', '",\n\\1\\2', body) + "\n```", "stop"
    if roll < 0.27:
        reasoning = f"<think>\nLet me look at the imports and the main loop. {tree['summary']}\n</think>\n"
        return reasoning + "```json\n" + body + "\n```", "stop"
    if roll < 0.42:
        return body, "stop"
    return "Here is the feature tree of the solution.\n\n```json\n" + body + "\n```", "stop"
