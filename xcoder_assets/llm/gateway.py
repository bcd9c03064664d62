"""The LLM gateway: every stage's model calls go through here, over litellm.

Bounded concurrency, request and token rate limits, retries with exponential backoff and jitter on
429 / 5xx / timeouts / dropped connections, a persistent response cache, and per-call accounting.
A request that still fails ends as an LLMResult with `error` set: callers turn it into an error row.
No Dagster import here: the Dagster resource in defs/resources.py only builds one of these.

In-flight requests are bounded by `max_in_flight` alone. litellm's own aiohttp sessions cap
connections per host (500 by default) and log a warning for every request that waits for a slot;
the gateway hands litellm its own aiohttp session instead (litellm's documented `shared_session`),
whose connector has no cap of its own, raises the process's open-file limit to its hard limit, and
drops litellm's per-request pool warnings.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Sequence

import aiohttp

from xcoder_assets.llm.answers import split_reasoning
from xcoder_assets.llm.budget import BudgetExceeded, BudgetLimit, LLMRunStopped, worst_case_prompt_tokens
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.lazy_litellm import litellm
from xcoder_assets.llm.limits import (
    LLMConfigError,
    raise_open_file_limit,
)  # LLMConfigError: raised here, imported from here
from xcoder_assets.llm.settings import RoleSettings
from xcoder_assets.llm.wire import TEMPLATE_HEADER, TEMPLATE_METADATA_KEY
from xcoder_assets.store.ids import canonical_json, content_hash


# -- litellm's logs ----------------------------------------------------------------------------------
class _PoolWaitFilter(logging.Filter):
    """Drops litellm's one-per-request 'connection pool saturated' warning (and counts it);
    every other record, errors included, passes."""

    PREFIX = "aiohttp connection pool saturated"

    def __init__(self) -> None:
        super().__init__("xcoder-pool-wait")
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and str(record.msg).startswith(self.PREFIX):
            self.dropped += 1
            return False
        return True


POOL_WAIT_FILTER = _PoolWaitFilter()


def quiet_litellm_pool_warnings() -> None:
    """Install POOL_WAIT_FILTER on litellm's logger (idempotent)."""
    logger = logging.getLogger("LiteLLM")
    if POOL_WAIT_FILTER not in logger.filters:
        logger.addFilter(POOL_WAIT_FILTER)


# -- the connections litellm uses --------------------------------------------------------------------
_SESSIONS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = weakref.WeakKeyDictionary()
_SESSION_CLOSERS: set[asyncio.Task] = set()


def http_session() -> aiohttp.ClientSession:
    """The running event loop's aiohttp session, handed to every litellm call as `shared_session`.

    Its connector has no connection cap (limit=0, limit_per_host=0): the caller's semaphore
    (`max_in_flight`) is the one bound, so that many connections really open. Otherwise it is set as
    litellm sets its own (keep-alive, DNS cache, no cookies, IPv4 and proxy settings); TLS
    verification is still applied by litellm per request. One session per loop, for the loop's
    whole life: litellm caches its provider clients per loop without regard to the session, so a
    session closed while its loop still runs would leave litellm quietly making its own, capped one.
    It is closed when the loop's remaining tasks are cancelled (asyncio.run does that at its end).
    """
    loop = asyncio.get_running_loop()
    session = _SESSIONS.get(loop)
    if session is not None and not session.closed:
        return session
    from litellm.constants import AIOHTTP_KEEPALIVE_TIMEOUT, AIOHTTP_TTL_DNS_CACHE

    trust_env = bool(litellm.aiohttp_trust_env) or os.environ.get("AIOHTTP_TRUST_ENV", "").lower() == "true"
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
        keepalive_timeout=AIOHTTP_KEEPALIVE_TIMEOUT,
        ttl_dns_cache=AIOHTTP_TTL_DNS_CACHE,
        local_addr=("0.0.0.0", 0) if litellm.force_ipv4 else None,
    )
    session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=trust_env)
    _SESSIONS[loop] = session
    closer = loop.create_task(_close_with_loop(loop, session), name="xcoder-http-session")
    _SESSION_CLOSERS.add(closer)
    closer.add_done_callback(_SESSION_CLOSERS.discard)
    return session


