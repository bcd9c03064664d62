"""The synthesis stages at the paper's full size on the offline simulator: a 177k-entry pool, 192k
configurations and statements, 192k examples decontaminated against a LiveCodeBench-sized index.

    nice .venv/bin/python benchmarks/synthesis_full.py [--sizes 19200,192000] [--stages ...]
        [--results FILE.jsonl] [--profile STAGE] [--examples-dir DIR | --examples-from FILE]
    .venv/bin/python benchmarks/synthesis_full.py --report A.jsonl,B.jsonl   # tables of earlier runs
    .venv/bin/python benchmarks/synthesis_full.py --before-after 300        # the removed overheads

The seed stages (seed_problems, features, feature_tree: the same for every size) once; per size N
(configurations) a fresh data directory and Dagster instance, copies of theirs, then each stage in a
process of its own (lib/stage_runner.py, as scale.py), so that its peak RSS is its own (the kernel's
figure for that child, from wait4), its seconds and CPU seconds those of its work in that process
(the imports of what the stage uses apart: a stage that only runs recipe code loads no Dagster):

- evolved_pool_recipe (default): the asset's recipe function `grow_pool` (the pool, its round
  checkpoint, the parsing) for about N x 177/192 entries, with the simulator answering in-process
  rather than through the gateway, and the table written as the asset writes it. Items: entries.
- evolved_pool (by --stages): dg.materialize of the asset itself (gateway, litellm, LLM cache):
  per LLM call ~60 ms on a loaded 2-core machine, so 177k entries (65k calls) take over an hour.
- In both, the simulator's evolution runs dry at ~800 features (its ontology is finite), so in that
  child process only every feature an answer adds gets a tag drawn from the request
  (`_unbounded_expansions`): the answers keep their imperfections (prose, cut-offs, spelling variants
  that merge, over-long names) and the pool grows without a ceiling, ~2.2 entries per expansion.
  --expansions per round (default 16; the recipe's 4) so that fewer rounds grow the pool.
- feature_configs: dg.materialize, count N. Items: configurations.
- examples (made by the first of dedup and decontamination that runs, before its timed work; kept
  in --examples-dir as examples-N.jsonl for a later --examples-from): N examples, each the simulator's
  statement for one of this size's configurations (its compose_scenario and compose_problem answers,
  asked of the simulator directly, not through the gateway) plus a synthesized answer program; 1 in
  200 is a LiveCodeBench statement with its numbers changed (planted). With --examples-from FILE: the
  file's examples again and again, each pass with its longer words renamed.
- dedup: the problems stage's duplicate checks over the examples' statements (the parsed statement
  text, as that stage checks it; examples whose answer did not parse are not checked), in order: the
  exact check (normalized_text_hash, the first kept wins), then the near-duplicate check (MinHashIndex
  at CompositionSettings' threshold). Every --plant-every-th statement (100) is a planted copy of one
  checked shortly before, alternately near (one word changed) and exact but for case. Items:
  statements checked; the output says duplicates found against planted.
- decontamination: the examples, checked as training_shards checks them per batch:
  `Decontaminator` built once from the benchmark (the three bundled LiveCodeBench rows read by
  `load_benchmark`, plus synthetic statements up to release v6's 1,055 problems), then
  `prepare` + `check_many` over chunks of --chunk examples read from a JSONL file. Items: examples.
  The seconds count the index and the checks, not the making of the examples.
- problems: dg.materialize (scenario + statement calls through the gateway and litellm to the
  simulator, dedup, checks). Items: configurations (each one or two LLM calls).

Each finished stage is appended to --results as one JSON line at once (a partial run still yields
figures); at the end a table per size and the ratios (largest / smallest size) of seconds and CPU
seconds per item and of peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from lib.stage_runner import (  # noqa: E402
    finish,
    load_average,
    materialization_metadata,
    materialize,
    run_child,
    timed,
)

SETUP = "seed_problems,features,feature_tree"
STAGES = [
    "evolved_pool",
    "evolved_pool_recipe",
    "feature_configs",
    "dedup",
    "decontamination",
    "problems",
]  # problems, the longest, last
_DAGSTER = ("dagster", "xcoder_assets.definitions", "xcoder_assets.defs.resources")
STAGE_MODULES = {  # what each stage's child imports before its timed work
    SETUP: _DAGSTER,
    "evolved_pool": _DAGSTER,
    "evolved_pool_recipe": ("xcoder_assets.recipe.evolution", "xcoder_assets.simulator.registry"),
    "feature_configs": _DAGSTER,
    "dedup": ("xcoder_assets.recipe.composition",),
    "decontamination": ("xcoder_assets.recipe.decontamination", "dedup_scale"),  # its benchmark_index
    "problems": _DAGSTER,
}
BATCH = "full"
PAPER_POOL, PAPER_TASKS = 177_000, 192_000
LCB_V6_PROBLEMS = 1055
BUNDLED_LCB = (
    Path(__file__).resolve().parents[1] / "xcoder_assets" / "data" / "lcb" / "code_generation_lite_sample.jsonl"
)


# ---- the parent: one child process per stage ----------------------------------------------------


def run_stage_child(stage: str, size: int, root: Path, examples: Path, args: argparse.Namespace, profile: bool) -> dict:
    """Run one stage in a child process; its own seconds and items (written by the child), peak RSS."""
    out = root / f"{stage.replace(',', '+')}.json"
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "XCODER_DATA_DIR": str(root / "data")}
    command = [sys.executable, __file__, "--child", stage, "--size", str(size), "--out", str(out)]
    command += ["--entries-per-expansion", str(args.entries_per_round), "--chunk", str(args.chunk)]
    command += [
        "--expansions",
        str(args.expansions),
        "--examples",
        str(examples),
        "--plant-every",
        str(args.plant_every),
    ]
    command += ["--examples-from", args.examples_from] if args.examples_from else []
    command += ["--profile-here"] if profile else []
    child = run_child(command, env, out, f"synthesis_full: stage {stage} at size {size}")
    return {**child.result, "process_seconds": child.process_seconds, "rss_mb": child.rss_mb}


def run_size(
    size: int, stages: list[str], args: argparse.Namespace, results: Path | None, setup: Path
) -> dict[str, dict]:
    """The stages of one size in a fresh data directory and instance, copies of the seed stages' (`setup`)."""
    with tempfile.TemporaryDirectory(prefix="xcoder-synthesis-full-", dir=setup.parent) as tmp:
        root = Path(tmp)
        shutil.copytree(setup / "home", root / "home")
        shutil.copytree(setup / "data", root / "data")
        if args.examples_dir:  # kept, for a larger size's --examples-from
            examples = Path(args.examples_dir) / f"examples-{size}.jsonl"
            examples.unlink(missing_ok=True)  # this run's configurations make them anew
        else:
            examples = root / "examples.jsonl"
        done: dict[str, dict] = {}
        for stage in stages:
            load_before = load_average()
            row = run_stage_child(stage, size, root, examples, args, args.profile == stage)
            row.update(size=size, stage=stage, load_before=load_before, load_after=load_average())
            row["per_item_s"] = row["seconds"] / max(row["items"], 1)
            done[stage] = row
            note = f" ({row['note']})" if row.get("note") else ""
            print(
                f"  size {size}: {stage} {row['items']} items{note}, {row['seconds']:.1f} s "
                f"({row['per_item_s'] * 1000:.3f} ms per item, CPU {_cpu_ms(row)}), peak RSS {row['rss_mb']:.0f} MB, "
                f"load {row['load_before']} -> {row['load_after']}",
                flush=True,
            )
            if results is not None:
                with results.open("a") as handle:  # one line per finished stage: a partial run keeps its figures
                    handle.write(json.dumps(row) + "\n")
        return done


