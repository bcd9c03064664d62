"""Solving and test writing (templates solve and write_tests), for the problems compose.py writes.

The simulator recognises the archetype behind a statement from the wording compose.py gave it,
reads the parameters the statement states (the number of test cases per input among them), and
writes Python programs: candidate solutions (the `solve` role) and an input generator and validator
(the `test_write` role). Every program is spelled in its own words: its identifiers (the solver's
name, its locals, the reader's...) are renamed by the hash of the problem (generator, validator) or
of the problem and the sample's seed (candidates), so no two problems, and no two samples of one
problem, send the sandbox the same program text.

Candidate solutions. Every problem has a difficulty, drawn from the problem (the hash of its
request's key, so every sample of one problem sees the same one), which fixes what each block of
eight samples holds; the eight are dealt from that deck, reshuffled per problem and per block of
eight seeds (samples 8-15 hold the same mix again, so wrong "twins" agree with each other):

    share  correct  the other samples of the eight
    10%    8        -
    15%    7        1 unusable
    15%    6        1 partly wrong, 1 unusable
    15%    5        1 partly wrong, 1 off by one, 1 unusable
    15%    4        1 partly wrong, 1 off by one, 1 failing, 1 unusable
    10%    2        1 partly wrong, 1 off by one, 2 failing, 2 unusable
     5%    1        3 failing, 4 unusable
     5%    1        1 off by one, 3 failing, 3 unusable
    10%    0        1 off by one, 1 off by a fixed amount, 3 failing, 3 unusable

(4.4 correct samples of eight on average). "Off by one" prints the answer + 1 on every input; "off
by a fixed amount" the answer + d (2 <= d <= 8, fixed per problem) on every input; "partly wrong"
prints the answer + e (9 <= e <= 15, fixed per problem) on about half of the inputs (those whose
hash is below one half) and the right answer on the others; "failing" crashes on every input (70%)
or never ends (30%); "unusable" is reasoning cut off at max_tokens (40%), no code block (20%), two
code blocks (20%) or a syntax error (20%). Wrong answers never agree with each other within a
block, and no row with two or more right samples has more wrong ones than right, so there the
right answer wins every vote (agreement 0.5 to 1) and every wrong sample fails a verified
test (a partly wrong one unless no test shows its bug: about 0.5^n for n tests); with one right
sample and one wrong the vote ties on every test, and so do the two wrong ones with none right (the
problem is rejected); a lone right sample among failing ones wins alone. The easy problems (every
usable sample passes) are the first two rows: 25% of problems.

Generators: 10% also emit inputs that break the constraints (the validator rejects them), 5% crash
on maximal cases, 5% answers without the two code blocks.
"""

from __future__ import annotations

import functools
import io
import keyword
import random
import re
import tokenize

from xcoder_assets.simulator.common import Answer, SimRequest, unit
from xcoder_assets.simulator.compose import BY_KEY, Archetype

# ---- recognising a statement -------------------------------------------------------------------

SIGNATURES = [
    ("pairs_mod", r"shipped together when their total weight is a multiple of (\d+)"),
    ("longest_window", r"whose total load does not exceed a limit L"),
    ("grid_steps", r"grid of free cells '\.' and blocked cells '#'"),
    ("components", r"belong to the same group"),
    ("spaced_max", r"must be at least (\d+) positions apart"),
    ("min_coins", r"minimum number of boxes whose sizes add up"),
    ("palindromes", r"it is symmetric if it reads the same"),
    ("extreme_sum", r"pick k different scores, the (smallest|largest) ones"),
    ("intervals", r"list of time spans \[start, end\]"),
    ("range_answers", r"answer questions: for given l and r, the (bitwise XOR|sum)"),
    ("coprime_count", r"compatible with the master code m"),
    ("capacity", r"smallest capacity that moves everything"),
]


def recognise(statement: str) -> tuple[Archetype, dict] | None:
    for key, pattern in SIGNATURES:
        match = re.search(pattern, statement)
        if not match:
            continue
        params: dict = {}
        if key == "pairs_mod":
            params["k"] = int(match.group(1))
        elif key == "spaced_max":
            params["gap"] = int(match.group(1))
        elif key == "grid_steps":
            params["diagonal"] = "eight directions" in statement
        elif key == "components":
            params["largest"] = "size of the largest group" in statement
        elif key == "palindromes":
            params["count"] = "Count the symmetric pieces" in statement
        elif key == "extreme_sum":
            params["smallest"] = match.group(1) == "smallest"
        elif key == "intervals":
            params["stab"] = "A check at time x" in statement
        elif key == "range_answers":
            params["xor"] = match.group(1) == "bitwise XOR"
        several = re.search(r"1 <= T <= (\d+)", statement) if "the number of test cases" in statement else None
        params["cases"] = int(several.group(1)) if several else 0
        return BY_KEY[key], params
    return None