async def flush_litellm_logging(timeout_s: float = 60.0) -> None:
    """Wait (at most `timeout_s`) for litellm's background success/failure logging of the calls made so
    far: it runs after each call returns, on the running loop. Left pending when the loop ends, litellm
    moves it to the next loop with a warning (one per batch); in a benchmark it would land on the next
    round's clock."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    except ImportError:  # another litellm layout: nothing to wait for
        return
    try:
        await asyncio.wait_for(GLOBAL_LOGGING_WORKER.flush(), timeout_s)
    except asyncio.CancelledError:
        raise
    except Exception:  # best effort: logging never fails a batch
        pass


async def _close_with_loop(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    try:
        await loop.create_future()  # until cancelled: asyncio.run cancels leftover tasks before closing its loop
    finally:
        if _SESSIONS.get(loop) is session:
            del _SESSIONS[loop]
        await session.close()


@dataclass(frozen=True)
class LLMRequest:
    role: str
    messages: tuple[dict[str, str], ...]
    template: str  # "<template name>@<version>": part of the cache key and of every row
    tag: str = ""  # the id of the row the request is for, for logs
    seed: int | None = None  # sampling seed: several samples of one prompt (candidates) are distinct requests

    @staticmethod
    def of(
        role: str, messages: Sequence[dict[str, str]], template: str, tag: str = "", seed: int | None = None
    ) -> "LLMRequest":
        return LLMRequest(role, tuple(dict(m) for m in messages), template, tag, seed)


@dataclass
class LLMResult:
    call_id: str
    cache_key: str
    role: str
    model: str
    template: str
    request: dict[str, Any]
    content: str = ""  # the answer, reasoning removed
    reasoning: str = ""
    finish_reason: str | None = None
    truncated: bool = False
    error: str | None = None
    cache_hit: bool = False
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def failure(self) -> tuple[str, str] | None:
        """(status, reason) when there is no answer to parse: the call failed, or the answer was cut off."""
        if self.error is not None:
            return "llm_error", self.error
        if self.truncated:
            return "truncated", "answer cut off at max_tokens"
        return None

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["request_json"] = canonical_json(row.pop("request"))
        row.pop("cache_key")
        return row


@dataclass
class GatewayConfig:
    max_in_flight: int = 64  # requests (and so connections) open at once; the only connection bound
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_retries: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    request_timeout_s: float = 600.0
    rate_window_s: float = 60.0  # the window of the per-minute limits (shorter only in tests)
    budgets: tuple[BudgetLimit, ...] = ()  # spending caps (run, day, generation batch); see budget.py
    batch_poll_s: float = 30.0  # how often a pending provider batch is asked for its status
    batch_wait_s: float = 3600.0  # how long one run waits for a provider batch before stopping (it resumes later)


@dataclass
class GatewayStats:
    requests: int = 0
    llm_calls: int = 0  # requests that went to the model (not cache hits)
    cache_hits: int = 0
    errors: int = 0
    truncated: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors_by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, result: LLMResult) -> None:
        self.requests += 1
        self.retries += max(0, result.attempts - 1)
        if result.cache_hit:
            self.cache_hits += 1
        elif result.attempts:
            self.llm_calls += 1
            self.prompt_tokens += result.prompt_tokens
            self.completion_tokens += result.completion_tokens
            self.cost_usd += result.cost_usd
        if result.truncated:
            self.truncated += 1
        if result.error:
            self.errors += 1
            reason = result.error.split(":", 1)[0]
            self.errors_by_reason[reason] = self.errors_by_reason.get(reason, 0) + 1


class WindowLimiter:
    """At most `limit` units per sliding 60 s window (requests, or tokens)."""

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._spent: collections.deque[tuple[float, float]] = collections.deque()
        self._used = 0.0
        self._lock = asyncio.Lock()

    def _purge(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window_s:
            self._used -= self._spent.popleft()[1]

    async def acquire(self, amount: float = 1.0) -> None:
        amount = min(amount, self.limit)  # a single oversized request still goes, alone
        async with self._lock:
            while True:
                now = time.monotonic()
                self._purge(now)
                if self._used + amount <= self.limit:
                    self._spent.append((now, amount))
                    self._used += amount
                    return
                await asyncio.sleep(max(0.01, self.window_s - (now - self._spent[0][0])))

    def record(self, amount: float) -> None:
        """Count units known only afterwards (completion tokens)."""
        self._spent.append((time.monotonic(), amount))
        self._used += amount


_RETRYABLE_STATUS = {408, 409, 425, 429}


def classify_error(exc: BaseException) -> tuple[bool, str, float | None]:
    """(retryable, reason, retry-after seconds) for an exception from litellm."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    retry_after = None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after"):
            retry_after = float(headers["retry-after"])
    except (TypeError, ValueError):
        retry_after = None
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else name
    if isinstance(exc, (litellm.Timeout, asyncio.TimeoutError, TimeoutError)):
        return True, f"timeout: {message}", retry_after
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return True, f"rate_limited: {message}", retry_after
    if isinstance(exc, litellm.APIConnectionError) and (status is None or status >= 500):
        return True, f"connection_error: {message}", retry_after
    if isinstance(status, int):
        if status >= 500 or status in _RETRYABLE_STATUS:
            return True, f"http_{status}: {message}", retry_after
        return False, f"http_{status}: {message}", None
    if isinstance(exc, (litellm.AuthenticationError, litellm.NotFoundError, litellm.BadRequestError)):
        return False, f"{name}: {message}", None
    # Unknown failures without a status (a garbled body from a proxy, a reset stream) are usually transient.
    return True, f"{name}: {message}", retry_after


