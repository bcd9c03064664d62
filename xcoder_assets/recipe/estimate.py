"""What materializing some assets would cost: requests to send (after the cache), tokens, price, USD.

Per asset and template: the requests it would send. Where the asset's inputs exist the requests are
built exactly as the asset builds them and looked up in the response cache (`exact`); where they do
not (or depend on answers not given yet), the count comes from the upstream sizes and the run config,
and the row says so (`basis`). Tokens per request: given on the command line, else this data
directory's history for the template and model (mean of the answered requests), else the history of
the template with another model, else the prompts' length (4 characters a token) and the role's
max_tokens (an upper bound); each row names which. Prices: the role's override (XCODER_PRICE_<ROLE>)
or litellm's price map, the batch price for a role with `batch: true`.

No Dagster here: the `xcoder estimate` command resolves the selection and the assets' run config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from xcoder_assets.llm.cache import CACHE_FILE, ResponseCache
from xcoder_assets.llm.gateway import LLMRequest, request_key
from xcoder_assets.llm.pricing import Price
from xcoder_assets.llm.settings import RoleSettings
from xcoder_assets.store.sqlstore import cache_location, describe

CHARS_PER_TOKEN = 4  # for prompts counted from their text, and for templates without history
READ_ROWS = 2048  # rows read from an input table at once: memory bounded whatever its size

# The assets' templates (defs/ names them too; a test holds the two together).
EXTRACT_TEMPLATE = "extract_features"
EVOLVE_TEMPLATE = "evolve_features"
SCENARIO_TEMPLATE = "compose_scenario"
STATEMENT_TEMPLATE = "compose_problem"
TESTS_TEMPLATE = "write_tests"
SOLVE_TEMPLATE = "solve"


@dataclass(frozen=True)
class Planned:
    """The requests one asset would make with one template."""

    asset: str
    role: str
    template: str  # template id, name@vN
    requests: int  # to send (after the cache where exact)
    cached: int = 0  # built requests the cache already answers (exact only)
    exact: bool = False
    basis: str = ""
    prompt_chars: int | None = None  # of the requests to send, when exact


@dataclass(frozen=True)
class TokenFigures:
    prompt: float  # per request
    completion: float
    basis: str


@dataclass(frozen=True)
class EstimateRow:
    asset: str
    role: str
    model: str
    template: str
    requests: int
    cached: int
    prompt_tokens: float  # per request
    completion_tokens: float
    tokens_basis: str
    price: Price
    batch: bool
    usd: float
    basis: str
    exact: bool = False  # requests built from the inputs and looked up in the cache

    @property
    def tokens(self) -> float:
        return self.requests * (self.prompt_tokens + self.completion_tokens)


@dataclass
class Estimate:
    rows: list[EstimateRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usd(self) -> float:
        return sum(r.usd for r in self.rows)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rows)

    @property
    def tokens(self) -> int:
        return int(round(sum(r.tokens for r in self.rows)))

    def summary(self) -> str:
        return f"estimated cost: ${self.usd:,.2f} (requests {self.requests:,}, tokens {self.tokens:,})"

    HEADER = (
        "asset",
        "role",
        "model",
        "template",
        "requests",
        "cached",
        "prompt/req",
        "compl/req",
        "$/M in/out",
        "USD",
    )

    @staticmethod
    def cells(r: EstimateRow) -> tuple[str, ...]:
        """A row's figures as shown (the terminal's table and the UI's), one per HEADER column."""
        return (
            r.asset,
            r.role,
            r.model + (" (batch)" if r.batch else ""),
            r.template,
            f"{r.requests:,}",
            f"{r.cached:,}",
            f"{r.prompt_tokens:,.0f}",
            f"{r.completion_tokens:,.0f}",
            r.price.per_million(r.batch),
            f"{r.usd:,.4f}",
        )

    def basis_lines(self) -> list[str]:
        """Where each row's figures come from, then the notes."""
        lines = [
            f"{r.asset} / {r.template}: requests {r.basis}; tokens {r.tokens_basis}; price {r.price.source}"
            for r in self.rows
        ]
        return lines + self.notes

    def render(self) -> str:
        lines = [self.HEADER, *(self.cells(r) for r in self.rows)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(self.HEADER))]
        out = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
        out.append("")
        out.extend(self.basis_lines())
        out.append(self.summary())
        return "\n".join(out)

    def metadata(self) -> dict[str, Any]:
        """The figures as plain values (for a UI's metadata, JSON)."""
        return {
            "estimated_usd": round(self.usd, 6),
            "estimated_requests": self.requests,
            "estimated_tokens": self.tokens,
            "rows": [
                {
                    "asset": r.asset,
                    "role": r.role,
                    "model": r.model,
                    "template": r.template,
                    "requests": r.requests,
                    "cached": r.cached,
                    "prompt_tokens_per_request": round(r.prompt_tokens, 1),
                    "completion_tokens_per_request": round(r.completion_tokens, 1),
                    "tokens_basis": r.tokens_basis,
                    "price_source": r.price.source,
                    "batch": r.batch,
                    "usd": round(r.usd, 6),
                    "basis": r.basis,
                    "exact": r.exact,
                }
                for r in self.rows
            ],
        }


