"""Solving and test writing (templates solve and write_tests), for the problems compose.py writes.

The simulator recognises the archetype behind a statement from the wording compose.py gave it,
reads the parameters the statement states, and writes Python programs: candidate solutions (the
`solve` role) and an input generator and validator (the `test_write` role).

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

import random
import re

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
        return BY_KEY[key], params
    return None


# ---- program parts per archetype: reading stdin, the solution, generation, validation ----------

READ = {
    "pairs_mod": "d = sys.stdin.read().split()\nn, k = int(d[0]), int(d[1])\nARGS = (list(map(int, d[2:2 + n])), k)",
    "longest_window": "d = sys.stdin.read().split()\nn, L = int(d[0]), int(d[1])\nARGS = (list(map(int, d[2:2 + n])), L)",
    "grid_steps": "d = sys.stdin.read().split()\nn, m = int(d[0]), int(d[1])\nARGS = (d[2:2 + n],)",
    "components": "d = sys.stdin.read().split()\nn, m = int(d[0]), int(d[1])\n"
    "ARGS = (n, [[int(d[2 + 2 * i]), int(d[3 + 2 * i])] for i in range(m)])",
    "spaced_max": "d = sys.stdin.read().split()\nn = int(d[0])\nARGS = (list(map(int, d[1:1 + n])),)",
    "min_coins": "d = sys.stdin.read().split()\nk, amount = int(d[0]), int(d[1])\nARGS = (list(map(int, d[2:2 + k])), amount)",
    "palindromes": "ARGS = (sys.stdin.readline().strip(),)",
    "extreme_sum": "d = sys.stdin.read().split()\nn, k = int(d[0]), int(d[1])\nARGS = (list(map(int, d[2:2 + n])), k)",
    "intervals": "d = sys.stdin.read().split()\nn = int(d[0])\nARGS = ([[int(d[1 + 2 * i]), int(d[2 + 2 * i])] for i in range(n)],)",
    "range_answers": "d = sys.stdin.read().split()\nn, q = int(d[0]), int(d[1])\nnums = list(map(int, d[2:2 + n]))\n"
    "ARGS = (nums, [[int(d[2 + n + 2 * i]), int(d[3 + n + 2 * i])] for i in range(q)])",
    "coprime_count": "d = sys.stdin.read().split()\nARGS = (int(d[0]), int(d[1]))",
    "capacity": "d = sys.stdin.read().split()\nn, D = int(d[0]), int(d[1])\nARGS = (list(map(int, d[2:2 + n])), D)",
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


def solution_program(archetype: Archetype, params: dict, functional: bool, variant: str, key: str = "") -> str:
    """A whole program; `variant`: correct, off_by_one, scrambled, partial, crash, slow. The wrong
    ones wrap the right solver (`_solve = solve`); `key` fixes their amounts per problem."""
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
    if functional:
        args = ", ".join(archetype.arg_names)
        return (
            f"from typing import List\n\n{header}\n{body}{twist}\n\n\nclass Solution:\n"
            f"    def {archetype.function}(self, {args}):\n        return solve({args})\n"
        )
    output = "result = solve(*ARGS)\nprint('\\n'.join(map(str, result)) if isinstance(result, list) else result)"
    return f"import sys\n\n{header}\n{body}{twist}\n\n\n{READ[archetype.key]}\n{output}\n"


def generator_program(archetype: Archetype, params: dict, functional: bool, broken: str | None) -> str:
    writer = "print('\\n'.join(json.dumps(x) for x in args))" if functional else "sys.stdout.write(fmt(args))"
    sabotage = ""
    if broken == "invalid":  # every third random case breaks a constraint
        sabotage = (
            "    if job['kind'] == 'random' and job['index'] % 3 == 2:\n"
            "        args = tuple([] if isinstance(x, list) else 0 if isinstance(x, int) else x for x in args)\n"
        )
    elif broken == "crash_max":
        sabotage = "    if job['kind'] == 'max':\n        raise MemoryError('table too large')\n"
    return (
        f"import json\nimport random\nimport sys\n\nP = {params!r}\n\n{MAKE[archetype.key]}\n\n{FORMAT[archetype.key]}\n\n\n"
        "def main():\n    job = json.loads(sys.stdin.read())\n"
        "    rng = random.Random(f\"{job['seed']}:{job['kind']}:{job['index']}\")\n"
        f"    args = make(rng, job['kind'])\n{sabotage}    {writer}\n\n\nmain()\n"
    )


def validator_program(archetype: Archetype, params: dict, functional: bool) -> str:
    if functional:
        reader = "lines = [l for l in sys.stdin.read().split('\\n') if l.strip()]\n    args = tuple(json.loads(l) for l in lines)"
    else:
        reader = READ[archetype.key].replace("\n", "\n    ") + "\n    args = ARGS"
    return (
        f"import json\nimport sys\n\nP = {params!r}\n\n{CHECK[archetype.key]}\n\n\n"
        f"def main():\n    {reader}\n    check(args)\n\n\n"
        "try:\n    main()\nexcept Exception as exc:\n    print(f'invalid input: {type(exc).__name__} {exc}')\n    sys.exit(1)\n"
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
    code = solution_program(archetype, params, functional, "correct")
    if kind == "no_code":
        return reasoning + "The solution follows the idea above; implement it carefully.", "stop"
    if kind == "two_blocks":
        return reasoning + f"```python\n{code}```\nOr, alternatively:\n```python\n{code}```", "stop"
    if kind == "syntax_error":
        return reasoning + "```python\n" + code.replace("def solve(", "def solve(:", 1) + "```", "stop"
    return reasoning + "```python\n" + solution_program(
        archetype, params, functional, kind, request.key
    ) + "```", "stop"


def answer_test_writer(request: SimRequest) -> Answer:
    question = request.variables["question"]
    found = recognise(question)
    roll = unit(request.key, "tests")
    if found is None or roll < 0.05:
        return "To test this problem, generate random arrays and check the edge cases by hand.", "stop"
    archetype, params = found
    functional = is_functional(question, archetype)
    broken = "invalid" if roll < 0.15 else "crash_max" if roll < 0.20 else None
    generator = generator_program(archetype, params, functional, broken)
    validator = validator_program(archetype, params, functional)
    return (
        "<think>\nSmall cases cover the edges; random ones the typical; maximal ones the limits.\n</think>\n"
        f"### Generator\n```python\n{generator}```\n\n### Validator\n```python\n{validator}```\n",
        "stop",
    )
