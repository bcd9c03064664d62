"""What the assets put in the UI's markdown: model-written text inert (rendered with markdown-it, as
store/test_render.py does), and paths short enough for the metadata table."""

import json

import polars as pl
from markdown_it import MarkdownIt

from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.defs.synthesis import _problem_metadata
from xcoder_assets.recipe.composition import ProblemsTally
from xcoder_assets.present import lineage_view
from xcoder_assets.store.tables import PROBLEMS

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = "![x](http://127.0.0.1:9/x.png) [l](http://127.0.0.1:9/l) <img src=http://127.0.0.1:9/r.png>"


def _inert(markdown: str) -> str:
    rendered = MD.render(markdown)
    assert "<img" not in rendered and "<a " not in rendered, rendered
    return rendered


def test_lineage_of_a_row_keeps_model_text_inert():
    chain = [
        {
            "row_id": "prob-00000000000000aa",
            "asset": "problems",
            "depth": 0,
            "summary": f"title {HOSTILE}",
            "parent_ids": ["cfg-00000000000000bb"],
            "llm_call_ids": ["call-00000000000000cc"],
            "run_id": "r1",
        }
    ]
    answer = f"```\n{HOSTILE}\n```\nafter the break-out {HOSTILE}\n````"
    calls = {
        "call-00000000000000cc": {
            "template": "compose_problem@v1",
            "asset": "problems",
            "role": "compose",
            "model": f"m {HOSTILE}",
            "cache_hit": False,
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "finish_reason": "stop",
            "error": f"bad answer: {HOSTILE}",
            "request_json": json.dumps({"messages": [{"role": "user", "content": f"prompt ```\n{HOSTILE}"}]}),
            "reasoning": f"think ``` {HOSTILE}",
            "content": answer,
        }
    }
    lineage = lineage_view.lineage_of("prob-00000000000000aa", chain, calls)
    options = lineage_view.Options(view="full")
    rendered = _inert(lineage_view.render(lineage, lineage_view.MarkdownWriter(), options))
    assert "<code>compose_problem@v1</code>" in rendered
    assert rendered.count("<pre>") == 3  # prompt, reasoning, answer: each one block, whatever it holds


def test_sample_problem_and_kept_problems_keep_model_text_inert():
    row = {name: None for name in PROBLEMS.schema.names()}
    row.update(
        problem_id="prob-00000000000000aa",
        status="ok",
        style="codeforces",
        title=HOSTILE,
        statement=HOSTILE,
        input_format="",
        output_format="",
        constraints="",
        examples_json=json.dumps([{"input": f"```\n{HOSTILE}\n```", "output": "1"}]),
        feature_ids=[],
    )
    tally = ProblemsTally()  # the stage's metadata is counted as its rows are written
    tally.add([row])
    metadata = _problem_metadata(tally)
    _inert(metadata["kept_problems"].value)
    assert _inert(metadata["sample_problem"].value).count("<pre>") == 2


def test_paths_in_metadata_are_relative_to_the_data_directory(tmp_path):
    storage = StorageResource(data_dir=str(tmp_path / "data"))
    folder = storage.batch("demo")
    metadata = folder.path_metadata("lcb_problems", folder.root / "lcb" / "verified_problems.jsonl")
    assert metadata["lcb_problems"].value == "batches/batch=demo/lcb/verified_problems.jsonl"
    assert metadata["data_dir"].value == str((tmp_path / "data").resolve())
    written = storage.write_table(PROBLEMS, pl.DataFrame(schema=PROBLEMS.schema))
    assert written["path"].value == "problems.parquet" and written["data_dir"] == metadata["data_dir"]