# ---- program parts per archetype: reading stdin, the solution, generation, validation ----------

READ = {  # one case's arguments from an iterator over the input's tokens
    "pairs_mod": "def read(it):\n    n, k = int(next(it)), int(next(it))\n    return ([int(next(it)) for _ in range(n)], k)",
    "longest_window": "def read(it):\n    n, L = int(next(it)), int(next(it))\n    return ([int(next(it)) for _ in range(n)], L)",
    "grid_steps": "def read(it):\n    n, m = int(next(it)), int(next(it))\n    return ([next(it) for _ in range(n)],)",
    "components": "def read(it):\n    n, m = int(next(it)), int(next(it))\n"
    "    return (n, [[int(next(it)), int(next(it))] for _ in range(m)])",
    "spaced_max": "def read(it):\n    n = int(next(it))\n    return ([int(next(it)) for _ in range(n)],)",
    "min_coins": "def read(it):\n    k, amount = int(next(it)), int(next(it))\n"
    "    return ([int(next(it)) for _ in range(k)], amount)",
    "palindromes": "def read(it):\n    return (next(it),)",
    "extreme_sum": "def read(it):\n    n, k = int(next(it)), int(next(it))\n    return ([int(next(it)) for _ in range(n)], k)",
    "intervals": "def read(it):\n    n = int(next(it))\n    return ([[int(next(it)), int(next(it))] for _ in range(n)],)",
    "range_answers": "def read(it):\n    n, q = int(next(it)), int(next(it))\n    nums = [int(next(it)) for _ in range(n)]\n"
    "    return (nums, [[int(next(it)), int(next(it))] for _ in range(q)])",
    "coprime_count": "def read(it):\n    return (int(next(it)), int(next(it)))",
    "capacity": "def read(it):\n    n, D = int(next(it)), int(next(it))\n    return ([int(next(it)) for _ in range(n)], D)",
}