# The providers whose batch API a batch role can use: those of litellm's files/batches calls (the providers their
# signatures name), and Anthropic, whose Message Batches the gateway drives itself (llm/anthropic_batches.py).
BATCH_PROVIDERS = frozenset(
    {"openai", "azure", "vertex_ai", "bedrock", "hosted_vllm", "litellm_proxy", "mistral", "xai", "anthropic"}
)


def check_role_settings(settings: RoleSettings) -> None:
    """Fail before any call, with one clear message, for a model that cannot work."""
    if settings.is_offline:
        # The offline simulator is a provider like any other: whoever builds a gateway registers it
        # (simulator.provider.register_offline_provider); the gateway knows nothing of it.
        provider = settings.model.split("/", 1)[0]
        if not any(entry.get("provider") == provider for entry in litellm.custom_provider_map or []):
            raise LLMConfigError(
                f"role {settings.role!r}: model {settings.model!r} is the offline simulator, which is not "
                "registered with litellm: call xcoder_assets.simulator.provider.register_offline_provider() "
                "before building the gateway"
            )
        return
    try:
        _, provider, _, _ = litellm.get_llm_provider(settings.model, api_base=settings.api_base)
    except Exception as exc:
        raise LLMConfigError(
            f"role {settings.role!r}: unknown model {settings.model!r}: litellm cannot tell its provider "
            f"(write it as provider/model, e.g. openai/<name> for an OpenAI-compatible server with "
            f"XCODER_API_BASE); litellm said: {str(exc).splitlines()[0][:200]}"
        ) from None
    if settings.batch and provider not in BATCH_PROVIDERS:
        raise LLMConfigError(
            f"role {settings.role!r}: model {settings.model!r} (provider {provider}) has no batch API the gateway "
            f"can use (it can use {', '.join(sorted(BATCH_PROVIDERS))}): turn batch off for this role "
            f"(unset XCODER_BATCH_{settings.role.upper()}, or the llm resource's {settings.role}_batch)"
        )
    if settings.api_key or settings.api_base:
        return  # a key was given, or a self-hosted endpoint that may need none
    check = litellm.validate_environment(model=settings.model)
    if not check.get("keys_in_environment", True):
        missing = ", ".join(check.get("missing_keys") or ["an API key"])
        raise LLMConfigError(
            f"role {settings.role!r}: model {settings.model!r} (provider {provider}) needs {missing} in the "
            f"environment, or XCODER_API_KEY / XCODER_API_KEY_{settings.role.upper()}"
        )


def request_body_for(settings: RoleSettings, request: "LLMRequest") -> dict[str, Any]:
    """What a request's cache key is made of: model, messages, generation parameters, template."""
    params = settings.params.as_dict()
    if request.seed is not None:
        params["seed"] = request.seed
    return {
        "model": settings.model,
        "messages": [dict(m) for m in request.messages],
        "params": params,
        "template": request.template,
    }


