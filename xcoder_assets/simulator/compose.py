"""Composition (templates compose_scenario and compose_problem): real, solvable problems in all
three styles, a different one for every configuration.

Step 1 (compose_scenario) picks the archetype whose features best match the offered ones, selects
a compatible subset, and writes a strategy and a scenario set in a place generated from the offered
features (prose.py: a named place, its people and their items); step 2 (compose_problem) writes the
problem for the requested style with examples computed by the archetype's reference solver (this
project's own code). What varies per problem, all drawn from the hash of the request:

- the archetype's own parameters (the modulus, the gap, the counted measure, diagonal moves...);
- for the stdin styles, 40% of problems hold several test cases per input (T, with a bound of 3
  to 10 the statement states): another input format, another program;
- the prose: the archetype's rule framed by an opening, a middle and a closing sentence picked from
  alternatives, naming the generated place and person, so the duplicate checks (word shingles)
  see different statements;
- the programs' identifiers (solve.py renames them per problem and per sample).

Imperfections at fixed rates per answer: step 1: 5% prose without JSON; step 2: 5% prose
without JSON, 3% cut off at max_tokens, 12% statements that name the algorithm (a leak: real models
often do). Each is drawn from the request and its sampling seed (`imperfection`), so a request asked
again with another seed (the problems stage re-asks an answer that fails validation) is another draw
at the same rates, while the problem itself stays the one its prompt fixes.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any, Callable

from xcoder_assets.simulator.common import Answer, SimRequest, unit
from xcoder_assets.simulator.prose import Theme, frame, make_theme, scenario_sentence, theme_of_scenario

# Inputs of several test cases (stdin styles only): the share of problems, and the bound on T a problem states.
SEVERAL_SHARE = 0.4
CASES_BOUNDS = (3, 10)


@dataclass
class Archetype:
    key: str
    triggers: tuple[str, ...]
    strategy: str
    function: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    return_type: str
    params: Callable[[random.Random], dict[str, Any]]
    generate: Callable[[random.Random, dict[str, Any]], dict[str, Any]]
    solve: Callable[[dict[str, Any], dict[str, Any]], Any]
    story: Callable[[dict[str, Any], tuple[str, str, str]], str]
    input_format: Callable[[dict[str, Any]], str]
    output_format: str
    # One entry per constraint: commas also list variables that share a bound ("1 <= n, m <= 10^12"), so a
    # joined text cannot be split back into constraints.
    constraints: Callable[[dict[str, Any]], tuple[str, ...]]
    to_stdin: Callable[[dict[str, Any], dict[str, Any]], str]

    def args(self, data: dict[str, Any]) -> list[Any]:
        return [data[name] for name in self.arg_names]


def _ints(values: list[int]) -> str:
    return " ".join(map(str, values))


# ---- solvers (reference solutions of each archetype) -------------------------------------------


def _pairs_mod(d: dict, p: dict) -> int:
    counts = [0] * p["k"]
    total = 0
    for x in d["nums"]:
        r = x % p["k"]
        total += counts[(p["k"] - r) % p["k"]]
        counts[r] += 1
    return total


def _longest_window(d: dict, p: dict) -> int:
    best = total = left = 0
    for right, x in enumerate(d["nums"]):
        total += x
        while total > d["limit"]:
            total -= d["nums"][left]
            left += 1
        best = max(best, right - left + 1)
    return best


def _grid_steps(d: dict, p: dict) -> int:
    from collections import deque

    grid = d["grid"]
    n, m = len(grid), len(grid[0])
    if grid[0][0] == "#" or grid[n - 1][m - 1] == "#":
        return -1
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1)] + ([(1, 1), (1, -1), (-1, 1), (-1, -1)] if p["diagonal"] else [])
    dist = {(0, 0): 0}
    queue = deque([(0, 0)])
    while queue:
        x, y = queue.popleft()
        for dx, dy in moves:
            nx, ny = x + dx, y + dy
            if 0 <= nx < n and 0 <= ny < m and grid[nx][ny] == "." and (nx, ny) not in dist:
                dist[(nx, ny)] = dist[(x, y)] + 1
                queue.append((nx, ny))
    return dist.get((n - 1, m - 1), -1)


def _components(d: dict, p: dict) -> int:
    parent = list(range(d["n"] + 1))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in d["edges"]:
        parent[find(a)] = find(b)
    sizes: dict[int, int] = {}
    for v in range(1, d["n"] + 1):
        sizes[find(v)] = sizes.get(find(v), 0) + 1
    return max(sizes.values()) if p["largest"] else len(sizes)


def _spaced_max(d: dict, p: dict) -> int:
    values, gap = d["values"], p["gap"]
    best = [0] * (len(values) + 1)
    for i, v in enumerate(values, 1):
        best[i] = max(best[i - 1], v + (best[i - gap] if i - gap >= 0 else 0))
    return best[-1]


def _min_coins(d: dict, p: dict) -> int:
    inf = float("inf")
    best = [0] + [inf] * d["amount"]
    for s in range(1, d["amount"] + 1):
        for c in d["coins"]:
            if c <= s and best[s - c] + 1 < best[s]:
                best[s] = best[s - c] + 1
    return -1 if best[-1] == inf else int(best[-1])


def _palindromes(d: dict, p: dict) -> int:
    s = d["s"]
    count = longest = 0
    for center in range(2 * len(s) - 1):
        left, right = center // 2, center // 2 + center % 2
        while left >= 0 and right < len(s) and s[left] == s[right]:
            count += 1
            longest = max(longest, right - left + 1)
            left, right = left - 1, right + 1
    return count if p["count"] else longest


def _extreme_sum(d: dict, p: dict) -> int:
    distinct = sorted(set(d["nums"]), reverse=not p["smallest"])
    return sum(distinct[: d["k"]])


def _intervals(d: dict, p: dict) -> int:
    spans = sorted(d["intervals"], key=lambda span: span[1])
    count, last = 0, None
    for start, end in spans:
        if p["stab"]:
            if last is None or start > last:
                count, last = count + 1, end
        elif last is None or start >= last:
            count, last = count + 1, end
    return count


def _range_answers(d: dict, p: dict) -> list[int]:
    prefix = [0]
    for x in d["nums"]:
        prefix.append(prefix[-1] ^ x if p["xor"] else prefix[-1] + x)
    return [(prefix[r] ^ prefix[l - 1]) if p["xor"] else prefix[r] - prefix[l - 1] for l, r in d["queries"]]


def _coprime(d: dict, p: dict) -> int:
    from math import gcd

    return sum(1 for x in range(1, d["n"] + 1) if gcd(x, d["m"]) == 1)


def _capacity(d: dict, p: dict) -> int:
    def days(cap: int) -> int:
        used, load = 1, 0
        for w in d["weights"]:
            if load + w > cap:
                used, load = used + 1, 0
            load += w
        return used

    low, high = max(d["weights"]), sum(d["weights"])
    while low < high:
        mid = (low + high) // 2
        if days(mid) <= d["days"]:
            high = mid
        else:
            low = mid + 1
    return low


def _rand_list(rng: random.Random, n_low: int, n_high: int, v_low: int, v_high: int) -> list[int]:
    return [rng.randint(v_low, v_high) for _ in range(rng.randint(n_low, n_high))]


def _grid(rng: random.Random) -> list[str]:
    n, m = rng.randint(2, 5), rng.randint(2, 6)
    rows = ["".join("#" if rng.random() < 0.25 else "." for _ in range(m)) for _ in range(n)]
    rows[0] = "." + rows[0][1:]
    rows[-1] = rows[-1][:-1] + "."
    return rows


def _edges(rng: random.Random) -> dict[str, Any]:
    n = rng.randint(3, 8)
    edges = [[rng.randint(1, n), rng.randint(1, n)] for _ in range(rng.randint(0, n))]
    return {"n": n, "edges": edges}


def _spans(rng: random.Random) -> list[list[int]]:
    spans = []
    for _ in range(rng.randint(2, 7)):
        start = rng.randint(0, 20)
        spans.append([start, start + rng.randint(1, 8)])
    return spans


ARCHETYPES: list[Archetype] = [
    Archetype(
        "pairs_mod",
        ("hash", "count", "modular", "number theory", "pair", "combinatorics", "frequency"),
        "count complementary remainders while scanning once",
        "countPairs",
        ("nums", "k"),
        ("List[int]", "int"),
        "int",
        lambda r: {"k": r.randint(2, 40)},
        lambda r, p: {"nums": _rand_list(r, 2, 9, 1, 60), "k": p["k"]},
        _pairs_mod,
        lambda p, t: (
            f"In {t[0]}, the {t[1]} label each of their {t[2]} with a weight. Two {t[2]} can be shipped "
            f"together when their total weight is a multiple of {p['k']}. Count the unordered pairs of "
            f"different {t[2]} that can be shipped together."
        ),
        lambda p: f"The first line contains n and k (k = {p['k']}). The second line contains n integers, the weights.",
        "Print one integer: the number of pairs.",
        lambda p: ("2 <= n <= 2 * 10^5", "1 <= weight <= 10^9"),
        lambda d, p: f"{len(d['nums'])} {p['k']}\n{_ints(d['nums'])}\n",
    ),
    Archetype(
        "longest_window",
        ("sliding window", "two pointers", "subarray", "window", "contiguous", "array"),
        "grow a window to the right and shrink it from the left while the sum is too large",
        "longestSegment",
        ("nums", "limit"),
        ("List[int]", "int"),
        "int",
        lambda r: {"limit_scale": r.choice([2, 3, 4])},
        lambda r, p: (lambda nums: {"nums": nums, "limit": max(nums) * p["limit_scale"]})(_rand_list(r, 1, 10, 1, 20)),
        _longest_window,
        lambda p, t: (
            f"The {t[1]} of {t[0]} handle {t[2]} in a fixed row, each with a positive load. A shift may "
            f"take any run of consecutive {t[2]} whose total load does not exceed a limit L. Find the "
            f"largest number of {t[2]} a single shift can take."
        ),
        lambda p: "The first line contains n and L. The second line contains n positive integers, the loads.",
        "Print the largest number of consecutive items whose total load is at most L (0 if none).",
        lambda p: ("1 <= n <= 2 * 10^5", "1 <= load <= 10^4", "1 <= L <= 10^9"),
        lambda d, p: f"{len(d['nums'])} {d['limit']}\n{_ints(d['nums'])}\n",
    ),
    Archetype(
        "grid_steps",
        ("bfs", "breadth", "grid", "shortest path", "queue", "graph", "navigation"),
        "explore the grid in layers from the start so that the first visit of a cell is the shortest",
        "minSteps",
        ("grid",),
        ("List[str]",),
        "int",
        lambda r: {"diagonal": r.random() < 0.4},
        lambda r, p: {"grid": _grid(r)},
        _grid_steps,
        lambda p, t: (
            f"A map of {t[0]} is a grid of free cells '.' and blocked cells '#'. The {t[1]} start in the "
            f"top-left cell and must bring their {t[2]} to the bottom-right cell, moving one cell at a time "
            + (
                "in any of the eight directions (including diagonals). "
                if p["diagonal"]
                else "up, down, left or right. "
            )
            + "Find the minimum number of moves, or -1 if the bottom-right cell cannot be reached."
        ),
        lambda p: "The first line contains n and m. Each of the next n lines contains m characters '.' or '#'.",
        "Print the minimum number of moves, or -1.",
        lambda p: ("1 <= n, m <= 1000",),
        lambda d, p: f"{len(d['grid'])} {len(d['grid'][0])}\n" + "\n".join(d["grid"]) + "\n",
    ),
    Archetype(
        "components",
        ("union", "disjoint", "dsu", "components", "connectivity", "graph", "dfs"),
        "merge the groups that every link joins and count what is left",
        "groupCount",
        ("n", "edges"),
        ("int", "List[List[int]]"),
        "int",
        lambda r: {"largest": r.random() < 0.5},
        lambda r, p: _edges(r),
        _components,
        lambda p, t: (
            f"There are n {t[2]} in {t[0]}, numbered 1 to n, and m links, each joining two of them. "
            f"Linked {t[2]} belong to the same group, directly or through other links. "
            + ("Find the size of the largest group." if p["largest"] else "Count the groups.")
        ),
        lambda p: "The first line contains n and m. Each of the next m lines contains two integers a and b.",
        "Print one integer.",
        lambda p: ("1 <= n <= 2 * 10^5", "0 <= m <= 2 * 10^5", "1 <= a, b <= n"),
        lambda d, p: f"{d['n']} {len(d['edges'])}\n" + "".join(f"{a} {b}\n" for a, b in d["edges"]),
    ),
    Archetype(
        "spaced_max",
        ("dynamic programming", "dp", "memo", "tabulation", "recursion", "optimal substructure"),
        "decide for each position whether to take it, remembering the best total up to every prefix",
        "maxValue",
        ("values",),
        ("List[int]",),
        "int",
        lambda r: {"gap": r.randint(2, 6)},
        lambda r, p: {"values": _rand_list(r, 1, 10, 1, 50)},
        _spaced_max,
        lambda p, t: (
            f"The {t[1]} of {t[0]} can collect {t[2]} placed in a line, each with a value. Any two "
            f"collected {t[2]} must be at least {p['gap']} positions apart. Find the largest total value "
            f"they can collect."
        ),
        lambda p: "The first line contains n. The second line contains n integers, the values.",
        "Print the largest total value.",
        lambda p: ("1 <= n <= 2 * 10^5", "1 <= value <= 10^9"),
        lambda d, p: f"{len(d['values'])}\n{_ints(d['values'])}\n",
    ),
    Archetype(
        "min_coins",
        ("knapsack", "coin", "unbounded", "dynamic programming", "greedy", "change"),
        "build the best count for every amount from smaller amounts",
        "minPieces",
        ("coins", "amount"),
        ("List[int]", "int"),
        "int",
        lambda r: {},
        lambda r, p: {"coins": sorted(set(_rand_list(r, 1, 4, 2, 12))), "amount": r.randint(1, 40)},
        _min_coins,
        lambda p, t: (
            f"The {t[1]} of {t[0]} pack {t[2]} into boxes. Boxes come in a few sizes, and any number of "
            f"boxes of each size is available. Find the minimum number of boxes whose sizes add up exactly "
            f"to the number of {t[2]}, or -1 if it is impossible."
        ),
        lambda p: "The first line contains k and the amount. The second line contains the k box sizes.",
        "Print the minimum number of boxes, or -1.",
        lambda p: ("1 <= k <= 100", "1 <= amount <= 10^4", "1 <= size <= 10^4"),
        lambda d, p: f"{len(d['coins'])} {d['amount']}\n{_ints(d['coins'])}\n",
    ),
    Archetype(
        "palindromes",
        ("string", "palindrome", "hashing", "manacher", "substring", "center"),
        "expand around every center of the string",
        "palindromeMeasure",
        ("s",),
        ("str",),
        "int",
        lambda r: {"count": r.random() < 0.5},
        lambda r, p: {"s": "".join(r.choice("abc") for _ in range(r.randint(1, 12)))},
        _palindromes,
        lambda p, t: (
            f"The {t[1]} of {t[0]} record a code word of lowercase letters for their {t[2]}. A piece of "
            f"the word is a non-empty run of consecutive letters; it is symmetric if it reads the same "
            f"in both directions. "
            + (
                "Count the symmetric pieces (pieces at different positions count separately)."
                if p["count"]
                else "Find the length of the longest symmetric piece."
            )
        ),
        lambda p: "A single line contains the word s.",
        "Print one integer.",
        lambda p: ("1 <= |s| <= 5000",),
        lambda d, p: d["s"] + "\n",
    ),
    Archetype(
        "extreme_sum",
        ("heap", "priority queue", "sorting", "order statistic", "selection", "top"),
        "keep only the distinct values and take the extreme ones in order",
        "extremeSum",
        ("nums", "k"),
        ("List[int]", "int"),
        "int",
        lambda r: {"smallest": r.random() < 0.4},
        lambda r, p: (lambda nums: {"nums": nums, "k": r.randint(1, len(set(nums)))})(_rand_list(r, 1, 10, 1, 30)),
        _extreme_sum,
        lambda p, t: (
            f"In {t[0]} each of the {t[2]} has a score, and several may share a score. The {t[1]} pick "
            f"k different scores, the {'smallest' if p['smallest'] else 'largest'} ones present. Print "
            f"the sum of the picked scores."
        ),
        lambda p: "The first line contains n and k. The second line contains n integers, the scores.",
        "Print the sum.",
        lambda p: ("1 <= n <= 2 * 10^5", "1 <= k <= number of different scores", "1 <= score <= 10^9"),
        lambda d, p: f"{len(d['nums'])} {d['k']}\n{_ints(d['nums'])}\n",
    ),
    Archetype(
        "intervals",
        ("interval", "greedy", "scheduling", "sorting", "sweep", "activity"),
        "process the time spans by their end and decide greedily",
        "intervalMeasure",
        ("intervals",),
        ("List[List[int]]",),
        "int",
        lambda r: {"stab": r.random() < 0.5},
        lambda r, p: {"intervals": _spans(r)},
        _intervals,
        lambda p, t: (
            f"The {t[1]} of {t[0]} have a list of time spans [start, end] during which {t[2]} need "
            + (
                "attention. A check at time x serves every span with start <= x <= end. Find the minimum "
                "number of checks that serve all spans."
                if p["stab"]
                else "a hall. Two spans overlap when one starts before the other ends. Find the largest number "
                "of spans that can be chosen so that no two overlap (a span may start exactly when another ends)."
            )
        ),
        lambda p: "The first line contains n. Each of the next n lines contains start and end.",
        "Print one integer.",
        lambda p: ("1 <= n <= 2 * 10^5", "0 <= start < end <= 10^9"),
        lambda d, p: f"{len(d['intervals'])}\n" + "".join(f"{a} {b}\n" for a, b in d["intervals"]),
    ),
    Archetype(
        "range_answers",
        ("prefix", "range", "queries", "fenwick", "segment tree", "cumulative"),
        "precompute running totals so that each question is answered in constant time",
        "rangeAnswers",
        ("nums", "queries"),
        ("List[int]", "List[List[int]]"),
        "List[int]",
        lambda r: {"xor": r.random() < 0.4},
        lambda r, p: (
            lambda nums: {
                "nums": nums,
                "queries": [sorted([r.randint(1, len(nums)), r.randint(1, len(nums))]) for _ in range(r.randint(1, 4))],
            }
        )(_rand_list(r, 1, 8, 0, 15)),
        _range_answers,
        lambda p, t: (
            f"The {t[1]} of {t[0]} keep a row of {t[2]} with values a_1..a_n and answer questions: for "
            f"given l and r, the {'bitwise XOR' if p['xor'] else 'sum'} of a_l, ..., a_r."
        ),
        lambda p: (
            "The first line contains n and q. The second line contains n integers. Each of the next q lines "
            "contains l and r."
        ),
        "Print one line per question with its answer (for the function: the list of answers).",
        lambda p: ("1 <= n, q <= 2 * 10^5", "0 <= a_i <= 10^9", "1 <= l <= r <= n"),
        lambda d, p: (
            f"{len(d['nums'])} {len(d['queries'])}\n{_ints(d['nums'])}\n"
            + "".join(f"{l} {r}\n" for l, r in d["queries"])
        ),
    ),
    Archetype(
        "coprime_count",
        ("gcd", "number theory", "prime", "inclusion exclusion", "totient", "sieve", "divisor"),
        "count the numbers that share no prime factor with m",
        "coprimeCount",
        ("n", "m"),
        ("int", "int"),
        "int",
        lambda r: {},
        lambda r, p: {"n": r.randint(1, 60), "m": r.randint(1, 60)},
        _coprime,
        lambda p, t: (
            f"The {t[1]} of {t[0]} number their {t[2]} from 1 to n. A number is compatible with the "
            f"master code m when the two numbers have no common divisor greater than 1. Count the "
            f"compatible numbers among 1..n."
        ),
        lambda p: "A single line contains n and m.",
        "Print the count.",
        lambda p: ("1 <= n, m <= 10^12",),
        lambda d, p: f"{d['n']} {d['m']}\n",
    ),
    Archetype(
        "capacity",
        ("binary search", "monotonic", "answer", "search", "minimize maximum"),
        "search for the smallest capacity that still works, since more capacity never hurts",
        "minCapacity",
        ("weights", "days"),
        ("List[int]", "int"),
        "int",
        lambda r: {},
        lambda r, p: (lambda w: {"weights": w, "days": r.randint(1, len(w))})(_rand_list(r, 1, 10, 1, 20)),
        _capacity,
        lambda p, t: (
            f"The {t[1]} of {t[0]} must move {t[2]} in the given order within D days. Each day they move "
            f"a run of consecutive {t[2]} whose total weight does not exceed the daily capacity. Find the "
            f"smallest capacity that moves everything within D days."
        ),
        lambda p: "The first line contains n and D. The second line contains n integers, the weights.",
        "Print the smallest capacity.",
        lambda p: ("1 <= D <= n <= 5 * 10^4", "1 <= weight <= 500"),
        lambda d, p: f"{len(d['weights'])} {d['days']}\n{_ints(d['weights'])}\n",
    ),
]
BY_KEY = {a.key: a for a in ARCHETYPES}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.casefold()))


def choose_archetype(features: list[str], salt: str) -> Archetype:
    """The archetype whose triggers best match the features (ties broken by the hash of the salt)."""
    text = " ".join(features).casefold()
    scores = []
    for index, archetype in enumerate(ARCHETYPES):
        score = sum(2 if trigger in text else 0 for trigger in archetype.triggers)
        score += len(_words(" ".join(archetype.triggers)) & _words(text)) * 0.5
        scores.append((score, unit(salt + archetype.key, "tie"), index))
    return ARCHETYPES[max(scores)[2]]


def _offered_features(features: str) -> list[str]:
    """The features the stage offers: its `features` value holds one `- category: feature` per line."""
    return [m.group(2).strip() for m in re.finditer(r"^- (\w+): (.+)$", features, re.MULTILINE)]


def imperfection(request: SimRequest, salt: str) -> float:
    """The roll that decides an answer's imperfection, in [0, 1): fixed by the request and its seed (no seed:
    the roll every answer had before seeds were drawn from, so earlier answers stay the same)."""
    return unit(request.key, salt if request.seed is None else f"{salt}:seed={request.seed}")


def answer_problem_scenario(request: SimRequest) -> Answer:
    key = request.key
    offered = _offered_features(request.variables["features"])
    if not offered or imperfection(request, "s1") < 0.05:
        return "These features could be combined into an interesting optimization problem about scheduling.", "stop"
    archetype = choose_archetype(offered, key)
    leaves = [f.split(" / ")[-1] for f in offered]
    matching = [f for f in leaves if _words(f) & _words(" ".join(archetype.triggers))]
    others = [f for f in leaves if f not in matching]
    selected = (matching[:3] + others[: max(0, 2 - len(matching[:3])) + 1])[:5]
    theme = make_theme(request.variables["features"])  # the configuration's own setting
    answer = {
        "feature_uses": [
            {
                "feature": f,
                "use": f"supports the core step: {archetype.strategy}"
                if f in matching
                else "shapes the input or its constraints",
            }
            for f in leaves
        ],
        "selected_features": selected,
        "integration_strategy": f"The task reduces to one pass of reasoning: {archetype.strategy}.",
        "scenario": scenario_sentence(theme),
    }
    return "```json\n" + json.dumps(answer, indent=2) + "\n```", "stop"


def problem_params(archetype: Archetype, style: str, rng: random.Random) -> dict[str, Any]:
    """The archetype's own parameters, and the twists every stdin problem may have: `cases`, the bound
    on the number of test cases in one input (0: one case, no count line)."""
    params = archetype.params(rng)
    several = style != "leetcode" and rng.random() < SEVERAL_SHARE
    params["cases"] = rng.randint(*CASES_BOUNDS) if several else 0
    return params


def stdin_of(archetype: Archetype, cases: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """One input in the statement's format: a count line first when the problem has several cases."""
    body = "".join(archetype.to_stdin(data, params) for data in cases)
    return f"{len(cases)}\n{body}" if params["cases"] else body


