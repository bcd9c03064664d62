"""Feature evolution (template evolve_features): breadth and depth from a small competitive-
programming ontology, with a real model's imperfections (documented rates, drawn from the request's
key):

    7% prose without JSON, 4% off-schema (an unknown category only), 3% cut off at max_tokens,
    30% of answers repeat an existing feature in another spelling (plural, case, word order),
    10% add one over-long "feature" (a sentence), the rest a clean expansion.
"""

from __future__ import annotations

import json
from typing import Any

from xcoder_assets.simulator.common import Answer, SimRequest, unit

# Candidate siblings per top-level category (breadth).
SIBLINGS: dict[str, list[str]] = {
    "algorithms": [
        "topological sort",
        "minimum spanning tree",
        "strongly connected components",
        "lowest common ancestor",
        "convex hull",
        "knuth morris pratt",
        "z function",
        "suffix array",
        "two pointers",
        "meet in the middle",
        "sweep line",
        "euler tour",
        "floyd warshall",
        "bellman ford",
        "maximum flow",
        "bipartite matching",
        "manacher algorithm",
        "sieve of eratosthenes",
        "fast exponentiation",
        "binary lifting",
        "ternary search",
        "bit dp",
        "digit dp",
        "interval dp",
        "tree dp",
        "longest increasing subsequence",
        "rolling hash",
    ],
    "data_structures": [
        "segment tree",
        "fenwick tree",
        "disjoint set union",
        "sparse table",
        "monotonic deque",
        "trie",
        "treap",
        "ordered multiset",
        "hash map",
        "priority queue",
        "stack",
        "linked list",
        "bitset",
        "adjacency matrix",
        "sqrt decomposition blocks",
        "persistent array",
    ],
    "mathematics": [
        "modular inverse",
        "chinese remainder theorem",
        "inclusion exclusion",
        "catalan numbers",
        "euler totient function",
        "matrix exponentiation",
        "expected value",
        "nim game",
        "sprague grundy",
        "linear recurrences",
        "stars and bars",
        "pigeonhole principle",
        "gcd and lcm",
        "prime factorization",
        "binomial coefficients",
        "geometric series",
    ],
    "algorithmic_paradigm": [
        "divide and conquer",
        "greedy choice",
        "dynamic programming",
        "backtracking",
        "branch and bound",
        "randomized algorithms",
        "offline processing",
        "incremental construction",
        "brute force with pruning",
    ],
    "problem_solving_strategies": [
        "reduce to a known problem",
        "work backwards",
        "binary search on the answer",
        "fix one variable",
        "consider the complement",
        "process queries offline",
        "invariant reasoning",
        "symmetry breaking",
        "small to large merging",
        "coordinate compression",
        "contribution technique",
    ],
    "coding_techniques": [
        "fast input reading",
        "iterative dfs",
        "bit manipulation tricks",
        "memoization with dicts",
        "sentinel values",
        "prefix sum arrays",
        "difference arrays",
        "precomputation tables",
        "custom comparators",
        "generator pipelines",
    ],
    "complexity_analysis": [
        "amortized analysis",
        "logarithmic factors",
        "linear time bound",
        "quadratic time bound",
        "output sensitive bounds",
        "memory limits",
        "harmonic series bound",
    ],
    "optimization_techniques": [
        "prefix sums",
        "memoization",
        "pruning",
        "early exit",
        "bit parallelism",
        "monotonic queue optimization",
        "convex hull trick",
        "knuth optimization",
        "divide and conquer optimization",
        "precomputed factorials",
    ],
    "problem_domain": [
        "graph theory",
        "string processing",
        "number theory",
        "combinatorics",
        "game theory",
        "computational geometry",
        "scheduling",
        "grid navigation",
        "trees",
        "simulation",
        "interval problems",
        "bit strings",
    ],
    "programming_language": ["python 3", "integer overflow free arithmetic", "recursion limit handling"],
}
SIBLINGS["algorithms"] += [f"{x} algorithms" for x in ("graph", "string", "geometric", "greedy")]