def request_key(settings: RoleSettings, request: "LLMRequest") -> str:
    """The request's cache key, as the gateway computes it."""
    return content_hash(request_body_for(settings, request), 32)


def self_budgets(config: "GatewayConfig | None") -> bool:
    return bool(config and config.budgets)


Completion = Callable[..., Awaitable[Any]]
ProgressHook = Callable[[int, int, int], None]  # (done, total, cached) after each finished request


class LLMGateway:
    def __init__(
        self,
        roles: dict[str, RoleSettings],
        cache: ResponseCache | None = None,
        config: GatewayConfig | None = None,
        *,
        run_id: str | None = None,
        asset: str | None = None,
        completion: Completion | None = None,
        on_stop: Callable[[LLMRunStopped], BaseException] | None = None,
    ):
        for settings in roles.values():
            check_role_settings(settings)
            if self_budgets(config) and not settings.price().known:
                raise LLMConfigError(
                    f"role {settings.role!r}: an LLM budget is set but model {settings.model!r} has no price in "
                    f"litellm's price map, so the budget could not cap it: set XCODER_PRICE_{settings.role.upper()} "
                    "(IN,OUT in USD per million tokens)"
                )
        self.roles = roles
        self.cache = cache
        self.config = config or GatewayConfig()
        self.run_id, self.asset = run_id, asset
        self.stats = GatewayStats()
        self.in_flight = 0  # requests being sent or awaited now (for progress reports)
        self._completion = completion or litellm.acompletion
        self._shared_session = completion is None  # an injected completion manages its own connections
        self._on_stop = on_stop  # turns a stop (budget, pending batch) into the caller's error (dg.Failure)
        self.not_sent = 0  # requests the last batch left unsent (budget reached)
        if self.config.max_in_flight < 1:
            raise LLMConfigError(f"max_in_flight must be at least 1, not {self.config.max_in_flight}")
        raise_open_file_limit(self.config.max_in_flight)
        quiet_litellm_pool_warnings()

    # -- keys -------------------------------------------------------------------------------
    def settings_for(self, role: str) -> RoleSettings:
        if role not in self.roles:
            raise LLMConfigError(f"no model configured for role {role!r}; configured: {sorted(self.roles)}")
        return self.roles[role]

    def request_body(self, request: LLMRequest) -> dict[str, Any]:
        return request_body_for(self.settings_for(request.role), request)

    # -- calls ------------------------------------------------------------------------------
    def complete(self, requests: Iterable[LLMRequest], on_progress: ProgressHook | None = None) -> list[LLMResult]:
        """Synchronous entry point (Dagster assets are sync): runs the batch on its own loop.
        `on_progress(done, total, cached)` as in `acomplete` (called from that loop's thread)."""
        requests = list(requests)

        async def batch() -> list[LLMResult]:
            try:
                return await self.acomplete(requests, on_progress)
            finally:
                await flush_litellm_logging()  # before this loop ends

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(batch())
        box: list[list[LLMResult]] = []
        worker = threading.Thread(target=lambda: box.append(asyncio.run(batch())))
        worker.start()
        worker.join()
        return box[0]

    async def acomplete(
        self, requests: Sequence[LLMRequest], on_progress: ProgressHook | None = None
    ) -> list[LLMResult]:
        """The results in the order of `requests`. `on_progress(done, total, cached)` is called after
        each finished request (cache hits included, `cached` of the `done` being hits); it runs on the
        event loop, so it must be cheap (the caller throttles). One that raises is logged and not
        called again: a progress display never fails a batch."""
        bodies = [self.request_body(r) for r in requests]
        keys = [content_hash(body, 32) for body in bodies]  # = request_key
        cached = self.cache.get_many(keys) if self.cache else {}
        semaphore = asyncio.Semaphore(self.config.max_in_flight)
        window = self.config.rate_window_s
        rpm = WindowLimiter(self.config.requests_per_minute, window) if self.config.requests_per_minute else None
        tpm = WindowLimiter(self.config.tokens_per_minute, window) if self.config.tokens_per_minute else None
        usage: list[tuple] = []
        in_progress: dict[str, asyncio.Future] = {}  # identical requests in one batch share one call
        progress = {"done": 0, "cached": 0, "report": on_progress}
        stop: dict[str, Any] = {}  # the first budget refusal: nothing more is sent after it
        self.not_sent = 0
        # Requests of roles that use their provider's batch API go as one batch per role (cache misses only).
        batched: dict[str, asyncio.Future] = {}
        claimed: set[str] = set()
        batch_items = [
            (r, b, k)
            for r, b, k in zip(requests, bodies, keys)
            if self.uses_batch_api(r.role) and k not in cached and self.cache is not None
        ]
        batch_task = None
        if batch_items:
            from xcoder_assets.llm.batches import BatchRunner

            loop = asyncio.get_running_loop()
            for _, _, k in batch_items:
                batched.setdefault(k, loop.create_future())
            batch_task = asyncio.ensure_future(BatchRunner(self, batch_items, batched, stop).run())
        # The misses claimed in the cache: one another process (any host sharing it) is sending is waited for.
        claims = self.cache.claims(k for k in keys if k not in cached and k not in batched) if self.cache else None

        async def one(request: LLMRequest, body: dict, key: str) -> LLMResult:
            result = LLMResult(
                call_id=f"call-{key[:16]}",
                cache_key=key,
                role=request.role,
                model=body["model"],
                template=request.template,
                request=body,
            )
            if key in cached:
                self._fill(result, cached[key])
                result.cache_hit = True
            elif key in batched:
                response = await batched[key]
                self._fill(result, response)
                result.error = response.get("error")
                first = key not in claimed  # an identical request of this call: shares the answer, logged once
                claimed.add(key)
                result.attempts = int(first)
                result.cache_hit = not first and result.error is None
                if response.get("cache_hit"):  # answered by another process's batch meanwhile: not sent here
                    result.attempts, result.cache_hit = 0, True
                if response.get("not_sent"):
                    self.not_sent += 1
                    result.attempts = 0
                    self.stats.add(result)
                    return result
            elif key in in_progress:
                shared = await in_progress[key]
                self._fill(result, shared)
                result.cache_hit = shared is not None and "error" not in shared
                if shared is None or "error" in shared:
                    result.error = (shared or {}).get("error", "shared request failed")
            else:
                future: asyncio.Future = asyncio.get_running_loop().create_future()
                in_progress[key] = future
                elsewhere = await claims.acquire(key) if claims else None  # answered by another process meanwhile
                if elsewhere is not None:
                    self._fill(result, elsewhere)
                    result.cache_hit = True
                    future.set_result(elsewhere)
                else:
                    async with semaphore:
                        reservation = self._reserve(request, body, key, stop, batch=False)
                        if reservation is None:
                            result.error = "budget_exhausted: not sent, the LLM budget is reached"
                            future.set_result({"error": result.error, "not_sent": True})
                            self.not_sent += 1
                            self.stats.add(result)
                            return result
                        self.in_flight += 1
                        try:
                            response = await self._call_with_retries(request, body, result, rpm, tpm)
                        finally:
                            self.in_flight -= 1
                    if response is not None:
                        self.price_response(request.role, response, batch=False)
                    if reservation:
                        self._settle(reservation, response)
                    future.set_result(response if response is not None else {"error": result.error})
                    if response is not None:
                        self._fill(result, response)
                        if self.cache:
                            self.cache.put(key, body["model"], request.template, body, response)
            self.stats.add(result)
            progress["done"] += 1
            progress["cached"] += result.cache_hit
            if progress["report"] is not None:
                try:
                    progress["report"](progress["done"], len(requests), progress["cached"])
                except Exception:
                    logging.getLogger(__name__).exception("on_progress failed; no more progress reports for this batch")
                    progress["report"] = None
            usage.append(
                (
                    time.time(),
                    self.run_id,
                    self.asset,
                    request.role,
                    result.model,
                    key,
                    int(result.cache_hit),
                    result.error,
                    result.attempts,
                    result.prompt_tokens,
                    result.completion_tokens,
                    result.cost_usd,
                )
            )
            if len(usage) >= 256 and self.cache:
                self.cache.log_usage(usage.copy())
                usage.clear()
            return result

        stopped: LLMRunStopped | None = None
        try:
            results = list(await asyncio.gather(*(one(r, b, k) for r, b, k in zip(requests, bodies, keys))))
            if batch_task is not None:
                await batch_task  # raises BatchPending when a provider batch is still pending
        except LLMRunStopped as exc:
            stopped = exc
        finally:
            if batch_task is not None and not batch_task.done():
                batch_task.cancel()
            if claims is not None:
                claims.close()  # what was not sent (a budget stop, errors): other processes may take it over
            if self.cache:
                self.cache.log_usage(usage)
        if stopped is not None:
            self._stop(stopped)
        if stop:
            self._stop(
                BudgetExceeded(
                    self.asset,
                    stop["limit"],
                    *self.cache.committed(stop["limit"].scope),
                    requests_left=sum(1 for r in results if r.attempts == 0 and not r.cache_hit),
                    answered=sum(1 for r in results if r.ok and not r.cache_hit),
                )
            )
        return results

    def submit_batches(self, requests: Sequence[LLMRequest]) -> int:
        """Submit to the provider's batch API, without waiting, the requests of batch roles that are neither
        cached nor held by an open batch; how many were candidates. A stage that goes through its work a
        chunk at a time submits every chunk first, so the provider works on all of them at once and each
        chunk's `complete` then collects from batches already under way."""
        from xcoder_assets.llm.batches import BatchRunner

        items = [(r, self.request_body(r)) for r in requests if self.uses_batch_api(r.role)]
        if not items or self.cache is None:
            return 0
        keys = [content_hash(body, 32) for _, body in items]
        cached = self.cache.get_many(keys)
        missing = [(r, b, k) for (r, b), k in zip(items, keys) if k not in cached]
        if not missing:
            return 0

        async def submit() -> None:
            loop = asyncio.get_running_loop()
            futures = {k: loop.create_future() for _, _, k in missing}
            try:
                await BatchRunner(self, missing, futures, {}, wait=False).run()
            finally:
                await flush_litellm_logging()

        asyncio.run(submit())
        return len(missing)

    def batch_roles(self) -> list[str]:
        """The roles of this gateway that go through their provider's batch API."""
        return [role for role in self.roles if self.uses_batch_api(role)]

    def uses_batch_api(self, role: str) -> bool:
        """The offline simulator has no batch API: its answers come at once anyway."""
        settings = self.settings_for(role)
        return settings.batch and not settings.is_offline

    def _stop(self, exc: LLMRunStopped) -> None:
        raise (self._on_stop(exc) if self._on_stop else exc) from None

    # -- budgets and prices -------------------------------------------------------------------
    def worst_case_cost(self, request: LLMRequest, body: dict, batch: bool) -> float:
        settings = self.settings_for(request.role)
        prompt = worst_case_prompt_tokens(settings.model, body["messages"])
        return settings.price().cost(prompt, settings.params.max_tokens, batch=batch)

    def _reserve(self, request: LLMRequest, body: dict, key: str, stop: dict, batch: bool) -> str | None:
        """'' when no budget applies; a reservation id; None when the budget is reached (and `stop` set)."""
        return self._reserve_as(f"{self.run_id}:{key}:{random.getrandbits(48):012x}", request, body, stop, batch)

    def _reserve_as(self, reservation: str, request: LLMRequest, body: dict, stop: dict, batch: bool) -> str | None:
        if not self.config.budgets or self.cache is None:
            return ""
        if stop:
            return None
        amount = self.worst_case_cost(request, body, batch)
        limits = {b.scope: b.limit_usd for b in self.config.budgets}
        ok, committed = self.cache.reserve(reservation, amount, limits)
        if ok:
            return reservation
        for limit in self.config.budgets:
            if committed[limit.scope] + amount > limit.limit_usd + 1e-12:
                stop.setdefault("limit", limit)
                break
        return None

    def _settle(self, reservation: str, response: dict | None) -> None:
        self.cache.settle(reservation, float((response or {}).get("cost_usd") or 0.0))

    def price_response(self, role: str, response: dict[str, Any], batch: bool) -> None:
        """An override price (self-hosted model, negotiated price) replaces litellm's; a batch answer is
        priced at the batch price."""
        settings = self.settings_for(role)
        if settings.price_override is not None or batch:
            response["cost_usd"] = settings.price().cost(
                response.get("prompt_tokens") or 0, response.get("completion_tokens") or 0, batch=batch
            )

    @staticmethod
    def _fill(result: LLMResult, response: dict[str, Any]) -> None:
        split = split_reasoning(response.get("content"), response.get("reasoning"))
        result.content, result.reasoning = split.answer, split.reasoning
        result.finish_reason = response.get("finish_reason")
        result.truncated = result.finish_reason == "length"
        result.prompt_tokens = int(response.get("prompt_tokens") or 0)
        result.completion_tokens = int(response.get("completion_tokens") or 0)
        result.cost_usd = float(response.get("cost_usd") or 0.0)
        result.latency_s = float(response.get("latency_s") or 0.0)

    async def _call_with_retries(
        self, request: LLMRequest, body: dict, result: LLMResult, rpm: WindowLimiter | None, tpm: WindowLimiter | None
    ) -> dict[str, Any] | None:
        settings = self.settings_for(request.role)
        kwargs: dict[str, Any] = {
            "model": settings.model,
            "messages": body["messages"],
            "timeout": self.config.request_timeout_s,
            "num_retries": 0,  # retries are ours, with backoff and accounting
            "max_retries": 0,
        }
        params = dict(body["params"])
        top_k = params.pop("top_k", None)
        kwargs.update(params)
        if top_k is not None:
            kwargs["extra_body"] = {"top_k": top_k}  # vLLM/SGLang read it from the body
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
        if settings.api_key:
            kwargs["api_key"] = settings.api_key
        elif settings.api_base:
            kwargs["api_key"] = "EMPTY"  # self-hosted OpenAI-compatible servers want some key
        # The template's id travels with the request, outside the cache key (which holds it already):
        # litellm metadata reaches an in-process provider and is never sent; an HTTP endpoint gets a
        # header that real OpenAI-compatible servers ignore.
        if settings.is_offline:
            kwargs["metadata"] = {TEMPLATE_METADATA_KEY: request.template}
        else:
            kwargs["extra_headers"] = {TEMPLATE_HEADER: request.template}
        if self._shared_session and not settings.is_offline:
            kwargs["shared_session"] = http_session()
        prompt_estimate = sum(len(m.get("content") or "") for m in body["messages"]) / 4
        for attempt in range(self.config.max_retries + 1):
            result.attempts = attempt + 1
            if rpm:
                await rpm.acquire(1)
            if tpm:
                await tpm.acquire(prompt_estimate)
            started = time.monotonic()
            try:
                response = await self._completion(**kwargs)
                parsed = self._parse_response(response)
                parsed["latency_s"] = time.monotonic() - started
                result.error = None  # an earlier attempt's failure is history now
                if tpm:
                    tpm.record(parsed["completion_tokens"])
                return parsed
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is classified; none escapes as a crash
                retryable, reason, retry_after = classify_error(exc)
                result.error = reason
                if not retryable or attempt == self.config.max_retries:
                    if retryable:
                        result.error = f"{reason.split(':', 1)[0]}: gave up after {attempt + 1} attempts: {reason}"
                    return None
                backoff = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempt)
                delay = retry_after if retry_after is not None else backoff * random.uniform(0.5, 1.0)
                await asyncio.sleep(min(delay, self.config.backoff_max_s))
        return None

    @staticmethod
    def _parse_response(response: Any) -> dict[str, Any]:
        choices = getattr(response, "choices", None)
        if not choices:
            raise ValueError("malformed_response: no choices in the response")
        choice = choices[0]
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
        if content is None and not reasoning:
            raise ValueError("malformed_response: the response has no message content")
        usage = getattr(response, "usage", None)
        hidden = getattr(response, "_hidden_params", None) or {}
        # litellm prices every response from its local price map while it logs the call; a model
        # missing from the map leaves None there, counted as 0 (pricing it again here costs ~1 ms
        # per call for the same answer).
        if "response_cost" in hidden:
            cost = hidden["response_cost"]
        else:
            try:
                cost = litellm.completion_cost(completion_response=response)
            except Exception:  # unknown price: counted as 0
                cost = 0.0
        return {
            "content": content or "",
            "reasoning": reasoning if isinstance(reasoning, str) else None,
            "finish_reason": getattr(choice, "finish_reason", None),
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "cost_usd": float(cost or 0.0),
        }