SOLVE = {
    "pairs_mod": """def solve(nums, k):
    counts = [0] * k
    total = 0
    for x in nums:
        r = x % k
        total += counts[(k - r) % k]
        counts[r] += 1
    return total""",
    "longest_window": """def solve(nums, limit):
    best = total = left = 0
    for right, x in enumerate(nums):
        total += x
        while total > limit:
            total -= nums[left]
            left += 1
        best = max(best, right - left + 1)
    return best""",
    "grid_steps": """def solve(grid):
    from collections import deque
    n, m = len(grid), len(grid[0])
    if grid[0][0] == '#' or grid[n - 1][m - 1] == '#':
        return -1
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1)] + ([(1, 1), (1, -1), (-1, 1), (-1, -1)] if P['diagonal'] else [])
    dist = [[-1] * m for _ in range(n)]
    dist[0][0] = 0
    queue = deque([(0, 0)])
    while queue:
        x, y = queue.popleft()
        for dx, dy in moves:
            a, b = x + dx, y + dy
            if 0 <= a < n and 0 <= b < m and grid[a][b] == '.' and dist[a][b] < 0:
                dist[a][b] = dist[x][y] + 1
                queue.append((a, b))
    return dist[n - 1][m - 1]""",
    "components": """def solve(n, edges):
    parent = list(range(n + 1))
    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    sizes = {}
    for v in range(1, n + 1):
        r = find(v)
        sizes[r] = sizes.get(r, 0) + 1
    return max(sizes.values()) if P['largest'] else len(sizes)""",
    "spaced_max": """def solve(values):
    gap = P['gap']
    best = [0] * (len(values) + 1)
    for i, v in enumerate(values, 1):
        best[i] = max(best[i - 1], v + (best[i - gap] if i - gap >= 0 else 0))
    return best[-1]""",
    "min_coins": """def solve(coins, amount):
    INF = float('inf')
    best = [0] + [INF] * amount
    for s in range(1, amount + 1):
        b = INF
        for c in coins:
            if c <= s and best[s - c] + 1 < b:
                b = best[s - c] + 1
        best[s] = b
    return -1 if best[amount] == INF else best[amount]""",
    "palindromes": """def solve(s):
    t = '#' + '#'.join(s) + '#'
    n = len(t)
    rad = [0] * n
    center = right = 0
    for i in range(n):
        if i < right:
            rad[i] = min(right - i, rad[2 * center - i])
        while i - rad[i] - 1 >= 0 and i + rad[i] + 1 < n and t[i - rad[i] - 1] == t[i + rad[i] + 1]:
            rad[i] += 1
        if i + rad[i] > right:
            center, right = i, i + rad[i]
    if P['count']:
        return sum((r + 1) // 2 for r in rad)
    return max(rad)""",
    "extreme_sum": """def solve(nums, k):
    distinct = sorted(set(nums), reverse=not P['smallest'])
    return sum(distinct[:k])""",
    "intervals": """def solve(intervals):
    count, last = 0, None
    for start, end in sorted(intervals, key=lambda s: s[1]):
        if P['stab']:
            if last is None or start > last:
                count, last = count + 1, end
        elif last is None or start >= last:
            count, last = count + 1, end
    return count""",
    "range_answers": """def solve(nums, queries):
    prefix = [0]
    for x in nums:
        prefix.append(prefix[-1] ^ x if P['xor'] else prefix[-1] + x)
    if P['xor']:
        return [prefix[r] ^ prefix[l - 1] for l, r in queries]
    return [prefix[r] - prefix[l - 1] for l, r in queries]""",
    "coprime_count": """def solve(n, m):
    primes, x, p = [], m, 2
    while p * p <= x:
        if x % p == 0:
            primes.append(p)
            while x % p == 0:
                x //= p
        p += 1
    if x > 1:
        primes.append(x)
    total = 0
    for mask in range(1 << len(primes)):
        prod, bits = 1, 0
        for i, q in enumerate(primes):
            if mask >> i & 1:
                prod *= q
                bits += 1
        total += (-1) ** bits * (n // prod)
    return total""",
    "capacity": """def solve(weights, days):
    def needed(cap):
        used, load = 1, 0
        for w in weights:
            if load + w > cap:
                used, load = used + 1, 0
            load += w
        return used
    lo, hi = max(weights), sum(weights)
    while lo < hi:
        mid = (lo + hi) // 2
        if needed(mid) <= days:
            hi = mid
        else:
            lo = mid + 1
    return lo""",
}