def build_problem(archetype: Archetype, style: str, key: str, theme: Theme) -> dict[str, Any]:
    rng = random.Random(key)
    params = problem_params(archetype, style, rng)
    examples = []
    for _ in range(2):
        cases = [archetype.generate(rng, params) for _ in range(rng.randint(2, 3) if params["cases"] else 1)]
        if style == "leetcode":
            (data,) = cases
            answer = archetype.solve(data, params)
            examples.append(
                {"input": "\n".join(json.dumps(a) for a in archetype.args(data)), "output": json.dumps(answer)}
            )
        else:
            lines = []
            for data in cases:
                answer = archetype.solve(data, params)
                lines += [str(x) for x in answer] if isinstance(answer, list) else [str(answer)]
            examples.append({"input": stdin_of(archetype, cases, params), "output": "\n".join(lines) + "\n"})
    story = frame(archetype.story(params, theme), theme, key, bool(params["cases"]))
    title = f"{theme[2].capitalize()} of {theme[0].split(' of ')[-1].replace('the ', '').replace('a ', '').title()}"
    problem: dict[str, Any] = {"title": title, "examples": examples}
    constraints = archetype.constraints(params)
    input_format, output_format = archetype.input_format(params), archetype.output_format
    if params["cases"]:
        constraints = (f"1 <= T <= {params['cases']}", *constraints)
        input_format = (
            "The first line contains T, the number of test cases. Each test case follows in this format: "
            + input_format
        )
        output_format = "For each test case in order: " + output_format[0].lower() + output_format[1:]
    if style == "leetcode":
        args = ", ".join(f"{n}: {t}" for n, t in zip(archetype.arg_names, archetype.arg_types))
        signature = f"def {archetype.function}(self, {args}) -> {archetype.return_type}:"
        problem.update(
            statement=story + "\n\nImplement the function " + archetype.function + " that returns the answer.",
            input_format="",
            output_format="",
            constraints=", ".join(constraints),
            function_name=archetype.function,
            signature=signature,
            starter_code=f"class Solution:\n    {signature}\n        ",
        )
    elif style == "atcoder":
        problem.update(
            statement=story,
            input_format=input_format,
            output_format=output_format,
            constraints="\n".join(f"- {c}" for c in constraints),
        )
    else:
        problem.update(
            statement=story,
            input_format=input_format + f" ({', '.join(constraints)})",
            output_format=output_format,
            constraints=", ".join(constraints),
        )
    return problem


def answer_problem_statement(request: SimRequest) -> Answer:
    style = request.variables["style"].strip() or "codeforces"
    selected = request.variables["selected"].strip()
    scenario = request.variables["scenario"].strip()
    roll = imperfection(request, "s2")
    if roll < 0.05:
        return "I would write a problem about " + scenario[:80] + ", with a story and examples.", "stop"
    archetype = choose_archetype([selected], selected + scenario)
    problem = build_problem(archetype, style, selected + "|" + scenario, theme_of_scenario(scenario))
    body = json.dumps(problem, indent=2)
    if roll < 0.08:
        return "```json\n" + body[: int(len(body) * 0.6)], "length"
    if roll < 0.20:  # the statement gives the method away (its own band: a cut-off answer is no leak)
        problem["statement"] += f" Hint: {archetype.strategy}; a dynamic programming or greedy approach may help."
        body = json.dumps(problem, indent=2)
    return (
        "<think>\nThe design asks for "
        + archetype.key
        + " in "
        + style
        + " style.\n</think>\n```json\n"
        + body
        + "\n```",
        "stop",
    )
