"""Provider batch APIs: a role with `batch: true` sends its cache misses as one batch file through
litellm's files/batches calls, and collects the answers when the provider is done.

The batch is recorded (our id, the provider's batch and input file ids, the requests' cache keys) in
the cache database's llm_batches table before the run waits for it: that table is the stage's
checkpoint. A later run that needs any of those requests resumes the batch (polls it, collects it)
instead of submitting them again, whichever process or run submitted it. Answers enter the same
response cache and usage log as synchronous ones, priced at the batch price. Lines that failed, and
requests an expired or failed batch did not answer, become errors with a reason and are not cached,
so the next run sends them again. A run that waits longer than `batch_wait_s` stops with
BatchPending (its message says how to continue); a sensor can rematerialize the stage once
`open_batches` shows the batch finished.

Two processes (on any hosts sharing the cache) that submit the same requests at once would each find
no open batch and each submit one. So the requests a process is about to put in a batch file are
claimed first, in the claims table the synchronous path uses (store/sqlstore.py, space `llm`); the
batch's record and the end of those claims are one transaction. A key another process holds is
waited for: when its claim ends, its batch's record is there (this process resumes that batch) or its
answer is, or neither (the other process failed before submitting) and this process claims and submits it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from xcoder_assets.llm.anthropic_batches import AnthropicBatches, message_params
from xcoder_assets.llm.budget import LLMRunStopped
from xcoder_assets.llm.cache import CLAIM_SPACE
from xcoder_assets.llm.lazy_litellm import litellm
from xcoder_assets.llm.wire import batch_custom_id, split_batch_custom_id

if TYPE_CHECKING:
    from xcoder_assets.llm.gateway import LLMGateway, LLMRequest

TERMINAL = {"completed", "failed", "expired", "cancelled"}
ENDPOINT = "/v1/chat/completions"


class BatchPending(LLMRunStopped):
    pass


def parse_batch_body(body: dict[str, Any]) -> dict[str, Any]:
    """One output line's chat.completion body as the cache stores an answer; ValueError when malformed."""
    choices = body.get("choices") or []
    if not choices:
        raise ValueError("malformed_response: no choices in the batch line")
    message = choices[0].get("message") or {}
    content, reasoning = message.get("content"), message.get("reasoning_content") or message.get("reasoning")
    if content is None and not reasoning:
        raise ValueError("malformed_response: the batch line has no message content")
    usage = body.get("usage") or {}
    return {
        "content": content or "",
        "reasoning": reasoning if isinstance(reasoning, str) else None,
        "finish_reason": choices[0].get("finish_reason"),
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
        "cost_usd": 0.0,
        "latency_s": 0.0,
        "batch": True,
    }