@dataclass
class PlanContext:
    data_dir: Path
    batch: str
    configs: dict[str, dict[str, Any]]  # asset -> its resolved run config (defaults filled in)
    roles: dict[str, RoleSettings]
    cache: ResponseCache | None

    @property
    def batch_root(self) -> Path:
        from xcoder_assets.store.tables import batch_dir

        return batch_dir(self.data_dir, self.batch)

    def config(self, asset: str, name: str) -> Any:
        try:
            return self.configs[asset][name]
        except KeyError:
            raise ValueError(f"no run config value {asset}.{name} was given to the estimate") from None

    def count_exact(
        self, asset: str, role: str, template_id: str, requests: Iterator[LLMRequest], basis: str
    ) -> Planned:
        """Requests built as the asset builds them, looked up in the cache in chunks (memory bounded)."""
        settings = self.roles[role]
        total = cached = chars = 0
        chunk: list[tuple[str, int]] = []

        def flush() -> None:
            nonlocal cached, chars
            found = self.cache.cached_keys(k for k, _ in chunk) if self.cache else set()
            for key, size in chunk:
                if key in found:
                    cached += 1
                else:
                    chars += size
            chunk.clear()

        for request in requests:
            total += 1
            size = sum(len(m.get("content") or "") for m in request.messages)
            chunk.append((request_key(settings, request), size))
            if len(chunk) >= 500:
                flush()
        flush()
        return Planned(asset, role, template_id, total - cached, cached, True, basis, chars)


def _rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    for batch in handle.iter_batches(batch_size=READ_ROWS, columns=columns):
        yield from batch.to_pylist()


def _table_rows(path: Path) -> int:
    import polars as pl

    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


# -- the assets' plans -------------------------------------------------------------------------------
def plan_features(ctx: PlanContext) -> list[Planned]:
    from xcoder_assets.recipe.prompts import load_template
    from xcoder_assets.store.tables import SEED_PROBLEMS

    template = load_template(EXTRACT_TEMPLATE)
    path = SEED_PROBLEMS.path(ctx.data_dir)
    if not path.exists():
        return [Planned("features", "extract", template.id, 0, basis="unknown: seed_problems is not materialized")]
    requests = (
        LLMRequest.of("extract", template.render(question=row["question"], code=row["solution"]), template.id)
        for row in _rows(path, ["question", "solution"])
    )
    return [ctx.count_exact("features", "extract", template.id, requests, "built from seed_problems (exact)")]