def run_setup(base: Path, args: argparse.Namespace) -> None:
    """The seed stages, once for all sizes (they do not depend on the size), into base/data and base/home."""
    (base / "home").mkdir()
    (base / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    run_stage_child(SETUP, 0, base, base / "examples.jsonl", args, False)


def _cpu_ms(row: dict) -> str:
    """The stage's CPU milliseconds per item (results of older runs have none)."""
    return f"{row['cpu_s'] * 1000 / max(row['items'], 1):.3f}" if "cpu_s" in row else "n/a"


def report(runs: dict[int, dict[str, dict]]) -> None:
    print("\n| size | stage | items | seconds | ms / item | CPU ms / item | peak RSS MB | load before -> after |")
    print("|---|---|---|---|---|---|---|---|")
    for size, stages in runs.items():
        for stage, r in stages.items():
            note = f" ({r['note']})" if r.get("note") else ""
            print(
                f"| {size} | {stage} | {r['items']}{note} | {r['seconds']:.1f} | {r['per_item_s'] * 1000:.3f} "
                f"| {_cpu_ms(r)} | {r['rss_mb']:.0f} | {r['load_before']} -> {r['load_after']} |"
            )
    sizes = sorted(runs)
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    print(f"\nratios {large} / {small}:")
    print("| stage | items ratio | s / item ratio | CPU s / item ratio | peak RSS ratio |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        a, b = runs[small].get(stage), runs[large].get(stage)
        if a is None or b is None:
            continue
        cpu_ratio = (
            f"{(b['cpu_s'] / max(b['items'], 1)) / (a['cpu_s'] / max(a['items'], 1)):.2f}"
            if a.get("cpu_s") and b.get("cpu_s")
            else "n/a"
        )
        print(
            f"| {stage} | {b['items'] / max(a['items'], 1):.2f} | {b['per_item_s'] / a['per_item_s']:.2f} "
            f"| {cpu_ratio} | {b['rss_mb'] / a['rss_mb']:.2f} |"
        )


# ---- the child: one stage ---------------------------------------------------------------------


def _unbounded_expansions() -> None:
    """Make the simulator's evolution answers grow the pool without a ceiling (this process only): each
    feature an answer adds (not one of the sampled leaves) gets a tag drawn from the request's key."""
    import hashlib

    from xcoder_assets.recipe.pool import near_dup_key
    from xcoder_assets.simulator import evolve

    original = evolve.expand_subtree

    def tagged(subtree, text):
        answer = original(subtree, text)
        tag = hashlib.blake2b(text.encode(), digest_size=3).hexdigest()
        node = subtree
        while isinstance(node, dict) and node:
            node = next(iter(node.values()))
        sampled = {near_dup_key(str(x)) for x in node} if isinstance(node, list) else set()

        def new_names(value):
            return [f"{v} {tag}" for v in value] if isinstance(value, list) else value

        def walk(node):
            out = {}
            for key, value in node.items():
                if isinstance(value, dict):  # a path element: kept
                    out[key] = walk(value)
                elif near_dup_key(key) in sampled:  # a sampled leaf, or its spelling variant (merged): kept
                    out[key] = new_names(value)  # its sub-features (depth) are new
                elif len(key.split()) > 6:  # the over-long "feature" stays the imperfection it is
                    out[key] = value
                else:
                    out[f"{key} {tag}"] = new_names(value)
            return out

        return walk(answer) if isinstance(answer, dict) else answer

    evolve.expand_subtree = tagged


def grow_pool_direct(rounds: int, expansions: int) -> dict:
    """evolved_pool's recipe function (`grow_pool`: the pool, the round checkpoint, parsing) with the simulator
    answering in-process instead of through the gateway, then the table written as the asset writes it."""
    import polars as pl

    from xcoder_assets.llm.gateway import LLMResult
    from xcoder_assets.recipe.evolution import EvolutionSettings, grow_pool, pool_rows
    from xcoder_assets.recipe.prompts import load_template
    from xcoder_assets.simulator.registry import answer
    from xcoder_assets.store.ids import content_hash
    from xcoder_assets.store.parquet import read_parquet, write_table
    from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_TREE

    data = Path(os.environ["XCODER_DATA_DIR"])
    template = load_template("evolve_features")

    def complete(requests):
        out = []
        for request in requests:
            key = content_hash({"messages": request.messages, "template": request.template}, 32)
            content, finish = answer(request.template, list(request.messages), None)
            out.append(
                LLMResult(
                    f"call-{key[:16]}",
                    key,
                    request.role,
                    "simulator",
                    request.template,
                    {},
                    content,
                    "",
                    finish,
                    finish == "length",
                )
            )
        return out

    settings = EvolutionSettings(rounds=rounds, expansions_per_round=expansions)
    tree = read_parquet(FEATURE_TREE.path(data)).iter_rows(named=True)
    grown = grow_pool(
        tree,
        settings,
        template,
        "simulator",
        data / "checkpoints" / "evolved_pool_direct.jsonl",
        complete,
        lambda _: None,
    )
    frame = pl.DataFrame(pool_rows(grown.pool, "synthesis-full"), schema=EVOLVED_POOL.schema)
    write_table(EVOLVED_POOL, frame, data)
    return {"items": frame.height, "rounds": rounds, "llm_requests": len(grown.results)}


def child_main(args: argparse.Namespace) -> None:
    import importlib

    stage, size = args.child, args.size
    if stage not in STAGE_MODULES:
        raise SystemExit(f"synthesis_full: unknown stage {stage!r}")
    out: dict = {}
    started = time.perf_counter()
    # imports (litellm, dagster: seconds on a loaded machine) are start-up, not the stage's work; only the
    # stage's own (a recipe-only stage loads no Dagster)
    for module in STAGE_MODULES[stage]:
        importlib.import_module(module)
    out["import_s"] = time.perf_counter() - started
    examples = Path(args.examples)
    if stage in ("dedup", "decontamination") and not examples.exists():  # the first of them makes them
        if args.examples_from:
            out["examples_made_s"] = write_variants(Path(args.examples_from), examples, size)
            out["examples_from"] = args.examples_from
        else:
            out["examples_made_s"] = write_examples(examples, size)
    if stage == "evolved_pool":
        _unbounded_expansions()
        target = round(size * PAPER_POOL / PAPER_TASKS)
        rounds = max(1, round(target / (args.entries_per_round * args.expansions) + 0.5))

        def work():
            config = {"rounds": rounds, "expansions_per_round": args.expansions}
            meta = materialization_metadata(materialize([stage], {stage: config}, BATCH), stage)
            return {"items": int(meta["dagster/row_count"]), "rounds": rounds, "target_entries": target}
    elif stage == "evolved_pool_recipe":
        _unbounded_expansions()
        target = round(size * PAPER_POOL / PAPER_TASKS)
        rounds = max(1, round(target / (args.entries_per_round * args.expansions) + 0.5))

        def work():
            return grow_pool_direct(rounds, args.expansions)
    elif stage in ("feature_configs", "problems"):

        def work():
            meta = materialization_metadata(materialize([stage], {"feature_configs": {"count": size}}, BATCH), stage)
            extra = {"problems_kept": int(meta.get("problems_kept", 0))} if stage == "problems" else {}
            return {"items": size, **extra, "llm_requests": int(meta.get("llm_requests", 0))}
    elif stage == "decontamination":

        def work():
            return decontaminate(examples, args.chunk)
    elif stage == "dedup":

        def work():
            return dedup(examples, args.plant_every)
    else:  # SETUP

        def work():
            materialize(SETUP.split(","), {}, BATCH)
            return {"items": 0}

    value, seconds, cpu_seconds = timed(work, args.profile_here, tottime=40, cumulative=90)
    out.update(value)
    out.update(seconds=seconds, cpu_s=cpu_seconds)
    finish(Path(args.out), out)


# ---- decontamination: the examples and the check ---------------------------------------------


def _lcb_statements() -> list[str]:
    return [json.loads(line)["question_content"] for line in BUNDLED_LCB.read_text().splitlines() if line.strip()]


class SimulatorStatements:
    """Statements as the problems stage gets them, asked of the simulator directly (no gateway): the
    compose_scenario answer, then the compose_problem answer in a drawn style, rendered as a contestant
    reads it (the raw answer where the simulator's prose or cut-off answer does not parse)."""

    def __init__(self) -> None:
        from xcoder_assets.recipe.prompts import load_template

        self.scenario_t, self.statement_t = load_template("compose_scenario"), load_template("compose_problem")

    def text(self, offered, seed: int, key: str) -> tuple[str, str | None]:
        """The rendered problem, and the statement the problems stage dedups (None: the answer did not parse,
        so that stage would keep no statement)."""
        from xcoder_assets.recipe import composition
        from xcoder_assets.simulator.registry import answer

        style = composition.draw_style(composition.RECIPE_STYLE_PROBABILITIES, seed, key)
        reply = answer(self.scenario_t.id, self.scenario_t.render(features=composition.features_prompt(offered)), seed)
        try:
            scenario = composition.parse_scenario(reply[0], [f.name for f in offered])
            chosen, strategy, story = ", ".join(scenario.selected), scenario.integration_strategy, scenario.scenario
        except composition.CompositionError:  # ask anyway, with the raw answer as the scenario
            chosen, strategy, story = ", ".join(f.name for f in offered[:3]), "combine them", reply[0][:2000]
        prompt = self.statement_t.render(
            style=style, style_guide=composition.STYLE_GUIDES[style], selected=chosen, strategy=strategy, scenario=story
        )
        reply = answer(self.statement_t.id, prompt, seed)
        try:
            statement = composition.parse_statement(reply[0], style)
        except composition.CompositionError:
            return reply[0], None
        return composition.render_problem_markdown(style, statement), statement.statement


def write_examples(path: Path, count: int) -> float:
    """`count` examples (statement + synthesized answer) as JSONL, from this size's feature_configs; seconds.
    Each line: id, text (the rendered problem and the answer program: what decontamination checks) and
    statement (what the problems stage's dedup checks; null where the answer did not parse)."""
    from xcoder_assets.recipe import composition
    from xcoder_assets.recipe.sampling import pool_items_of
    from xcoder_assets.store.parquet import read_parquet
    from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_CONFIGS, batch_dir

    started = time.perf_counter()
    data = Path(os.environ["XCODER_DATA_DIR"])
    items = pool_items_of(read_parquet(EVOLVED_POOL.path(data)).iter_rows(named=True))
    by_id = {i.entry_id: i for i in items}
    configs = read_parquet(FEATURE_CONFIGS.path(batch_dir(data, BATCH)))["feature_ids"].to_list()
    statements = SimulatorStatements()
    lcb = _lcb_statements()
    rng = random.Random(7)
    part = path.with_name(path.name + ".part")
    with part.open("w") as handle:
        for index in range(count):
            if index % 200 == 199:  # planted: a benchmark statement with its numbers changed
                text = " ".join(str(rng.randint(2, 10**6)) if w.isdigit() else w for w in lcb[index % 3].split())
                statement = None  # not a composed statement: the dedup plants its own copies here
            else:
                offered = composition.offered_features(configs[index % len(configs)], by_id)
                # a second pass over the configurations asks with another seed: another statement
                text, statement = statements.text(offered, 1000 + index // len(configs), str(index))
            code = f"import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    print(len(data) * {index})\n\nmain()\n"
            line = {"id": f"ex-{index:07d}", "text": f"{text}\n\n```python\n{code}```", "statement": statement}
            handle.write(json.dumps(line) + "\n")
    os.replace(part, path)
    return time.perf_counter() - started


def write_variants(source: Path, path: Path, count: int) -> float:
    """`count` examples from an earlier run's examples file (`--examples-from`), taken again and again, each
    pass with its longer words renamed (a pass suffix), so that every text is distinct and costs the checks
    what a new statement of that length costs; the planted benchmark copies are kept as they are. Read a
    line at a time, pass after pass: the memory does not grow with either file."""
    import re

    started = time.perf_counter()
    longer = re.compile(r"\b([A-Za-z]{6,})\b")
    part = path.with_name(path.name + ".part")
    index = turn = 0
    with part.open("w") as handle:
        while index < count:
            before = index
            with source.open() as lines:
                for line in lines:
                    if index == count:
                        break
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if "statement" not in row:
                        raise SystemExit(
                            f"synthesis_full: --examples-from {source}: its lines have no statement (made by an "
                            "older synthesis_full): make it again with --examples-dir"
                        )
                    text, statement = row["text"], row["statement"]
                    if turn and index % 200 != 199:
                        text = longer.sub(rf"\1v{turn}", text)
                        statement = longer.sub(rf"\1v{turn}", statement) if statement is not None else None
                    handle.write(json.dumps({"id": f"ex-{index:07d}", "text": text, "statement": statement}) + "\n")
                    index += 1
            if index == before:
                raise SystemExit(f"synthesis_full: --examples-from {source}: no examples in it")
            turn += 1
    os.replace(part, path)
    return time.perf_counter() - started


def benchmark_index():
    """The bundled LiveCodeBench rows (read as `xcoder decontaminate` reads them) and synthetic statements up
    to release v6's size."""
    sys.path.insert(0, str(Path(__file__).parent))
    from dedup_scale import statement, vocabulary

    from xcoder_assets.recipe.decontamination import BenchmarkText, load_benchmark

    real = load_benchmark([BUNDLED_LCB])
    rng = random.Random(11)
    vocab = vocabulary(rng)
    filler = [
        BenchmarkText(f"lcb_synthetic_{i}", "synthetic", " ".join(statement(rng, vocab)))
        for i in range(LCB_V6_PROBLEMS - len(real))
    ]
    return real + filler


def decontaminate(examples: Path, chunk: int) -> dict:
    from xcoder_assets.recipe.decontamination import Decontaminator

    started = time.perf_counter()
    checker = Decontaminator(benchmark_index())
    index_s = time.perf_counter() - started
    flagged = checked = 0
    batch: list[tuple[str, str]] = []

    def check(batch):
        return sum(flag is not None for flag in checker.check_many(batch))

    with examples.open() as handle:
        for line in handle:
            record = json.loads(line)
            batch.append((record["id"], record["text"]))
            if len(batch) == chunk:
                flagged, checked, batch = flagged + check(batch), checked + len(batch), []
    if batch:
        flagged, checked = flagged + check(batch), checked + len(batch)
    planted = checked // 200
    note = f"{flagged} flagged, {planted} planted"
    return {"items": checked, "flagged": flagged, "planted": planted, "index_s": index_s, "note": note}


def dedup(examples: Path, plant_every: int = 100) -> dict:
    """The problems stage's duplicate checks (recipe/composition's ProblemComposer) over the examples'
    statements in order: the exact check (normalized_text_hash, the first kept wins), then the near-duplicate
    check (MinHashIndex at the recipe's threshold; .add indexes a statement or returns its earlier twin).
    Every `plant_every`th statement is a planted copy of one checked shortly before it, alternately near (one
    word changed) and exact but for case (at 100: in place of the examples' benchmark statements); examples
    whose answer did not parse are not checked (the problems stage keeps no statement for them)."""
    from collections import deque

    from xcoder_assets.recipe.composition import CompositionSettings, MinHashIndex, normalized_text_hash

    near = MinHashIndex(threshold=CompositionSettings().near_duplicate_threshold)
    exact: dict[str, str] = {}  # normalized text hash -> the key of the statement kept with it
    recent: deque[str] = deque(maxlen=100)  # the last statements checked: sources of the planted copies
    rng = random.Random(5)
    planted = {"exact": 0, "near": 0}
    found = {"exact": 0, "near": 0}
    planted_found = checked = unparsed = lines = 0
    with examples.open() as handle:
        for position, line in enumerate(handle):
            lines += 1
            record = json.loads(line)
            if "statement" not in record:
                raise SystemExit(f"synthesis_full: {examples}: line {position + 1} has no statement")
            kind = None
            if position % plant_every == plant_every - 1 and recent:
                if (position // plant_every) % 2:
                    kind, text = "exact", recent[len(recent) // 2].upper()
                else:
                    words = recent[0].split()
                    words[rng.randrange(len(words))] = "changed"
                    kind, text = "near", " ".join(words)
                planted[kind] += 1
            elif record["statement"] is None:
                unparsed += 1
                continue
            else:
                text = record["statement"]
                recent.append(text)
            checked += 1
            text_key = normalized_text_hash(text)
            if text_key in exact:
                verdict = "exact"
            elif near.add(record["id"], text) is not None:
                verdict = "near"
            else:
                exact[text_key], verdict = record["id"], None
            if verdict is not None:
                found[verdict] += 1
                planted_found += kind is not None
    total = sum(found.values())
    return {
        "items": checked,
        "configurations": lines,
        "unparsed": unparsed,
        "planted": planted,
        "found": found,
        "planted_found": planted_found,
        "note": (
            f"{total} duplicates found ({found['exact']} exact, {found['near']} near): {planted_found} of the "
            f"{sum(planted.values())} planted ({planted['exact']} exact, {planted['near']} near) + "
            f"{total - planted_found} among the simulator's statements; {unparsed} unparsed not checked"
        ),
    }


# ---- before / after: the per-item overheads removed ------------------------------------------


def _old_signature(index, shingles: set[str]) -> list[int]:
    """The problems dedup's MinHash signature before: a keyed blake2b per shingle and permutation."""
    import hashlib

    salts = getattr(index, "_old_salts", None)
    if salts is None:
        rng = random.Random(7)
        salts = index._old_salts = [rng.getrandbits(64).to_bytes(8, "little") for _ in range(len(index._seeds))]
    encoded = [s.encode() for s in shingles]
    return [
        min(int.from_bytes(hashlib.blake2b(e, digest_size=8, key=salt).digest(), "little") for e in encoded)
        for salt in salts
    ]


class _RebuiltDraws:
    """feature_configs' draws before: every weight of the category's items left rebuilt for each draw."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = list(weights)

    def set(self, index: int, weight: float) -> None:
        self.weights[index] = weight

    def pick(self, rng: random.Random, k: int) -> list[int]:
        rest, picked = list(range(len(self.weights))), []
        while rest and len(picked) < k:
            picked.append(rest.pop(rng.choices(range(len(rest)), weights=[self.weights[i] for i in rest], k=1)[0]))
        return picked


def before_after(statements: int, pools: list[int]) -> None:
    """In one process, the old and the new code on the same input: the problems dedup (MinHashIndex.add over
    simulator statements, with near-copies planted) and the evolution's bookkeeping per round (4 subtree
    draws, sizes per category, the round's entries) at each pool size."""
    from xcoder_assets.recipe import sampling
    from xcoder_assets.recipe.composition import MinHashIndex
    from xcoder_assets.recipe.features import FREE_TEXT_CATEGORIES
    from xcoder_assets.recipe.pool import FeaturePool, WeightedDraws
    from xcoder_assets.recipe.sampling import PoolItem, sample_configs

    from xcoder_assets.recipe.composition import OfferedFeature

    maker = SimulatorStatements()
    texts = []
    for i in range(statements):
        offered = [
            OfferedFeature(f"pool-{i}-a", "algorithms", f"graph algorithms / shortest paths {i}"),
            OfferedFeature(f"pool-{i}-b", "problem_domain", f"city roads {i * 7}"),
            OfferedFeature(f"pool-{i}-c", "data_structures", f"heap {i % 13}"),
        ]
        texts.append(maker.text(offered, 1000, str(i))[0])
    rng = random.Random(3)
    for i in range(0, len(texts), 10):  # a near-copy every 10 statements: one word changed
        words = texts[i].split()
        words[rng.randrange(len(words))] = "changed"
        texts.append(" ".join(words))
    timings, verdicts = {}, {}
    for label in ("before", "after"):
        index = MinHashIndex(threshold=0.8)
        if label == "before":
            index._signature = lambda shingles, index=index: _old_signature(index, shingles)
        started = time.perf_counter()
        verdicts[label] = [index.add(str(i), text) for i, text in enumerate(texts)]
        timings[label] = (time.perf_counter() - started) / len(texts)
    same = sum(a == b for a, b in zip(verdicts["before"], verdicts["after"]))
    print(
        f"problems dedup, {len(texts)} statements: {timings['before'] * 1000:.2f} -> {timings['after'] * 1000:.2f} "
        f"ms per statement (ratio before/after {timings['before'] / timings['after']:.1f}); duplicates found "
        f"{sum(v is not None for v in verdicts['before'])} -> {sum(v is not None for v in verdicts['after'])}, "
        f"same verdict for {same} of {len(texts)}; load {load_average()}"
    )

    def old_round(pool: FeaturePool, number: int) -> None:
        for _ in range(4):
            branches = [(b, e) for b, e in pool.branches().items() if b[0] not in FREE_TEXT_CATEGORIES]
            weights = [len(entries) ** 0.5 for _, entries in branches]
            rng.choices(branches, weights=weights, k=1)
        sizes: dict[str, int] = {}
        for entry in pool.entries:
            sizes[entry.category] = sizes.get(entry.category, 0) + 1
        [e for e in pool.entries if e.origin_round == number]

    def new_round(pool: FeaturePool, number: int) -> None:
        for _ in range(4):
            pool.sample_subtree(rng, 6)
        pool.size_by_category()
        pool.entries_of_round(number)

    for size in pools:
        pool = FeaturePool()
        for n in range(size):  # branches of ~3 entries under 10 categories, as the tagged evolution grows them
            category = ("algorithms", "data_structures", "mathematics", "algorithmic_paradigm")[n % 4]
            pool.add(category, (f"branch {n // 12}",), f"feature {n}", n // 15)
        row = []
        for label, step in (("before", old_round), ("after", new_round)):
            rounds, started = 0, time.perf_counter()
            while rounds < 3 or (rounds < 200 and time.perf_counter() - started < 2.0):
                step(pool, rounds)
                rounds += 1
            row.append((time.perf_counter() - started) / rounds)
        print(
            f"evolution bookkeeping per round at {size} entries ({len(pool.branches())} branches): "
            f"{row[0] * 1000:.2f} -> {row[1] * 1000:.3f} ms (ratio {row[0] / row[1]:.0f}); load {load_average()}"
        )
        items = [PoolItem(f"pool-{n}", e.category, e.path, e.feature) for n, e in enumerate(pool.entries)]
        row, picked = [], []
        for draws in (_RebuiltDraws, WeightedDraws):
            sampling.WeightedDraws = draws  # the name sample_configs draws with
            count = 10 if size <= 20_000 else 3  # before: ~20 s a configuration at 177k entries on a loaded machine
            started = time.perf_counter()
            configs = sample_configs(items, count, seed=42, min_leaves=3)
            row.append((time.perf_counter() - started) / count)
            picked.append([[i.entry_id for i in c.items] for c in configs])
        print(
            f"feature_configs sampling at {size} entries: {row[0] * 1000:.1f} -> {row[1] * 1000:.2f} ms per "
            f"configuration (ratio {row[0] / row[1]:.0f}), the same configurations: {picked[0] == picked[1]}; "
            f"load {load_average()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="19200,192000", help="configurations (= statements = examples) per size")
    parser.add_argument(
        "--stages",
        default="evolved_pool_recipe,feature_configs,decontamination,problems",
        help=f"which stages, in this order, of {','.join(STAGES)}",
    )
    parser.add_argument("--results", help="append each finished stage here as a JSON line")
    parser.add_argument("--work-dir", help="folder for the data directories (default: the system's temp folder)")
    parser.add_argument(
        "--entries-per-expansion",
        dest="entries_per_round",
        type=float,
        default=2.2,
        help="expected pool growth per expansion (the tagged simulator adds ~2.2): sets the rounds",
    )
    parser.add_argument("--expansions", type=int, default=16, help="evolved_pool expansions per round (the recipe's 4)")
    parser.add_argument("--chunk", type=int, default=1000, help="examples per decontamination chunk")
    parser.add_argument(
        "--examples-from",
        metavar="FILE",
        help="dedup and decontaminate renamed variants of this examples file (a smaller size's, from "
        "--examples-dir) instead of new statements",
    )
    parser.add_argument(
        "--plant-every",
        type=int,
        default=100,
        metavar="N",
        help="dedup: every Nth statement a planted copy of an earlier one (alternately near and exact)",
    )
    parser.add_argument(
        "--examples-dir",
        metavar="DIR",
        help="keep each size's examples (statements) here as examples-SIZE.jsonl, for a later --examples-from",
    )
    parser.add_argument("--profile", choices=STAGES, help="print a cProfile of this stage")
    parser.add_argument(
        "--before-after",
        metavar="STATEMENTS",
        type=int,
        help="instead of the stages: the removed per-item overheads, old code against new in one process",
    )
    parser.add_argument("--report", metavar="FILES", help="print the tables of --results files (comma-separated)")
    parser.add_argument("--before-after-pools", default="17700,177000", help="pool sizes of --before-after")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--examples", help=argparse.SUPPRESS)
    parser.add_argument("--profile-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    if args.report:  # the tables of earlier runs' --results files (sizes run apart, or a partial run)
        runs: dict[int, dict[str, dict]] = {}
        for name in args.report.split(","):
            try:
                rows = [json.loads(line) for line in Path(name).read_text().splitlines() if line.strip()]
            except (OSError, ValueError) as exc:
                raise SystemExit(f"synthesis_full: --report: cannot read {name}: {exc}") from None
            for row in rows:
                runs.setdefault(row["size"], {})[row["stage"]] = row
        report(dict(sorted(runs.items())))
        return
    if args.before_after:
        before_after(args.before_after, [int(n) for n in args.before_after_pools.split(",")])
        return
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"synthesis_full: --stages: unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    # the stages read what the earlier ones wrote
    pools = ("evolved_pool", "evolved_pool_recipe")
    needed = {"feature_configs": pools, "problems": ("feature_configs",)}
    if not args.examples_from:
        needed["decontamination"] = needed["dedup"] = ("feature_configs",)
    for stage in stages:
        if stage in needed and not set(needed[stage]) & set(stages):
            raise SystemExit(
                f"synthesis_full: --stages: {stage} needs {' or '.join(needed[stage])} (it reads its table)"
            )
    if args.plant_every < 2:
        raise SystemExit(f"synthesis_full: --plant-every must be 2 or more, got {args.plant_every}")
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        raise SystemExit(f"synthesis_full: --sizes must be integers separated by commas, got {args.sizes!r}") from None
    results = Path(args.results) if args.results else None
    print(f"load average at start: {load_average()}", flush=True)
    for folder in (args.examples_dir, args.work_dir):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="xcoder-synthesis-full-", dir=args.work_dir) as tmp:
        setup = Path(tmp) / "setup"
        setup.mkdir()
        run_setup(setup, args)
        for size in sizes:
            print(f"size {size}: ...", flush=True)
            runs[size] = run_size(size, stages, args, results, setup)
    report(runs)


if __name__ == "__main__":
    main()
