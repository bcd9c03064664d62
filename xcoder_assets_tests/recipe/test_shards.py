"""training_shards' recipe: examples, their fates, the files in each format, determinism, mixtures."""

import json
import re

import polars as pl
import pytest

from xcoder_assets.recipe import shards
from xcoder_assets.recipe.candidates import prompt_values
from xcoder_assets.recipe.composition import problem_question
from xcoder_assets.recipe.decontamination import BenchmarkText, Decontaminator
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.shard_manifest import ManifestError

TOPICS = [
    "rooks on a chessboard",
    "trains between stations",
    "coins in a row of boxes",
    "lanterns on a street",
    "bridges over a river",
    "tickets at a concert",
    "robots on a conveyor",
    "bees visiting flowers",
    "letters in a mailbox",
    "towers of colored blocks",
    "a library of shelves",
    "sensors along a pipeline",
]


def problem(i, style="codeforces", statement=None):
    functional = style == "leetcode"
    return {
        "problem_id": f"prob-{i:016x}",
        "style": style,
        "title": f"Problem {i}",
        "statement": statement
        or (
            f"There are {TOPICS[i % len(TOPICS)]} numbered in order, and problem number "
            f"{i} asks about the {TOPICS[(i * 5 + 1) % len(TOPICS)]} with a twist "
            f"called variant{i} that nobody else uses in puzzle{i * 7}."
        ),
        "input_format": "" if functional else "One line with an integer.",
        "output_format": "" if functional else "One integer.",
        "constraints": "1 <= n <= 100",
        "examples_json": json.dumps([{"input": "3\n", "output": "6\n"}]),
        "function_name": "solve" if functional else None,
        "signature": "def solve(n)" if functional else None,
        "starter_code": "class Solution:\n    def solve(self, n: int) -> int:\n        " if functional else None,
    }


def source(p, sample, golden, code, reasoning="I think about it."):
    template = load_template("solve")
    system, user = template.render(**prompt_values(p, problem_question(p)))
    return shards.SourceExample(
        verified_id=f"ver-{sample:04x}{int(p['problem_id'][-12:], 16):012x}",
        problem_id=p["problem_id"],
        candidate_id=f"cand-{sample}",
        is_golden=golden,
        sample_index=sample,
        style=p["style"],
        question=problem_question(p),
        system=system["content"],
        prompt=user["content"],
        reasoning=reasoning,
        code=code,
    )


def code_of(i, variant=0):
    return f"def main():\n    n = int(input())\n    print(n * {i + 2} + {variant})\n\nmain()\n"


def dataset():
    problems = [problem(i, ["codeforces", "leetcode", "atcoder"][i % 3]) for i in range(12)]
    sources = []
    for i, p in enumerate(problems):
        sources += [
            source(p, 0, True, code_of(i)),
            source(p, 1, False, code_of(i, 1)),
            source(p, 2, False, code_of(i)),
        ]  # sample 2 repeats the golden program: an exact duplicate
    copy = problem(12, statement=problems[0]["statement"])  # another id, the same statement as problem 0
    problems.append(copy)
    sources.append(source(copy, 0, True, code_of(0, 9)))
    return {p["problem_id"]: p for p in problems}, sources


def no_benchmark():
    return Decontaminator([BenchmarkText("unrelated", "t", "Print the sum of two integers given on one line.")])


def test_the_prompt_is_the_solve_template_as_candidate_solutions_rendered_it():
    problems, sources = dataset()
    p = next(iter(problems.values()))
    messages = shards.prompt_messages(p, load_template("solve"))
    assert messages == load_template("solve").render(**prompt_values(p, problem_question(p)))
    assert messages[1]["content"].startswith("### Question:\n# Problem 0")
    assert "### Format: Read the inputs from stdin" in messages[1]["content"]


def test_fates_duplicates_and_selection():
    problems, sources = dataset()
    plan = shards.plan_examples(sources, shards.ShardSettings(validation_share=0.0), no_benchmark())
    by = {(o.source.problem_id, o.source.sample_index): o for o in plan.outcomes}
    copy = by[("prob-000000000000000c", 0)]
    assert (copy.status, copy.reason, copy.duplicate_of) == (
        "duplicate",
        "exact_duplicate_problem",
        "prob-0000000000000000",
    )
    repeat = by[("prob-0000000000000001", 2)]
    assert (repeat.status, repeat.reason) == ("duplicate", "exact_duplicate_solution")
    assert repeat.duplicate_of == by[("prob-0000000000000001", 0)].example_id
    assert sum(o.status == "kept" for o in plan.outcomes) == 24  # 12 problems x 2 distinct programs
    golden = shards.plan_examples(sources, shards.ShardSettings(keep="golden"), no_benchmark())
    assert {o.source.is_golden for o in golden.kept()} == {True} and len(golden.kept()) == 12
    capped = shards.plan_examples(sources, shards.ShardSettings(max_per_problem=1), no_benchmark())
    assert len(capped.kept()) == 12
    assert any(o.reason == "beyond max_per_problem=1" for o in capped.outcomes)