def plan_evolved_pool(ctx: PlanContext) -> list[Planned]:
    from xcoder_assets.recipe.prompts import load_template

    template = load_template(EVOLVE_TEMPLATE)
    rounds, per_round = ctx.config("evolved_pool", "rounds"), ctx.config("evolved_pool", "expansions_per_round")
    return [
        Planned(
            "evolved_pool",
            "evolve",
            template.id,
            rounds * per_round,
            basis=f"{rounds} rounds x {per_round} expansions (run config); subtrees are sampled while it runs, "
            "so the cache is not consulted (a resumed or repeated evolution sends fewer)",
        )
    ]


def _configurations(ctx: PlanContext) -> tuple[int, str]:
    """The batch's feature configurations: the table's rows, else the run config's count."""
    from xcoder_assets.store.tables import FEATURE_CONFIGS

    path = FEATURE_CONFIGS.path(ctx.batch_root)
    if path.exists():
        return _table_rows(path), f"feature_configs of batch {ctx.batch}"
    count = ctx.config("feature_configs", "count")
    return count, f"feature_configs.count = {count} (run config; feature_configs of batch {ctx.batch} not materialized)"


def _requests_per_configuration(ctx: PlanContext) -> tuple[dict[str, float], int]:
    """From this data directory's batches that composed problems: requests per configuration, by template name
    (a statement is asked only for a parsed scenario, and an answer that fails validation is asked again, so
    neither is one per configuration), and how many batches that is. Counted from footers and one column."""
    import polars as pl

    from xcoder_assets.store.tables import FEATURE_CONFIGS, batch_dirs, llm_calls_path

    calls: dict[str, int] = {}
    configurations = batches = 0
    for root in batch_dirs(ctx.data_dir).values():
        made, configs = llm_calls_path(root, "problems"), FEATURE_CONFIGS.path(root)
        if not (made.exists() and configs.exists()):
            continue
        counts = pl.scan_parquet(made).group_by("template").len().collect()
        for template, n in counts.iter_rows():
            name = template.split("@", 1)[0]
            calls[name] = calls.get(name, 0) + n
        configurations += _table_rows(configs)
        batches += 1
    if not configurations:
        return {}, 0
    return {name: n / configurations for name, n in calls.items()}, batches


def plan_problems(ctx: PlanContext) -> list[Planned]:
    from xcoder_assets.recipe.prompts import load_template

    configs, where = _configurations(ctx)
    history, batches = _requests_per_configuration(ctx)
    attempts = ctx.configs.get("problems", {}).get("max_attempts")
    planned = []
    for template, step in (
        (load_template(SCENARIO_TEMPLATE), "scenario"),
        (load_template(STATEMENT_TEMPLATE), "statement"),
    ):
        ratio = history.get(template.id.split("@", 1)[0])
        if ratio is not None:
            requests = math.ceil(round(configs * ratio, 6))  # 100 x 1.1 is 110.00000000000001
            basis = (
                f"{ratio:.3f} {step} requests per configuration in this data directory's history ({batches} "
                f"batch(es): re-asks included) x {configs} from {where}"
            )
        else:
            requests = configs
            basis = (
                f"one {step} per configuration: {configs} from {where}; re-asks of answers that fail validation "
                f"(up to {attempts or 'max_attempts'} asks each) are not counted: no history of problems here"
            )
        planned.append(
            Planned("problems", "compose", template.id, requests, basis=basis + "; the cache is not consulted")
        )
    return planned


def _kept_problems(ctx: PlanContext) -> Path | None:
    from xcoder_assets.store.tables import PROBLEMS

    path = PROBLEMS.path(ctx.batch_root)
    return path if path.exists() else None


def _ok_rows(path: Path) -> Iterator[dict[str, Any]]:
    return (row for row in _rows(path) if row.get("status") == "ok")


