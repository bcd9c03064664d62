"""The synthesis stages as recipe functions, given "complete these requests" as an argument (here the offline
simulator answering in-process, no gateway and no Dagster): what evolved_pool, problems and features call."""

import hashlib
from pathlib import Path

import pytest

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.evolution import EvolutionSettings, grow_pool, pool_rows
from xcoder_assets.recipe.features import extract_features
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.seeds import BUNDLED_SEEDS, SeedLoadError, load_seeds, load_usable_seeds, seed_rows
from xcoder_assets.simulator.registry import answer


class SimulatedLLM:
    """Answers every request with the offline simulator (keyed by the template id); counts what it was asked."""

    def __init__(self) -> None:
        self.asked: list[LLMRequest] = []
        self.meters: list[str] = []

    def complete(self, requests: list[LLMRequest]) -> list[LLMResult]:
        self.asked += requests
        results = []
        for request in requests:
            content, finish = answer(request.template, list(request.messages), request.seed)
            # the same request, the same id (a gateway's call ids are its cache keys')
            call_id = "call-" + hashlib.sha256(repr((request.messages, request.seed)).encode()).hexdigest()[:16]
            results.append(
                LLMResult(
                    call_id, call_id, request.role, "offline", request.template, {}, content, finish_reason=finish
                )
            )
        return results

    def ask(self, requests: list[LLMRequest], meter) -> list[LLMResult]:
        # a stage's one meter, or the chunk's part of its StageProgress
        self.meters.append(meter.label if hasattr(meter, "label") else meter.stage.meter.label)
        return self.complete(requests)


def _tree() -> list[dict]:
    leaves = [
        ("algorithms", ("graph",), "breadth-first search"),
        ("algorithms", ("sorting",), "merge sort"),
        ("data_structures", ("linear",), "stack"),
        ("data_structures", ("tree",), "segment tree"),
        ("algorithmic_paradigm", (), "dynamic programming"),
        ("mathematical_foundations", ("number theory",), "modular arithmetic"),
    ]
    return [
        {"node_id": f"node-{i:016x}", "category": c, "path": list(p), "feature": f}
        for i, (c, p, f) in enumerate(leaves)
    ]


def test_grow_pool_evolves_then_resumes_from_its_checkpoint(tmp_path: Path):
    template, llm, logged = load_template("evolve_features"), SimulatedLLM(), []
    checkpoint = tmp_path / "checkpoints" / "evolved_pool.jsonl"
    first = grow_pool(
        _tree(),
        EvolutionSettings(rounds=3, expansions_per_round=2),
        template,
        "m",
        checkpoint,
        llm.complete,
        logged.append,
    )
    assert len(first.reports) == 3 and first.resumed_after == 0 and len(llm.asked) == 6
    assert len(first.pool) > len(_tree()) and len(first.calls) == 6 and len(first.results) == 6

    # two more rounds: the three done are replayed from the checkpoint, only the new ones are asked
    again = SimulatedLLM()
    more = grow_pool(
        _tree(),
        EvolutionSettings(rounds=5, expansions_per_round=2),
        template,
        "m",
        checkpoint,
        again.complete,
        logged.append,
    )
    assert more.resumed_after == 3 and more.replayed_calls == 6 and len(again.asked) == 4
    assert len(more.reports) == 5 and len(more.calls) == 10 and len(more.results) == 4
    assert any("resuming evolution after round 3" in line for line in logged)
    fresh = grow_pool(
        _tree(),
        EvolutionSettings(rounds=5, expansions_per_round=2),
        template,
        "m",
        tmp_path / "other.jsonl",
        SimulatedLLM().complete,
        print,
    )
    assert pool_rows(fresh.pool, "r") == pool_rows(more.pool, "r")  # resuming grows the same pool

    # another model is another evolution: the checkpoint is not continued
    other = SimulatedLLM()
    grow_pool(
        _tree(),
        EvolutionSettings(rounds=2, expansions_per_round=2),
        template,
        "other",
        checkpoint,
        other.complete,
        print,
    )
    assert len(other.asked) == 4


def test_extract_features_gives_a_row_per_seed_in_order():
    records, _ = load_seeds([BUNDLED_SEEDS], limit=4)
    seeds, _ = seed_rows(records, "run")
    llm = SimulatedLLM()
    rows, results = extract_features(seeds, load_template("extract_features"), "run", llm.ask, print)
    assert [r["seed_id"] for r in rows] == [s["seed_id"] for s in seeds] and len(results) == len(seeds)
    assert llm.meters == ["features: LLM calls"]
    assert [r["llm_call_id"] for r in rows] == [r.call_id for r in results]


def test_load_usable_seeds_refuses_bad_records_unless_told_and_nothing_usable(tmp_path: Path):
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"question": "q"}\nnot json\n', encoding="utf-8")
    with pytest.raises(SeedLoadError, match="2 bad seed record"):
        load_usable_seeds([str(bad)], None, "train", None, skip_bad_records=False)
    with pytest.raises(SeedLoadError, match="no usable seed records"):
        load_usable_seeds([str(bad)], None, "train", None, skip_bad_records=True)
    records, rejects = load_usable_seeds([str(BUNDLED_SEEDS), str(bad)], None, "train", None, skip_bad_records=True)
    assert records and len(rejects) == 2