# Finer sub-features (depth), keyed by the near-duplicate form of a feature's words.
DEPTH: dict[str, list[str]] = {
    "breadth-first search": ["multi-source bfs", "0-1 bfs", "bfs on grid states"],
    "dynamic programming": ["knapsack dp", "bitmask dp", "dp on trees", "dp with prefix optimization"],
    "segment tree": ["lazy propagation", "range minimum query", "merge sort tree"],
    "binary search": ["binary search on the answer", "lower bound search", "parallel binary search"],
    "greedy": ["exchange argument", "sorting by deadline", "greedy with priority queue"],
    "modular arithmetic": ["modular inverse", "modular exponentiation", "modular combinatorics"],
    "disjoint set union": ["union by rank", "path compression", "dsu with rollback"],
    "sorting": ["counting sort", "sorting with custom key", "stable sort properties"],
    "prefix sums": ["2d prefix sums", "prefix xor", "difference array updates"],
    "dijkstra": ["dijkstra with potentials", "k shortest paths", "dijkstra on state graph"],
    "trie": ["binary trie for xor", "trie of suffixes"],
    "hash": ["polynomial hashing", "double hashing"],
    "recursion": ["memoized recursion", "recursion depth limits"],
    "stack": ["monotonic stack", "bracket matching with stack"],
}
MODIFIERS = [
    "with updates",
    "on trees",
    "in two dimensions",
    "offline",
    "modulo a prime",
    "with constraints on k",
    "on a circular array",
    "with negative values",
]


def _pick(options: list[str], present: set[str], text: str, salt: str, k: int) -> list[str]:
    fresh = [o for o in options if o.casefold() not in present]
    if not fresh:
        return []
    start = int(unit(text, salt) * len(fresh))
    return [fresh[(start + i) % len(fresh)] for i in range(min(k, len(fresh)))]


def _variants(feature: str, text: str, k: int) -> list[str]:
    """Finer versions of a feature: its known sub-features, or the feature under a CP modifier."""
    lowered = feature.casefold()
    for key, children in DEPTH.items():
        if key in lowered or lowered in key:
            start = int(unit(text + feature, "d") * len(children))
            return [children[(start + i) % len(children)] for i in range(min(k, len(children)))]
    if any(m in lowered for m in MODIFIERS) or len(feature.split()) > 4:
        return []  # already a refined feature: a careful model stops here
    start = int(unit(text + feature, "m") * len(MODIFIERS))
    return [f"{feature} {MODIFIERS[(start + i) % len(MODIFIERS)]}" for i in range(k)]


def expand_subtree(subtree: dict[str, Any], text: str) -> dict[str, Any]:
    ((category, node),) = list(subtree.items())[:1]
    path: list[str] = []
    while isinstance(node, dict) and node:
        key = next(iter(node))
        path.append(key)
        node = node[key]
    leaves = [str(x) for x in node] if isinstance(node, list) else []
    present = {x.casefold() for x in leaves}
    if path:  # below a feature: siblings are other refinements of that feature
        siblings = [v for v in _variants(path[-1], text + "sib", 3) if v.casefold() not in present][:2]
    else:
        siblings = _pick(SIBLINGS.get(category, SIBLINGS["algorithms"]), present, text, "b", 2)
    # a key with a list holds that feature's sub-features (depth); a key with [] is a plain feature
    new_node: dict[str, Any] = {}
    for index, leaf in enumerate(leaves):
        new_node[leaf] = _variants(leaf, text, 2) if index < 2 and len(path) < 3 else []
    for sibling in siblings:  # breadth
        new_node[sibling] = []
    if unit(text, "dup") < 0.30 and leaves:  # a spelling variant of an existing feature
        variant = leaves[-1].upper() if leaves[-1].endswith("s") else leaves[-1] + "s"
        new_node[variant] = []
    if unit(text, "long") < 0.10:
        new_node["this is a very long explanation of a technique rather than a short feature name at all"] = []
    result: Any = new_node
    for part in reversed(path):
        result = {part: result}
    return {category: result}


def answer_feature_evolution(request: SimRequest) -> Answer:
    try:
        subtree = json.loads(request.variables["subtree"])
    except ValueError:
        subtree = {}
    if not isinstance(subtree, dict):
        subtree = {}
    roll = unit(request.key, "evolve")
    if not subtree or roll < 0.07:
        return "Here are some more ideas: you could also consider advanced graph techniques and hashing.", "stop"
    if roll < 0.11:
        return "```json\n" + json.dumps({"misc": ["various other topics"]}) + "\n```", "stop"
    body = json.dumps(expand_subtree(subtree, request.key), indent=2)
    if roll < 0.14:
        return "```json\n" + body[: len(body) // 2], "length"
    return "Expanded subtree:\n```json\n" + body + "\n```", "stop"