# Random inputs as the argument tuple, per kind: small edge cases, random, maximal.
MAKE = {
    "pairs_mod": """def make(rng, kind):
    n = {'small': rng.randint(2, 4), 'random': rng.randint(2, 300), 'max': 200000}[kind]
    top = 10 if kind == 'small' else 10 ** 9
    return ([rng.randint(1, top) for _ in range(n)], P['k'])""",
    "longest_window": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    nums = [rng.randint(1, 5 if kind == 'small' else 10 ** 4) for _ in range(n)]
    return (nums, rng.randint(1, max(1, sum(nums) // 3)))""",
    "grid_steps": """def make(rng, kind):
    n, m = {'small': (rng.randint(1, 3), rng.randint(1, 3)), 'random': (rng.randint(2, 30), rng.randint(2, 30)),
            'max': (300, 300)}[kind]
    wall = 0.0 if kind == 'max' and rng.random() < 0.5 else 0.3
    return (["".join('#' if rng.random() < wall else '.' for _ in range(m)) for _ in range(n)],)""",
    "components": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 100000}[kind]
    m = {'small': rng.randint(0, 3), 'random': rng.randint(0, 300), 'max': 100000}[kind]
    return (n, [[rng.randint(1, n), rng.randint(1, n)] for _ in range(m)])""",
    "spaced_max": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    return ([rng.randint(1, 10 if kind == 'small' else 10 ** 9) for _ in range(n)],)""",
    "min_coins": """def make(rng, kind):
    k = {'small': rng.randint(1, 2), 'random': rng.randint(1, 10), 'max': 30}[kind]
    top = 10 if kind == 'small' else 10 ** 4
    coins = sorted(set(rng.randint(1, top) for _ in range(k)))
    return (coins, {'small': rng.randint(1, 12), 'random': rng.randint(1, 2000), 'max': 10000}[kind])""",
    "palindromes": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 5000}[kind]
    letters = 'a' if kind == 'max' and rng.random() < 0.5 else 'ab' if kind == 'small' else 'abc'
    return ("".join(rng.choice(letters) for _ in range(n)),)""",
    "extreme_sum": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    nums = [rng.randint(1, 5 if kind == 'small' else 10 ** 9) for _ in range(n)]
    return (nums, rng.randint(1, len(set(nums))))""",
    "intervals": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    top = 10 if kind == 'small' else 10 ** 9 - 1
    spans = []
    for _ in range(n):
        a = rng.randint(0, top - 1)
        spans.append([a, rng.randint(a + 1, min(top, a + (3 if kind == 'small' else 10 ** 6)))])
    return (spans,)""",
    "range_answers": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    q = {'small': rng.randint(1, 3), 'random': rng.randint(1, 300), 'max': 200000}[kind]
    nums = [rng.randint(0, 10 if kind == 'small' else 10 ** 9) for _ in range(n)]
    queries = []
    for _ in range(q):
        a, b = rng.randint(1, n), rng.randint(1, n)
        queries.append([min(a, b), max(a, b)])
    return (nums, queries)""",
    "coprime_count": """def make(rng, kind):
    top = {'small': 12, 'random': 10 ** 6, 'max': 10 ** 12}[kind]
    return (rng.randint(1, top), rng.randint(1, top))""",
    "capacity": """def make(rng, kind):
    n = {'small': rng.randint(1, 4), 'random': rng.randint(1, 300), 'max': 50000}[kind]
    weights = [rng.randint(1, 5 if kind == 'small' else 500) for _ in range(n)]
    return (weights, rng.randint(1, n))""",
}

FORMAT = {  # the argument tuple as the statement's stdin format
    "pairs_mod": "def fmt(a):\n    return f'{len(a[0])} {a[1]}\\n' + ' '.join(map(str, a[0])) + '\\n'",
    "longest_window": "def fmt(a):\n    return f'{len(a[0])} {a[1]}\\n' + ' '.join(map(str, a[0])) + '\\n'",
    "grid_steps": "def fmt(a):\n    return f'{len(a[0])} {len(a[0][0])}\\n' + '\\n'.join(a[0]) + '\\n'",
    "components": "def fmt(a):\n    return f'{a[0]} {len(a[1])}\\n' + ''.join(f'{x} {y}\\n' for x, y in a[1])",
    "spaced_max": "def fmt(a):\n    return f'{len(a[0])}\\n' + ' '.join(map(str, a[0])) + '\\n'",
    "min_coins": "def fmt(a):\n    return f'{len(a[0])} {a[1]}\\n' + ' '.join(map(str, a[0])) + '\\n'",
    "palindromes": "def fmt(a):\n    return a[0] + '\\n'",
    "extreme_sum": "def fmt(a):\n    return f'{len(a[0])} {a[1]}\\n' + ' '.join(map(str, a[0])) + '\\n'",
    "intervals": "def fmt(a):\n    return f'{len(a[0])}\\n' + ''.join(f'{x} {y}\\n' for x, y in a[0])",
    "range_answers": "def fmt(a):\n    return f'{len(a[0])} {len(a[1])}\\n' + ' '.join(map(str, a[0])) + '\\n' + ''.join(f'{l} {r}\\n' for l, r in a[1])",
    "coprime_count": "def fmt(a):\n    return f'{a[0]} {a[1]}\\n'",
    "capacity": "def fmt(a):\n    return f'{len(a[0])} {a[1]}\\n' + ' '.join(map(str, a[0])) + '\\n'",
}

CHECK = {  # the statement's constraints on the argument tuple
    "pairs_mod": "def check(a):\n    assert 2 <= len(a[0]) <= 200000 and a[1] == P['k'] and all(1 <= x <= 10 ** 9 for x in a[0])",
    "longest_window": "def check(a):\n    assert 1 <= len(a[0]) <= 200000 and 1 <= a[1] <= 10 ** 9 and all(1 <= x <= 10 ** 4 for x in a[0])",
    "grid_steps": "def check(a):\n    g = a[0]\n    assert 1 <= len(g) <= 1000 and 1 <= len(g[0]) <= 1000 and all(len(r) == len(g[0]) and set(r) <= set('.#') for r in g)",
    "components": "def check(a):\n    assert 1 <= a[0] <= 200000 and len(a[1]) <= 200000 and all(1 <= x <= a[0] and 1 <= y <= a[0] for x, y in a[1])",
    "spaced_max": "def check(a):\n    assert 1 <= len(a[0]) <= 200000 and all(1 <= x <= 10 ** 9 for x in a[0])",
    "min_coins": "def check(a):\n    assert 1 <= len(a[0]) <= 100 and 1 <= a[1] <= 10 ** 4 and all(1 <= c <= 10 ** 4 for c in a[0])",
    "palindromes": "def check(a):\n    assert 1 <= len(a[0]) <= 5000 and a[0].isalpha() and a[0].islower()",
    "extreme_sum": "def check(a):\n    assert 1 <= len(a[0]) <= 200000 and 1 <= a[1] <= len(set(a[0])) and all(1 <= x <= 10 ** 9 for x in a[0])",
    "intervals": "def check(a):\n    assert 1 <= len(a[0]) <= 200000 and all(0 <= s < e <= 10 ** 9 for s, e in a[0])",
    "range_answers": "def check(a):\n    n = len(a[0])\n    assert 1 <= n <= 200000 and 1 <= len(a[1]) <= 200000 and all(0 <= x <= 10 ** 9 for x in a[0]) and all(1 <= l <= r <= n for l, r in a[1])",
    "coprime_count": "def check(a):\n    assert 1 <= a[0] <= 10 ** 12 and 1 <= a[1] <= 10 ** 12",
    "capacity": "def check(a):\n    assert 1 <= a[1] <= len(a[0]) <= 50000 and all(1 <= w <= 500 for w in a[0])",
}


def is_functional(question: str, archetype: Archetype) -> bool:
    """A LeetCode-style problem: its statement names the function to implement (compose.py writes it so)."""
    return f"Implement the function {archetype.function} " in question


# ---- names: every problem (and every sample of a problem) writes its programs in its own words -----

# Identifiers a program may rename, each with its spellings (the first is the plain one). A name an
# f-string uses (job, a, x, y, l, r, exc in some programs) keeps its spelling in that program.
ALIASES: dict[str, tuple[str, ...]] = {
    "solve": (
        "solve",
        "answer_for",
        "compute",
        "evaluate",
        "calc",
        "work_out",
        "resolve",
        "figure",
        "get_answer",
        "solve_case",
        "handle",
        "answer_case",
    ),
    "_solve": ("_solve", "_base", "_inner", "_right", "_core", "_orig", "_plain", "_first"),
    "read": ("read", "read_case", "parse_case", "load_case", "take_case", "scan_case", "next_case", "grab"),
    "it": ("it", "tokens", "stream", "src", "feed", "words", "toks", "pieces"),
    "result": ("result", "res", "ans", "outcome", "got", "found", "reply", "value"),
    "out": ("out", "lines", "buf", "chunks", "printed", "parts", "answers", "rows"),
    "P": ("P", "CFG", "PARAMS", "SETTINGS", "OPT", "SPEC", "CONF", "KNOBS"),
    "SALT": ("SALT", "SHIFT", "DELTA", "BIAS", "SKEW", "EXTRA"),
    "SLIP": ("SLIP", "ERR", "DRIFT", "NUDGE", "JOLT", "FUDGE"),
    "mishandles": ("mishandles", "buggy", "trips_on", "breaks_on", "unlucky", "odd_case"),
    "steps": ("steps", "tries", "spins", "rounds", "ticks", "loops"),
    "make": ("make", "build", "draw", "sample_case", "random_case", "new_case", "one_case", "make_case"),
    "fmt": ("fmt", "render", "to_text", "as_input", "dump", "show", "serialize", "write_case"),
    "check": ("check", "verify", "validate", "ensure", "inspect", "audit", "check_case", "assert_ok"),
    "main": ("main", "run", "entry", "go", "start", "cli", "program", "driver"),
    "cases": ("cases", "batch", "group", "todo", "jobs_list", "inputs", "tests", "bundle"),
    "args": ("args", "case", "item", "data", "params_in", "arguments", "one", "entry_args"),
    "rng": ("rng", "rand", "gen", "rnd", "chance", "source", "dice", "prng"),
}
# Other names (the solvers' locals, the readers' and generators'): each may get a prefix or suffix.
LOCALS = frozenset(
    (
        "nums total best counts left right limit dist queue moves parent sizes values gap coins amount INF rad "
        "center distinct count last prefix primes mask prod bits weights days needed lo hi mid used load cap grid "
        "n m k q r s x y v c i p w L D top letters spans queries wall start end lines"
    ).split()
)
_AFFIXES = ("{}", "{}_", "my_{}", "{}2", "the_{}", "cur_{}", "{}_all", "{}_v", "{}0", "got_{}", "{}_x", "k_{}")


def name_map(names: set[str], text: str, keep: frozenset[str] = frozenset()) -> dict[str, str]:
    """A spelling for each renameable name the program uses (but those in `keep`), fixed by `text`; a
    spelling the program already uses elsewhere (or another name took) keeps the plain name."""
    taken = set(names)
    out: dict[str, str] = {}
    for name in sorted(names - keep):
        options = ALIASES.get(name) or (tuple(a.format(name) for a in _AFFIXES) if name in LOCALS else ())
        if not options:
            continue
        choice = options[int(unit(text, "name:" + name) * len(options))]
        if choice != name and choice not in taken:
            out[name] = choice
            taken.add(choice)
    return out


@functools.lru_cache(maxsize=512)
def _name_sites(code: str) -> tuple[frozenset[str], frozenset[str], tuple[tuple[int, int, int, str], ...]]:
    """Once per program text (the samples of a problem share it): the names it uses, the words inside
    its f-strings, and where each name stands (row, start, end, name) unless it follows a '.'."""
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    names = frozenset(t.string for t in tokens if t.type == tokenize.NAME and not keyword.iskeyword(t.string))
    in_fstrings = frozenset(
        word
        for t in tokens
        if t.type == tokenize.STRING and t.string[:2].lower() in ("f'", 'f"')
        for word in re.findall(r"\w+", t.string)
    )
    sites, previous = [], None
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in names and not (previous and previous.string == "."):
            sites.append((tok.start[0], tok.start[1], tok.end[1], tok.string))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            previous = tok
    return names, in_fstrings, tuple(sites)


def rename(code: str, text: str) -> str:
    """The program with its renameable identifiers spelled as `text` chooses (names only: strings,
    attributes after '.', keywords and names used inside f-strings stay)."""
    names, in_fstrings, sites = _name_sites(code)
    mapping = name_map(set(names), text, in_fstrings)  # f-strings are one token here: their names stay
    lines = code.splitlines(keepends=True)
    for row, start, end, name in reversed(sites):
        if name in mapping:
            line = lines[row - 1]
            lines[row - 1] = line[:start] + mapping[name] + line[end:]
    return "".join(lines)


def solution_program(
    archetype: Archetype, params: dict, functional: bool, variant: str, key: str = "", names: str | None = None
) -> str:
    """A whole program; `variant`: correct, off_by_one, scrambled, partial, crash, slow. The wrong
    ones wrap the right solver (`_solve = solve`); `key` fixes their amounts per problem; `names`
    (default: the key) fixes its identifiers, so each problem and each sample writes its own text."""
    body = SOLVE[archetype.key]
    twist = {
        "correct": "",
        "off_by_one": "\n\n_solve = solve\ndef solve(*args):\n    r = _solve(*args)\n    return [x + 1 for x in r] if isinstance(r, list) else r + 1",
        "scrambled": "\n\n_solve = solve\ndef solve(*args):\n    r = _solve(*args)\n    return [x + SALT for x in r] if isinstance(r, list) else r + SALT",
        "partial": (
            "\n\n_solve = solve\ndef solve(*args):\n    r = _solve(*args)\n    if not mishandles(args):\n        return r\n"
            "    return [x + SLIP for x in r] if isinstance(r, list) else r + SLIP\n\n"
            "def mishandles(args):  # the inputs its bug shows on: about half of them\n"
            "    import hashlib\n    return hashlib.sha256(repr(args).encode()).digest()[0] < 128"
        ),
        "crash": "\n\n_solve = solve\ndef solve(*args):\n    r = _solve(*args)\n    raise IndexError('list index out of range')",
        "slow": "\n\n_solve = solve\ndef solve(*args):\n    steps = 0\n    while steps >= 0:  # an exhaustive search that never ends\n        steps += 1\n    return _solve(*args)",
    }[variant]
    header = f"P = {params!r}\n"
    if variant == "scrambled":
        header += f"SALT = {2 + int(unit(key + repr(params), 'salt') * 7)}\n"
    elif variant == "partial":
        header += f"SLIP = {9 + int(unit(key + repr(params), 'slip') * 7)}\n"
    names = key if names is None else names
    if functional:  # the method keeps its name; the harness passes the arguments by position
        args = ", ".join(archetype.arg_names)
        return rename(
            f"from typing import List\n\n{header}\n{body}{twist}\n\n\nclass Solution:\n"
            f"    def {archetype.function}(self, {args}):\n        return solve({args})\n",
            names,
        )
    show = "'\\n'.join(map(str, result)) if isinstance(result, list) else str(result)"
    if params.get("cases"):
        main = (
            "it = iter(sys.stdin.read().split())\nout = []\nfor _ in range(int(next(it))):\n"
            f"    result = solve(*read(it))\n    out.append({show})\nprint('\\n'.join(out))"
        )
    else:
        main = f"it = iter(sys.stdin.read().split())\nresult = solve(*read(it))\nprint({show})"
    return rename(f"import sys\n\n{header}\n{body}{twist}\n\n\n{READ[archetype.key]}\n\n\n{main}\n", names)


def generator_program(archetype: Archetype, params: dict, functional: bool, broken: str | None, names: str = "") -> str:
    """An input generator: one case, or T of them (maximal inputs: one maximal case) for a problem of
    several cases; `broken`: invalid (every third random input breaks a constraint) or crash_max."""
    if functional:
        writer = "print('\\n'.join(json.dumps(x) for x in cases[0]))"
    elif params.get("cases"):
        writer = "sys.stdout.write(str(len(cases)) + '\\n' + ''.join(fmt(a) for a in cases))"
    else:
        writer = "sys.stdout.write(fmt(cases[0]))"
    count = "1"
    if params.get("cases") and not functional:
        count = "{'small': rng.randint(1, 3), 'random': rng.randint(1, P['cases']), 'max': 1}[job['kind']]"
    sabotage = ""
    if broken == "invalid":  # every third random input breaks a constraint
        sabotage = (
            "    if job['kind'] == 'random' and job['index'] % 3 == 2:\n"
            "        cases[0] = tuple([] if isinstance(x, list) else 0 if isinstance(x, int) else x for x in cases[0])\n"
        )
    elif broken == "crash_max":
        sabotage = "    if job['kind'] == 'max':\n        raise MemoryError('table too large')\n"
    return rename(
        f"import json\nimport random\nimport sys\n\nP = {params!r}\n\n{MAKE[archetype.key]}\n\n{FORMAT[archetype.key]}\n\n\n"
        "def main():\n    job = json.loads(sys.stdin.read())\n"
        "    rng = random.Random(f\"{job['seed']}:{job['kind']}:{job['index']}\")\n"
        f"    cases = [make(rng, job['kind']) for _ in range({count})]\n{sabotage}    {writer}\n\n\nmain()\n",
        names,
    )


def validator_program(archetype: Archetype, params: dict, functional: bool, names: str = "") -> str:
    """An input validator: the format (every token read, none left over) and every constraint."""
    if functional:
        reader = (
            "lines = [l for l in sys.stdin.read().split('\\n') if l.strip()]\n"
            "    cases = [tuple(json.loads(l) for l in lines)]"
        )
    elif params.get("cases"):
        reader = (
            "it = iter(sys.stdin.read().split())\n    count = int(next(it))\n"
            "    assert 1 <= count <= P['cases'], 'T out of range'\n"
            "    cases = [read(it) for _ in range(count)]\n    assert next(it, None) is None, 'extra tokens'"
        )
    else:
        reader = (
            "it = iter(sys.stdin.read().split())\n    cases = [read(it)]\n"
            "    assert next(it, None) is None, 'extra tokens'"
        )
    return rename(
        f"import json\nimport sys\n\nP = {params!r}\n\n{READ[archetype.key]}\n\n\n{CHECK[archetype.key]}\n\n\n"
        f"def main():\n    {reader}\n    for args in cases:\n        check(args)\n\n\n"
        "try:\n    main()\nexcept Exception as exc:\n    print(f'invalid input: {type(exc).__name__} {exc}')\n    sys.exit(1)\n",
        names,
    )


# ---- the samples of a problem ------------------------------------------------------------------

# The mix of difficulty: (share of problems, what a block of eight samples holds). See the docstring.
MIX: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.10, ("correct",) * 8),
    (0.15, ("correct",) * 7 + ("unusable",)),
    (0.15, ("correct",) * 6 + ("partial", "unusable")),
    (0.15, ("correct",) * 5 + ("partial", "off_by_one", "unusable")),
    (0.15, ("correct",) * 4 + ("partial", "off_by_one", "fails", "unusable")),
    (0.10, ("correct",) * 2 + ("partial", "off_by_one") + ("fails",) * 2 + ("unusable",) * 2),
    (0.05, ("correct",) + ("fails",) * 3 + ("unusable",) * 4),
    (0.05, ("correct", "off_by_one") + ("fails",) * 3 + ("unusable",) * 3),
    (0.10, ("off_by_one", "scrambled") + ("fails",) * 3 + ("unusable",) * 3),
)
BLOCK = 8
assert abs(sum(share for share, _ in MIX) - 1.0) < 1e-9 and all(len(deck) == BLOCK for _, deck in MIX)