def test_contaminated_problem_is_a_row_and_never_kept():
    problems, sources = dataset()
    target = problems["prob-0000000000000004"]
    benchmark = Decontaminator([BenchmarkText("lcb_42", "release_v6", target["statement"].replace("4", "9"))])
    plan = shards.plan_examples(sources, shards.ShardSettings(), benchmark)
    flagged = [o for o in plan.outcomes if o.flag is not None]
    assert {o.source.problem_id for o in flagged} == {"prob-0000000000000004"}
    assert {o.status for o in flagged} <= {"contaminated", "duplicate"} and flagged[0].flag.benchmark_id == "lcb_42"
    assert all(o.source.problem_id != "prob-0000000000000004" for o in plan.kept())


def test_style_mix_keeps_the_shares():
    problems, sources = dataset()
    settings = shards.ShardSettings(style_mix={"codeforces": 0.5, "leetcode": 0.25, "atcoder": 0.25})
    plan = shards.plan_examples(sources, settings, no_benchmark())
    styles = {}
    for o in plan.kept():
        styles.setdefault(o.source.style, set()).add(o.source.problem_id)
    assert {s: len(p) for s, p in styles.items()} == {"codeforces": 4, "leetcode": 2, "atcoder": 2}
    assert any(o.reason and o.reason.startswith("style_mix") for o in plan.outcomes)


def test_split_is_stable_by_problem_and_never_straddles():
    problems, sources = dataset()
    plan = shards.plan_examples(sources, shards.ShardSettings(validation_share=0.3), no_benchmark())
    splits = {}
    for o in plan.outcomes:
        splits.setdefault(o.source.problem_id, set()).add(o.split)
        assert o.split == shards.split_of(o.source.problem_id, 0.3)
    assert all(len(s) == 1 for s in splits.values())
    assert shards.split_of("prob-0000000000000001", 0.3) == shards.split_of("prob-0000000000000001", 0.3)


def build(folder, settings):
    problems, sources = dataset()
    plan = shards.plan_examples(sources, settings, no_benchmark())
    examples = [shards.example_of(o, settings.include_system) for o in plan.kept()]
    tests = {pid: (("3\n", "6\n"), ("5\n", "10\n")) for pid in problems}
    rl, missing = shards.rl_problems(plan.kept(), problems, tests)
    counter = shards.load_token_counter(settings.tokenizer)
    created = {"verified_solutions": {"rows": len(sources)}}
    version = shards.shards_version(settings, created, counter.name)
    return shards.write_layout(folder / version, version, examples, rl, settings, counter, created), folder / version


def test_shards_parse_in_each_format_and_match_the_manifest(tmp_path):
    manifest, folder = build(tmp_path, shards.ShardSettings(validation_share=0.25, shard_size=7))
    assert shards.verify_manifest(folder) == manifest
    assert manifest["tokenizer"]["kind"] == "estimate" and "estimate" in manifest["tokenizer"]["name"]
    formats = {(f["format"], f["container"]) for f in manifest["files"]}
    assert formats == {(f, c) for f in shards.FORMATS for c in shards.CONTAINERS}
    assert max(f["rows"] for f in manifest["files"]) == 7 and min(f["rows"] for f in manifest["files"]) > 0
    for entry in manifest["files"]:
        path = folder / entry["path"]
        rows = (
            [json.loads(line) for line in path.read_text().splitlines()]
            if entry["container"] == "jsonl"
            else pl.read_parquet(path).to_dicts()
        )
        assert len(rows) == entry["rows"]
        assert re.fullmatch(
            rf"(sft/{entry['format']}|rl)/{entry['split']}-\d{{5}}\.{entry['container']}",
            entry["path"].replace("sft/rl", "rl"),
        ), entry["path"]
        for row in rows:
            assert row["example_id"] and row["problem_id"].startswith("prob-")
            if entry["format"] == "messages":
                assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
                answer = row["messages"][2]["content"]
                assert answer.startswith("<think>\nI think about it.\n</think>\n\n```python\n") and answer.endswith(
                    "```"
                )
                assert row["messages"][1]["content"].startswith("### Question:")
            elif entry["format"] == "query_response":
                assert row["query"].startswith("### Question:") and "```python" in row["response"]
            elif entry["format"] == "sharegpt":
                assert [c["from"] for c in row["conversations"]] == ["human", "gpt"]
            else:
                assert row["prompt"][0]["role"] == "user" and row["mode"] in ("stdin", "functional")
                assert row["tests"] == [{"input": "3\n", "output": "6\n"}, {"input": "5\n", "output": "10\n"}]
                assert row["reward"] == shards.REWARD
                assert (row["func_name"] == "solve") == (row["mode"] == "functional")
    jsonl = {f["path"]: f for f in manifest["files"] if f["container"] == "jsonl"}
    assert sum(f["rows"] for p, f in jsonl.items() if p.startswith("sft/messages")) == 24
    # a tampered file is one clear error naming it
    first = folder / manifest["files"][0]["path"]
    first.write_bytes(first.read_bytes() + b"\n")
    with pytest.raises(shards.ShardInputError, match=str(first.name)):
        shards.verify_manifest(folder)