class BatchRunner:
    def __init__(
        self,
        gateway: "LLMGateway",
        items: list[tuple["LLMRequest", dict, str]],
        futures: dict[str, asyncio.Future],
        stop: dict[str, Any],
        wait: bool = True,
    ):
        self.gateway, self.cache, self.futures, self.stop = gateway, gateway.cache, futures, stop
        self.wait = wait  # False: submit what no open batch holds, and return (LLMGateway.submit_batches)
        self.items: dict[str, tuple["LLMRequest", dict]] = {}
        for request, body, key in items:
            self.items.setdefault(key, (request, body))
        self.usage: list[tuple] = []  # answers of keys this call does not need (an earlier run's batch)
        # Batches another live process submitted while this one was about to (found through its claims):
        # that process logs their answers as sent; here they are cache hits.
        self.taken: set[str] = set()

    async def run(self) -> None:
        try:
            roles = sorted({request.role for request, _ in self.items.values()})
            pending = []
            for role in roles:
                pending.extend(await self._role(role))
            if pending and self.wait:
                raise BatchPending(
                    f"{self.gateway.asset or 'LLM calls'}: "
                    + "; ".join(
                        f"provider batch {rec['provider_batch_id']} ({len(json.loads(rec['cache_keys_json']))} "
                        f"requests, role {rec['role']}) is still {rec['status']}"
                        for rec in pending
                    )
                    + f" after waiting {self.gateway.config.batch_wait_s:g} s. Rerun the stage later: it collects "
                    "the batch and submits nothing new (its id is recorded in the LLM cache, table llm_batches)."
                )
        finally:
            if self.usage:
                self.cache.log_usage(self.usage)
            for future in self.futures.values():
                if not future.done():
                    future.set_result({"error": "batch_pending: the provider has not answered yet"})

    # -- one role ------------------------------------------------------------------------------
    async def _role(self, role: str) -> list[dict[str, Any]]:
        """Resume the open batches that hold some of this role's requests, submit the rest; wait for them
        (at most batch_wait_s); the records still pending."""
        settings = self.gateway.settings_for(role)
        needed = {key for key, (request, _) in self.items.items() if request.role == role}
        open_batches = [
            rec
            for rec in self.cache.open_batches(role, settings.model)
            if needed & set(json.loads(rec["cache_keys_json"]))
        ]
        covered = set().union(*(json.loads(rec["cache_keys_json"]) for rec in open_batches)) if open_batches else set()
        new = [key for key in self.items if key in needed and key not in covered]
        store = self.cache.store
        while new:
            # Claimed before the batch file is written: another process submitting the same requests now
            # holds them (this one waits), or has recorded its batch / stored their answers (`found`).
            lookup = self._settled_lookup(role, settings.model)
            claimed = await asyncio.to_thread(store.claim, CLAIM_SPACE, new, lookup)
            self._take(claimed.found, open_batches)
            if claimed.mine:
                record = None
                try:
                    record = await self._submit(role, [k for k in new if k in claimed.mine])
                finally:
                    if record is None:  # nothing recorded (all over budget, or the provider failed): given back
                        store.release(CLAIM_SPACE, claimed.mine)
                if record is not None:
                    open_batches.append(record)
            new = []
            if claimed.elsewhere:
                waited = await asyncio.to_thread(store.wait_for, CLAIM_SPACE, claimed.elsewhere, lookup)
                self._take(waited.found, open_batches)
                new = [k for k in self.items if k in waited.mine]  # its holder gave it back unsent: ours now
        if not self.wait:
            return open_batches
        deadline = time.monotonic() + self.gateway.config.batch_wait_s
        while open_batches:
            for rec in list(open_batches):
                batch = await self._retrieve(settings, rec["provider_batch_id"])
                status = str(getattr(batch, "status", "") or "")
                if status in TERMINAL:
                    await self._collect(rec, batch, settings)
                    open_batches.remove(rec)
                elif status != rec["status"]:
                    rec["status"] = status
                    self.cache.update_batch_status(rec["batch_id"], status)
            if not open_batches or time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(self.gateway.config.batch_poll_s, max(0.0, deadline - time.monotonic())))
        return open_batches

    def _settled_lookup(self, role: str, model: str) -> Any:
        """For a claim: the keys that need no batch from this process, as ("answer", response) when the cache
        holds their answer, ("batch", record) when an open batch of this role and model holds them."""

        def lookup(keys: list[str]) -> dict[str, tuple[str, Any]]:
            found: dict[str, tuple[str, Any]] = {k: ("answer", v) for k, v in self.cache.get_many(keys).items()}
            wanted = set(keys) - set(found)
            if wanted:
                for rec in self.cache.open_batches(role, model):
                    for key in wanted.intersection(json.loads(rec["cache_keys_json"])):
                        found[key] = ("batch", rec)
            return found

        return lookup

    def _take(self, found: dict[str, tuple[str, Any]], open_batches: list[dict[str, Any]]) -> None:
        """What another process did with keys this one was about to submit: answers resolve their requests
        (as cache hits), batches are resumed with this run's own."""
        known = {rec["batch_id"] for rec in open_batches}
        for key, (kind, value) in found.items():
            if kind == "answer":
                future = self.futures.get(key)
                if future is not None and not future.done():
                    future.set_result({**value, "cache_hit": True})
            elif value["batch_id"] not in known:
                known.add(value["batch_id"])
                self.taken.add(value["batch_id"])
                open_batches.append(value)

    async def _submit(self, role: str, keys: list[str]) -> dict[str, Any] | None:
        """One batch of `keys` (claimed by this process); its record ends their claims in one transaction."""
        settings = self.gateway.settings_for(role)
        batch_id = f"xb-{uuid.uuid4().hex[:20]}"
        sending = []
        for key in keys:  # the budget: each request's worst case at the batch price, in order
            request, body = self.items[key]
            reservation = self.gateway._reserve_as(f"batch:{batch_id}:{key}", request, body, self.stop, batch=True)
            if reservation is None:
                self.futures[key].set_result({"error": "budget_exhausted: not sent", "not_sent": True})
            else:
                sending.append(key)
        if not sending:
            return None
        model_name, provider, _, _ = litellm.get_llm_provider(settings.model, api_base=settings.api_base)
        if provider == "anthropic":  # Message Batches: the requests inline, no file (litellm cannot create one)
            requests = []
            for key in sending:
                request, body = self.items[key]
                params = message_params(model_name, body["messages"], body["params"])
                requests.append({"custom_id": batch_custom_id(key, request.template, provider), "params": params})
            created = await self._retrying(self._anthropic(settings).create, requests=requests)
            input_file_id = ""
        else:
            created, input_file_id = await self._submit_file(settings, model_name, provider, batch_id, sending)
        record = {
            "batch_id": batch_id,
            "provider_batch_id": created.id,
            "input_file_id": input_file_id,
            "run_id": self.gateway.run_id,
            "asset": self.gateway.asset,
            "role": role,
            "model": settings.model,
            "cache_keys_json": json.dumps(sending),
            "status": str(getattr(created, "status", "") or "submitted"),
            "reason": None,
            "submitted_at": time.time(),
            "finished_at": None,
        }
        self.cache.add_batch(record, release=keys)  # the budget's refusals too: not sent, nothing to wait for
        return record

    async def _submit_file(
        self, settings: Any, model_name: str, provider: str, batch_id: str, sending: list[str]
    ) -> tuple[Any, str]:
        """OpenAI's files and batches (and the providers litellm serves the same way): upload a JSONL file of
        the requests, create the batch; (the batch, the input file's id)."""
        lines = []
        for key in sending:
            request, body = self.items[key]
            params = dict(body["params"])
            top_k = params.pop("top_k", None)
            if top_k is not None and settings.api_base:
                params["top_k"] = top_k  # self-hosted servers (vLLM) take it; OpenAI rejects it
            lines.append(
                json.dumps(
                    {
                        "custom_id": batch_custom_id(key, request.template),
                        "method": "POST",
                        "url": ENDPOINT,
                        "body": {"model": model_name, "messages": body["messages"], **params},
                    }
                )
            )
        data = ("\n".join(lines) + "\n").encode()
        uploaded = await self._call(
            litellm.acreate_file, settings, file=(f"{batch_id}.jsonl", data), purpose="batch", provider=provider
        )
        created = await self._call(
            litellm.acreate_batch,
            settings,
            completion_window="24h",
            endpoint=ENDPOINT,
            input_file_id=uploaded.id,
            metadata={"xcoder_batch": batch_id},
            provider=provider,
        )
        return created, uploaded.id

    async def _retrieve(self, settings: Any, provider_batch_id: str) -> Any:
        """The provider's batch now (its `status` in OpenAI's vocabulary)."""
        if _provider(settings) == "anthropic":
            return await self._retrying(self._anthropic(settings).retrieve, batch_id=provider_batch_id)
        return await self._call(litellm.aretrieve_batch, settings, batch_id=provider_batch_id)

    async def _lines(self, batch: Any, settings: Any) -> list[tuple[str, dict[str, Any] | str]]:
        """(custom_id, answer or error) of every line a finished batch answered or failed."""
        if _provider(settings) == "anthropic":
            return await self._retrying(self._anthropic(settings).results, batch=batch)
        out = []
        for file_id in (getattr(batch, "output_file_id", None), getattr(batch, "error_file_id", None)):
            if not file_id:
                continue
            content = await self._call(litellm.afile_content, settings, file_id=file_id)
            text = content.content.decode() if hasattr(content, "content") else str(content)
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    out.append((entry["custom_id"], self._line_answer(entry)))
                except (ValueError, KeyError, TypeError):
                    continue  # a line that names no request of ours
        return out

    def _anthropic(self, settings: Any) -> AnthropicBatches:
        return AnthropicBatches(settings, timeout_s=self.gateway.config.request_timeout_s)

    async def _collect(self, rec: dict[str, Any], batch: Any, settings: Any) -> None:
        """Every line of a finished batch into the cache and usage log; each needed key's future resolved."""
        status = str(batch.status)
        keys = json.loads(rec["cache_keys_json"])
        answered: dict[str, tuple[str | None, dict[str, Any] | str]] = {}  # key -> (template, response or error)
        for custom_id, answer in await self._lines(batch, settings):
            try:
                key, template = split_batch_custom_id(custom_id)
            except ValueError:
                continue  # a line that names no request of ours
            answered[key] = (template, answer)
        batch_errors = getattr(batch, "errors", None)
        reason = None
        if status != "completed":
            details = getattr(batch_errors, "data", None) or []
            first = details[0] if details else None
            message = getattr(first, "message", None) or (first.get("message") if isinstance(first, dict) else None)
            reason = f"batch_{status}: provider batch {rec['provider_batch_id']} {status}" + (
                f": {message}" if message else ""
            )
        for key in keys:
            template, answer = answered.get(key, (None, reason or "batch_line_missing: no line for this request"))
            if isinstance(answer, dict):
                self.gateway.price_response(rec["role"], answer, batch=True)
                known = self.items.get(key)
                request_json = known[1] if known else {"provider_batch": rec["provider_batch_id"]}
                self.cache.put(
                    key, rec["model"], template or (known[0].template if known else None), request_json, answer
                )
            cost = answer["cost_usd"] if isinstance(answer, dict) else 0.0
            self.cache.settle(f"batch:{rec['batch_id']}:{key}", cost)
            result = answer if isinstance(answer, dict) else {"error": answer}
            if rec["batch_id"] in self.taken and isinstance(answer, dict):
                result = {**answer, "cache_hit": True}
            future = self.futures.get(key)
            if future is not None and not future.done():
                future.set_result(result)
            elif future is None and rec["batch_id"] not in self.taken:
                # an earlier run's request this call does not need: logged here (a live process logs its own)
                self.usage.append(
                    (
                        time.time(),
                        self.gateway.run_id,
                        self.gateway.asset,
                        rec["role"],
                        rec["model"],
                        key,
                        0,
                        result.get("error"),
                        1,
                        result.get("prompt_tokens", 0),
                        result.get("completion_tokens", 0),
                        cost,
                    )
                )
        self.cache.finish_batch(rec["batch_id"], status, reason)

    @staticmethod
    def _line_answer(entry: dict[str, Any]) -> dict[str, Any] | str:
        response = entry.get("response") or {}
        error = entry.get("error")
        code = response.get("status_code")
        if error or code != 200:
            body = response.get("body") or {}
            detail = (error or {}).get("message") if isinstance(error, dict) else None
            detail = detail or ((body.get("error") or {}).get("message") if isinstance(body, dict) else None)
            code_name = (error or {}).get("code") if isinstance(error, dict) else None
            return f"batch_line_error: {code_name or f'http_{code}'}: {detail or 'no detail'}"[:300]
        try:
            return parse_batch_body(response.get("body") or {})
        except ValueError as exc:
            return str(exc)

    async def _call(self, function: Any, settings: Any, provider: str | None = None, **kwargs: Any) -> Any:
        """One litellm files/batches call with the role's endpoint and key."""
        kwargs["custom_llm_provider"] = provider or _provider(settings)
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
        if settings.api_key or settings.api_base:
            kwargs["api_key"] = settings.api_key or "EMPTY"
        return await self._retrying(function, **kwargs)

    async def _retrying(self, function: Any, **kwargs: Any) -> Any:
        """A batch API call, retried like a completion on 429/5xx; LLMRunStopped when it cannot succeed."""
        from xcoder_assets.llm.gateway import classify_error

        config = self.gateway.config
        for attempt in range(config.max_retries + 1):
            try:
                return await function(**kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retryable, reason, retry_after = classify_error(exc)
                if not retryable or attempt == config.max_retries:
                    raise LLMRunStopped(
                        f"{self.gateway.asset or 'LLM calls'}: the provider's batch API failed "
                        f"({getattr(function, '__name__', 'call')}): {reason}"
                    ) from None
                backoff = min(config.backoff_max_s, config.backoff_base_s * 2**attempt)
                await asyncio.sleep(retry_after if retry_after is not None else backoff * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")


def _provider(settings: Any) -> str:
    return litellm.get_llm_provider(settings.model, api_base=settings.api_base)[1]


def pending_batches(data_dir: Any) -> list[dict[str, Any]]:
    """The provider batches submitted and not collected yet (for a sensor that rematerializes their asset
    once they are done, or for a status line): read-only, nothing when there is no cache."""
    from xcoder_assets.llm.cache import ResponseCache

    cache = ResponseCache.existing(data_dir)  # the Postgres database when XCODER_CACHE_URL is set
    if cache is None:
        return []
    try:
        return cache.unfinished_batches()
    except Exception:  # a cache written before batches existed has no such table: nothing pending
        return []
    finally:
        cache.close()


def provider_statuses(gateway: "LLMGateway", records: list[dict[str, Any]]) -> dict[str, str]:
    """The provider's status now of each recorded batch (by our batch id), asked with the gateway's settings
    for the batch's role; read only: the stage that needs the answers collects them. A batch whose role now
    names another model, or that the provider cannot be asked about, is `unknown: <reason>`."""

    async def poll() -> dict[str, str]:
        runner = BatchRunner(gateway, [], {}, {})
        statuses = {}
        try:
            for rec in records:
                settings = gateway.settings_for(rec["role"])
                if settings.model != rec["model"]:
                    statuses[rec["batch_id"]] = f"unknown: role {rec['role']} now uses {settings.model}"
                    continue
                try:
                    batch = await runner._retrieve(settings, rec["provider_batch_id"])
                except LLMRunStopped as exc:
                    statuses[rec["batch_id"]] = f"unknown: {exc}"
                    continue
                statuses[rec["batch_id"]] = str(getattr(batch, "status", "") or "unknown: no status")
        finally:
            from xcoder_assets.llm.gateway import flush_litellm_logging

            await flush_litellm_logging()
        return statuses

    return asyncio.run(poll())


@dataclass(frozen=True)
class Collection:
    """One run to request: `asset` for `partition` (None: unpartitioned), which collects `batch_ids`."""

    asset: str
    partition: str | None
    batch_ids: tuple[str, ...]


@dataclass
class CollectionPlan:
    due: list[Collection] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # why nothing is requested for the others, one line each


def plan_collections(
    records: list[dict[str, Any]],
    statuses: dict[str, str],
    partition_of: Callable[[str | None], str | None],
    partitioned: Callable[[str], bool | None],
) -> CollectionPlan:
    """What to materialize now for the batches not yet collected: per asset and the partition of the run that
    submitted them, one collection once every one of those batches is done (the provider's `statuses`).
    `partitioned(asset)`: whether it is partitioned, None when the code location has no such asset."""
    plan = CollectionPlan()
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for rec in records:
        asset, partition = rec["asset"] or "", partition_of(rec["run_id"])
        kind = partitioned(asset)
        if kind is None:
            plan.waiting.append(f"batch {rec['batch_id']}: asset {asset!r} is not in this code location")
        elif kind and partition is None:
            plan.waiting.append(
                f"batch {rec['batch_id']}: run {rec['run_id']} that submitted it is not in this instance; "
                f"materialize {asset} for its batch to collect it"
            )
        else:
            groups.setdefault((asset, partition), []).append(rec)
    for (asset, partition), group in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        unfinished = [rec for rec in group if statuses.get(rec["batch_id"]) not in TERMINAL]
        if unfinished:
            where = asset + (f" [{partition}]" if partition else "")
            plan.waiting.append(
                f"{where} waits for "
                + ", ".join(f"{rec['provider_batch_id']} {statuses.get(rec['batch_id'])}" for rec in unfinished)
            )
        else:
            plan.due.append(Collection(asset, partition, tuple(sorted(rec["batch_id"] for rec in group))))
    return plan