def plan_test_inputs(ctx: PlanContext) -> list[Planned]:
    from xcoder_assets.recipe import test_inputs as inputs_recipe
    from xcoder_assets.recipe.composition import problem_question
    from xcoder_assets.recipe.prompts import load_template

    template = load_template(TESTS_TEMPLATE)
    path = _kept_problems(ctx)
    if path is not None:
        requests = (
            LLMRequest.of(
                "test_write", template.render(**inputs_recipe.prompt_values(row, problem_question(row))), template.id
            )
            for row in _ok_rows(path)
        )
        return [
            ctx.count_exact(
                "test_inputs",
                "test_write",
                template.id,
                requests,
                f"built from the kept problems of batch {ctx.batch} (exact)",
            )
        ]
    configs, where = _configurations(ctx)
    return [
        Planned(
            "test_inputs",
            "test_write",
            template.id,
            configs,
            basis=f"one per kept problem: at most {configs} ({where}; problems not materialized, every one assumed kept)",
        )
    ]


def plan_candidate_solutions(ctx: PlanContext) -> list[Planned]:
    from xcoder_assets.recipe import candidates as candidate_recipe
    from xcoder_assets.recipe.composition import problem_question
    from xcoder_assets.recipe.prompts import load_template

    template = load_template(SOLVE_TEMPLATE)
    per_problem = ctx.config("candidate_solutions", "candidates_per_problem")
    path = _kept_problems(ctx)
    if path is not None:

        def requests() -> Iterator[LLMRequest]:
            for row in _ok_rows(path):
                messages = template.render(**candidate_recipe.prompt_values(row, problem_question(row)))
                for sample in range(per_problem):
                    yield LLMRequest.of("solve", messages, template.id, seed=sample)

        return [
            ctx.count_exact(
                "candidate_solutions",
                "solve",
                template.id,
                requests(),
                f"built from the kept problems of batch {ctx.batch} x {per_problem} candidates (exact)",
            )
        ]
    configs, where = _configurations(ctx)
    return [
        Planned(
            "candidate_solutions",
            "solve",
            template.id,
            configs * per_problem,
            basis=f"kept problems x {per_problem} candidates: at most {configs} x {per_problem} ({where}; problems "
            "not materialized, every one assumed kept)",
        )
    ]


PLANS: dict[str, Callable[[PlanContext], list[Planned]]] = {
    "features": plan_features,
    "evolved_pool": plan_evolved_pool,
    "problems": plan_problems,
    "test_inputs": plan_test_inputs,
    "candidate_solutions": plan_candidate_solutions,
}
# The run config each plan reads, for the command to resolve (defaults filled in).
CONFIG_ASSETS = {"evolved_pool", "feature_configs", "candidate_solutions"}
ROLE_OF = {"features": ("extract",), "evolved_pool": ("evolve",), "problems": ("compose",)}
ROLE_OF.update({"test_inputs": ("test_write",), "candidate_solutions": ("solve",)})


# -- tokens -------------------------------------------------------------------------------------------
def parse_token_figures(items: list[str]) -> dict[str, tuple[float | None, float]]:
    """`--tokens NAME=PROMPT,COMPLETION` (NAME: a template's name or id): per-request figures to use.
    An empty PROMPT keeps the prompts' own figure (counted, or from history)."""
    out: dict[str, tuple[float | None, float]] = {}
    wrong = "expected TEMPLATE=PROMPT,COMPLETION (tokens per request; PROMPT may be empty)"
    for item in items:
        name, _, values = item.partition("=")
        parts = values.split(",")
        try:
            prompt_text, completion_text = parts
            prompt = float(prompt_text) if prompt_text.strip() else None
            completion = float(completion_text)
        except ValueError:
            raise ValueError(f"--tokens {item!r}: {wrong}") from None
        if not name.strip() or (prompt is not None and prompt < 0) or completion < 0:
            raise ValueError(f"--tokens {item!r}: {wrong}")
        out[name.strip()] = (prompt, completion)
    return out