def deck_of(key: str) -> tuple[str, ...]:
    """The eight samples' kinds of the problem whose request key is `key` (its difficulty)."""
    roll, total = unit(key, "difficulty"), 0.0
    for share, deck in MIX:
        total += share
        if roll < total:
            return deck
    return MIX[-1][1]


def sample_kind(key: str, seed: int | None) -> str:
    """What sample `seed` of the problem is: correct, off_by_one, scrambled, partial, crash, slow,
    truncated, no_code, two_blocks or syntax_error."""
    seed = seed or 0
    deck = list(deck_of(key))
    random.Random(f"{key}|deck|{seed // BLOCK}").shuffle(deck)
    kind = deck[seed % BLOCK]
    if kind == "fails":
        return "crash" if unit(f"{key}|{seed}", "fails") < 0.70 else "slow"
    if kind == "unusable":
        roll = unit(f"{key}|{seed}", "unusable")
        return (
            "truncated" if roll < 0.4 else "no_code" if roll < 0.6 else "two_blocks" if roll < 0.8 else "syntax_error"
        )
    return kind


def answer_solve(request: SimRequest) -> Answer:
    question = request.variables["question"]
    found = recognise(question)
    reasoning = "<think>\nLet me restate the task and check the examples before writing the code.\n"
    if found is None:
        return reasoning + "I am not sure.\n</think>\n```python\nprint(0)\n```", "stop"
    archetype, params = found
    functional = is_functional(question, archetype)
    reasoning += f"The core idea: {archetype.strategy}.\n</think>\n"
    kind = sample_kind(request.key, request.seed)
    if kind == "truncated":
        return reasoning[: len(reasoning) // 2], "length"
    names = f"{request.key}|{request.seed}"  # every sample writes its own program text
    if kind == "no_code":
        return reasoning + "The solution follows the idea above; implement it carefully.", "stop"
    if kind in ("two_blocks", "syntax_error"):
        code = solution_program(archetype, params, functional, "correct", names=names)
        if kind == "two_blocks":
            return reasoning + f"```python\n{code}```\nOr, alternatively:\n```python\n{code}```", "stop"
        return reasoning + "```python\n" + code.replace("):\n", ")\n", 1) + "```", "stop"  # a lost colon
    program = solution_program(archetype, params, functional, kind, request.key, names)
    return reasoning + "```python\n" + program + "```", "stop"


def answer_test_writer(request: SimRequest) -> Answer:
    question = request.variables["question"]
    found = recognise(question)
    roll = unit(request.key, "tests")
    if found is None or roll < 0.05:
        return "To test this problem, generate random arrays and check the edge cases by hand.", "stop"
    archetype, params = found
    functional = is_functional(question, archetype)
    broken = "invalid" if roll < 0.15 else "crash_max" if roll < 0.20 else None
    generator = generator_program(archetype, params, functional, broken, request.key)
    validator = validator_program(archetype, params, functional, request.key)
    return (
        "<think>\nSmall cases cover the edges; random ones the typical; maximal ones the limits.\n</think>\n"
        f"### Generator\n```python\n{generator}```\n\n### Validator\n```python\n{validator}```\n",
        "stop",
    )