def test_same_inputs_write_identical_bytes(tmp_path):
    settings = shards.ShardSettings(shard_size=5)
    one, folder_one = build(tmp_path / "a", settings)
    two, folder_two = build(tmp_path / "b", settings)
    assert one == two and folder_one.name == folder_two.name
    assert (folder_one / "manifest.json").read_bytes() == (folder_two / "manifest.json").read_bytes()
    other, folder_other = build(tmp_path / "c", shards.ShardSettings(shard_size=5, include_reasoning=False))
    assert folder_other.name != folder_one.name
    assert {f["sha256"] for f in other["files"]} != {f["sha256"] for f in one["files"]}


def test_without_reasoning_or_system(tmp_path):
    manifest, folder = build(tmp_path, shards.ShardSettings(include_reasoning=False, include_system=False))
    row = json.loads((folder / "sft/messages/train-00000.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"].startswith("```python\n")
    qr = json.loads((folder / "sft/query_response/train-00000.jsonl").read_text().splitlines()[0])
    assert set(qr) == {"example_id", "problem_id", "query", "response"}


def test_mixtures_are_nested():
    problems, sources = dataset()
    plan = shards.plan_examples(sources, shards.ShardSettings(validation_share=0.2), no_benchmark())
    examples = [shards.example_of(o, True) for o in plan.kept()]
    sets = {}
    for share in (0.25, 0.5, 1.0):
        for k in (1, 2):
            subset, _ = shards.mixture(examples, [], shards.MixtureSpec(share, k))
            sets[(share, k)] = {e.example_id for e in subset if e.split == "train"}
            per_task = {}
            for e in subset:
                if e.split == "train":
                    per_task[e.problem_id] = per_task.get(e.problem_id, 0) + 1
            assert max(per_task.values()) <= k
    for a in sets:
        for b in sets:
            if a[0] <= b[0] and a[1] <= b[1]:
                assert sets[a] <= sets[b], (a, b)
    assert len(sets[(0.25, 1)]) < len(sets[(1.0, 1)]) < len(sets[(1.0, 2)])
    with pytest.raises(shards.ShardInputError, match="task share"):
        shards.MixtureSpec(0.0, 1)


def test_a_tokenizer_that_cannot_be_loaded_is_one_message_naming_the_setting(tmp_path):
    with pytest.raises(shards.ShardInputError, match=r"setting tokenizer=.*no-such-tokenizer"):
        shards.load_token_counter(str(tmp_path / "no-such-tokenizer"))


def test_a_local_tokenizer_counts_tokens(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["print the answer", "read the input"], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    counter = shards.load_token_counter(str(tmp_path))
    assert counter.kind == "huggingface" and counter.count("print the answer now") == 4


def test_bad_settings_name_the_setting():
    with pytest.raises(shards.ShardInputError, match="setting keep"):
        shards.ShardSettings(keep="some")
    with pytest.raises(shards.ShardInputError, match="setting containers"):
        shards.ShardSettings(containers=("csv",))
    with pytest.raises(shards.ShardInputError, match="setting shard_size"):
        shards.ShardSettings(shard_size=0)


def test_a_mixture_is_a_manifest_of_ids_and_hashes_that_resolves_to_the_shard_rows(tmp_path):
    settings = shards.ShardSettings(validation_share=0.25, shard_size=5)
    problems, sources = dataset()
    plan = shards.plan_examples(sources, settings, no_benchmark())
    examples = [shards.example_of(o, settings.include_system) for o in plan.kept()]
    rl, _ = shards.rl_problems(plan.kept(), problems, {pid: (("3\n", "6\n"),) for pid in problems})
    counter = shards.load_token_counter(None)
    created = {"verified_solutions": {"rows": len(sources)}}
    version = shards.shards_version(settings, created, counter.name)
    shards_folder = tmp_path / "training_shards" / version
    manifest = shards.write_layout(shards_folder, version, examples, rl, settings, counter, created)
    tokens = {
        **{
            e.example_id: counter.count(e.system or "") + counter.count(e.prompt) + counter.count(e.response)
            for e in examples
        },
        **{p.example_id: counter.count(p.prompt) for p in rl},
    }
    spec = shards.MixtureSpec(0.5, 1)
    subset, rl_subset = shards.mixture(examples, rl, spec)
    out = tmp_path / "training_mixtures" / version / spec.name
    (out / "sft").mkdir(parents=True)
    (out / "sft" / "stale.jsonl").write_text("a copy an earlier layout left\n")
    file_ids = shards.shard_file_ids(shards_folder, manifest)
    mix = shards.write_mixture(out, shards_folder, manifest, file_ids, spec, subset, rl_subset, tokens)

    assert [p.name for p in out.rglob("*")] == ["manifest.json"]  # the rows stay in the shards folder
    assert mix["shards_dir"] == f"../../../training_shards/{version}" and shards.verify_mixture(out) == mix
    chosen = {e.example_id for e in subset} | {p.example_id for p in rl_subset}
    for entry in manifest["files"]:
        path = shards_folder / entry["path"]
        rows = (
            [json.loads(line) for line in path.read_text().splitlines()]
            if entry["container"] == "jsonl"
            else pl.read_parquet(path).to_dicts()
        )
        expected = [r for r in rows if r["example_id"] in chosen]
        got = shards.mixture_rows(out, entry["format"], entry["split"], entry["container"])
        # shard_size 5 spreads a split over several files: compare this file's part of it
        assert [r for r in got if r["example_id"] in {x["example_id"] for x in rows}] == expected, entry["path"]
    train = shards.mixture_rows(out, "messages", "train")
    assert [r["example_id"] for r in train] == mix["ids"]["sft"]["train"]
    assert {r["example_id"] for r in train} == {e.example_id for e in subset if e.split == "train"}
    assert {r["example_id"] for r in shards.mixture_rows(out, "rl", "validation")} == {
        p.example_id for p in rl_subset if p.split == "validation"
    }
    assert mix["totals"]["tokens"]["sft_train"] == sum(tokens[i] for i in mix["ids"]["sft"]["train"])
    # a reader verifies the files it reads: a changed RL file fails the RL rows, not the messages rows
    rl_entry = next(e for e in manifest["files"] if e["format"] == "rl")
    rl_file = shards_folder / rl_entry["path"]
    rl_file.write_bytes(rl_file.read_bytes() + b"\n")
    assert shards.mixture_rows(out, "messages", "train") == train
    with pytest.raises(ManifestError, match=r"sha256 .* does not match"):
        shards.mixture_rows(out, "rl", rl_entry["split"], rl_entry["container"])
    rl_file.write_bytes(rl_file.read_bytes()[:-1])
    whole = shards.write_mixture(
        tmp_path / "whole", shards_folder, manifest, file_ids, shards.MixtureSpec(1.0, 8), examples, rl, tokens
    )
    assert whole["totals"]["tokens"] == manifest["totals"]["tokens"]
    assert whole["totals"]["examples"] == manifest["totals"]["examples"]

    # a changed shard file, or a manifest pointing outside the shards folder, is one error naming it
    (out / "manifest.json").write_text(
        (out / "manifest.json").read_text().replace('"sft/messages/train-00000.jsonl"', '"../../x/train.jsonl"', 1)
    )
    with pytest.raises(shards.ShardInputError, match="lies outside the shards folder"):
        shards.mixture_rows(out, "messages", "train")
    shards.write_mixture(out, shards_folder, manifest, file_ids, spec, subset, rl_subset, tokens)
    first = shards_folder / mix["files"][0]["path"]
    first.write_bytes(first.read_bytes() + b"\n")
    with pytest.raises(shards.ShardInputError, match=first.name):
        shards.mixture_rows(out, "messages", "train")