def token_figures(
    planned: Planned,
    settings: RoleSettings,
    history: dict[tuple[str, str], tuple[int, float, float]],
    given: dict[str, tuple[float | None, float]],
) -> TokenFigures:
    name = planned.template.split("@", 1)[0]
    counted = planned.prompt_chars / CHARS_PER_TOKEN / planned.requests if planned.exact and planned.requests else None
    for key in (planned.template, name):
        if key in given:
            prompt, completion = given[key]
            if prompt is not None:
                return TokenFigures(prompt, completion, f"given on the command line ({key}={prompt:g},{completion:g})")
            own = token_figures(planned, settings, history, {})
            return TokenFigures(
                own.prompt,
                completion,
                # the prompts' basis alone (a source in parentheses may hold a ';')
                f"completions given on the command line ({completion:g}); " + own.basis.split("; completions", 1)[0],
            )
    same = history.get((planned.template, settings.model))
    if same:
        n, prompt, completion = same
        source = f"this data directory's history ({n} answers of {planned.template} by {settings.model})"
        prompt_basis = "prompts counted (4 characters a token)" if counted is not None else f"prompts from {source}"
        return TokenFigures(
            counted if counted is not None else prompt, completion, f"{prompt_basis}; completions from {source}"
        )
    other = [(n, p, c, m) for (t, m), (n, p, c) in history.items() if t == planned.template]
    if other:
        n, prompt, completion, model = max(other)
        source = (
            f"the history of another model ({n} answers of {planned.template} by {model}; none by {settings.model})"
        )
        prompt_basis = "prompts counted (4 characters a token)" if counted is not None else f"prompts from {source}"
        return TokenFigures(
            counted if counted is not None else prompt, completion, f"{prompt_basis}; completions from {source}"
        )
    if counted is not None:
        prompt, prompt_basis = counted, "prompts counted (4 characters a token)"
    else:
        from xcoder_assets.recipe.prompts import load_template

        template = load_template(name)
        prompt = (len(template.system) + len(template.user)) / CHARS_PER_TOKEN
        prompt_basis = "prompts from the template's length without its values (a lower bound)"
    return TokenFigures(
        prompt,
        float(settings.params.max_tokens),
        f"{prompt_basis}; completions at the role's max_tokens {settings.params.max_tokens} (an upper bound: no "
        f"history of {planned.template})",
    )


# -- the estimate -------------------------------------------------------------------------------------
def estimate(
    data_dir: Path,
    assets: list[str],
    configs: dict[str, dict[str, Any]],
    roles: dict[str, RoleSettings],
    batch: str,
    given_tokens: dict[str, tuple[float | None, float]] | None = None,
) -> Estimate:
    """The estimate for materializing `assets` (in the order given; those without LLM calls are noted)."""
    data_dir = Path(data_dir)
    cache = ResponseCache.existing(data_dir)  # read-only, XCODER_CACHE_URL's when set: an estimate writes nothing
    try:
        history = {(t, m): (n, p, c) for t, m, n, p, c in cache.token_history()} if cache else {}
        ctx = PlanContext(data_dir, batch, configs, roles, cache)
        result = Estimate()
        if cache is None:
            where = describe(cache_location(data_dir, CACHE_FILE))
            result.notes.append(f"no response cache at {where}: nothing is cached, no token history")
        for asset in assets:
            plan = PLANS.get(asset)
            if plan is None:
                continue
            for planned in plan(ctx):
                settings = roles[planned.role]
                figures = token_figures(planned, settings, history, given_tokens or {})
                price = settings.price()
                usd = planned.requests * price.cost(figures.prompt, figures.completion, batch=settings.batch)
                result.rows.append(
                    EstimateRow(
                        planned.asset,
                        planned.role,
                        settings.model,
                        planned.template,
                        planned.requests,
                        planned.cached,
                        figures.prompt,
                        figures.completion,
                        figures.basis,
                        price,
                        settings.batch,
                        usd,
                        planned.basis,
                        planned.exact,
                    )
                )
                if not price.known and planned.requests:
                    result.notes.append(
                        f"{planned.asset}: {settings.model} has no price: counted as $0 (set XCODER_PRICE_"
                        f"{planned.role.upper()})"
                    )
        if not math.isfinite(result.usd):
            raise ValueError("the estimate is not a finite number (check the prices)")
        return result
    finally:
        if cache is not None:
            cache.close()
