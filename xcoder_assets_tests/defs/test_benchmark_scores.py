"""benchmark_scores materialized on the bundled LiveCodeBench rows with the offline simulator: its calls go
through the llm resource's one gateway (the shared cache, the usage log, budgets), as every asset's do."""

import dagster as dg
import polars as pl

from xcoder_assets.defs.benchmark import benchmark_scores, lcb_problems
from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
from xcoder_assets.store.tables import BENCHMARK_SAMPLES, BENCHMARK_SUMMARY
from xcoder_assets.store.warehouse import read_usage_log


def _score(data_dir):
    return dg.materialize(
        [lcb_problems, benchmark_scores],
        resources={
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(workers=2),
        },
        run_config={"ops": {"benchmark_scores": {"config": {"n": 2}}}},
    )


def test_scores_go_through_the_resources_gateway_and_its_cache(tmp_path, bwrap_backend):
    data_dir = tmp_path / "data"
    first = _score(data_dir)
    assert first.success
    samples = pl.read_parquet(BENCHMARK_SAMPLES.path(data_dir))
    assert samples.height == 3 * 2 and set(samples["sample"]) == {0, 1}
    overall = pl.read_parquet(BENCHMARK_SUMMARY.path(data_dir)).filter(pl.col("group") == "overall")
    assert overall.height == 1 and overall["problems"][0] == 3
    usage = read_usage_log(data_dir).filter(pl.col("asset") == "benchmark_scores")
    assert usage.height == 6 and usage["run_id"].unique().to_list() == [first.run_id]
    # the same evaluation again: every answer from the shared cache, the scores unchanged
    second = _score(data_dir)
    assert second.success
    again = read_usage_log(data_dir).filter(pl.col("run_id") == second.run_id)
    assert again.height == 6 and again["cache_hit"].all()
    assert pl.read_parquet(BENCHMARK_SAMPLES.path(data_dir))["passed"].to_list() == samples["passed"].to_list()
