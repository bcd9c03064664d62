"""`xcoder trace ROW`: the lineage of a row back to its seeds, and an LLM call with its prompt and answer."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from xcoder_assets.cli.common import CliError, connect


def _call_text(call: dict[str, Any] | None, call_id: str, shown_calls: set[str], model: bool = False) -> str:
    if call is None:
        return f"{call_id} (not in llm_calls: re-materialized since?)"
    if call_id in shown_calls:
        return f"{call['template']} {call_id} (shown above)"
    shown_calls.add(call_id)
    source = "cache hit" if call["cache_hit"] else "sent to the model"
    return (
        f"{call['template']} {call_id} ({source}"
        + (f", {call['model']}" if model else "")
        + f", {call['prompt_tokens']}+{call['completion_tokens']} tokens, finish {call['finish_reason']}"
        + (f", error: {call['error']}" if call["error"] else "")
        + ")"
    )


def _vote_lines(row: dict[str, Any], full: bool) -> list[str]:
    """The vote behind a verified_solutions row (its votes_json and mean_agreement). Per test, agreement =
    top votes / runs that ended normally (a candidate whose run crashed, timed out or was skipped casts no
    vote); mean agreement is the mean of that over the tests."""
    votes = json.loads(row["votes_json"]) if row.get("votes_json") else {}
    if not votes:
        return []
    verified = sum(1 for v in votes.values() if v["verified"])
    held_out = sum(1 for v in votes.values() if v["verified"] and v.get("holdout"))
    lines = [
        f"votes on {len(votes)} tests: {verified} verified ({held_out} held out to confirm the golden solution), "
        f"{len(votes) - verified} unverified; agreement = top votes / runs that ended normally, "
        f"mean {row['mean_agreement']:.2f} over the tests"
    ]
    if full:
        for test_id, v in votes.items():
            state = "verified" if v["verified"] else f"unverified ({v['reason']})"
            lines.append(
                f"  {test_id}: {v['top_votes']} of {v['voters']} normal runs agree (agreement {v['agreement']:.2f}; "
                f"{v['candidates']} candidates ran, {v['candidates'] - v['voters']} did not end normally), {state}"
                + (", held out" if v.get("holdout") else "")
            )
    else:
        shapes = Counter((v["top_votes"], v["voters"], v["candidates"]) for v in votes.values())
        lines.append(
            "  "
            + "; ".join(
                f"{n} test{'s' if n > 1 else ''}: {top} of {voters} normal runs agree ({top / voters if voters else 0:.2f}), "
                f"{cands - voters} of {cands} candidates' runs did not end normally"
                for (top, voters, cands), n in shapes.most_common()
            )
        )
    return lines


def cmd_trace(args: argparse.Namespace) -> int:
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.ids import ID_KINDS, kind_of

    row_id = args.row_id.strip()
    if kind_of(row_id) is None:
        raise CliError(
            f"{row_id!r} is not a row id: ids look like <kind>-<16 hex digits>, kinds: "
            + ", ".join(f"{k} ({v})" for k, v in ID_KINDS.items())
        )
    con = connect(args, views=False, usage_log=False)  # the walk reads only the files of the rows it visits
    if kind_of(row_id) == "call":
        call = warehouse.llm_call(con, row_id)
        if call is None:
            raise CliError(f"unknown LLM call id {row_id}: no asset's llm_calls holds it")
        _print_call(call, show_prompt=True)
        return 0
    walk = warehouse.trace_walk(con, row_id)
    chain = walk.steps
    if not chain:
        raise CliError(
            f"unknown row id {row_id}: no row of {ID_KINDS[kind_of(row_id)]} has it "
            "(it may come from an older materialization; run `xcoder status` to see what exists)"
        )
    if args.json:
        print(json.dumps(chain, indent=2, default=str))
        return 0
    by_id = {step["row_id"]: step for step in chain}
    calls = warehouse.trace_calls(con, walk)

    def votes_of(verified_id: str) -> dict[str, Any]:  # read from the row's own batch
        return warehouse.trace_row_values(con, walk, verified_id, ["votes_json", "mean_agreement"])

    lines = (_trace_full if args.full else _trace_short)(votes_of, row_id, by_id, calls)
    print("\n".join(lines))
    return 0


def _asset_rank() -> dict[str, int]:
    from xcoder_assets.store.tables import ASSET_TABLES

    return {t.name: i for i, t in enumerate(ASSET_TABLES)}


def _trace_short(votes_of, root: str, by_id: dict[str, dict], calls: dict[str, dict]) -> list[str]:
    """The row, then its ancestors stage by stage up to the seeds: one line per ancestor, and one line
    for three or more of one stage (what they are, a few ids, the LLM calls behind them). Every
    ancestor and every LLM call appears once."""
    rank = _asset_rank()
    shown_calls: set[str] = set()
    step = by_id[root]
    lines = [_node_line(step, calls, shown_calls, "") + f"  (run {step['run_id']})"]
    if step["asset"] == "verified_solutions":
        lines += ["  " + line for line in _vote_lines(votes_of(root), full=False)]
    ancestors = [s for s in by_id.values() if s["row_id"] != root]
    stages: dict[str, list[dict]] = {}
    for ancestor in sorted(ancestors, key=lambda s: (s["depth"], s["row_id"])):
        stages.setdefault(ancestor["asset"], []).append(ancestor)
    for level, asset in enumerate(sorted(stages, key=lambda a: -rank.get(a, -1)), start=1):
        members, indent = stages[asset], "  " * level
        if len(members) < 3:
            lines += [_node_line(m, calls, shown_calls, indent) for m in members]
        else:
            lines.append(_group_line(asset, members, calls, shown_calls, indent))
    missing = sorted({p for s in by_id.values() for p in s["parent_ids"] or [] if p not in by_id})
    if missing:
        lines.append(
            f"{len(missing)} parent(s) missing from their table (re-materialized since?): "
            + ", ".join(missing[:3])
            + (" …" if len(missing) > 3 else "")
        )
    lines.append(
        f"(xcoder trace {root} --full: every ancestor, each LLM call with its prompt and answer, the vote per test)"
    )
    return lines


def _node_line(step: dict, calls: dict[str, dict], shown_calls: set[str], indent: str) -> str:
    text = f"{indent}{step['asset']} {step['row_id']}: {' '.join(str(step['summary']).split())[:140]}"
    made_by = [_call_text(calls.get(c), c, shown_calls) for c in step["llm_call_ids"] or []]
    return text + ("  <- " + "; ".join(made_by) if made_by else "")


def _group_line(asset: str, steps: list[dict], calls: dict[str, dict], shown_calls: set[str], indent: str) -> str:
    labels = Counter(str(s["label"] or asset) for s in steps)
    # "<kind> inputs from the test generator" of several kinds: one figure, with the kinds inside it
    generated = {label.split(" inputs from ")[0]: n for label, n in labels.items() if " inputs from " in label}
    parts = [f"{n} {label}" for label, n in labels.most_common() if " inputs from " not in label or len(generated) < 2]
    if len(generated) >= 2:
        source = next(label for label in labels if " inputs from " in label).split(" inputs from ")[1]
        parts.append(
            f"{sum(generated.values())} inputs from {source} ("
            + ", ".join(f"{n} {kind}" for kind, n in sorted(generated.items(), key=lambda kv: -kv[1]))
            + ")"
        )
    ids = [s["row_id"] for s in steps]
    text = (
        f"{indent}{asset} x{len(steps)}: " + ", ".join(parts) + f" ({', '.join(ids[:3])}{' …' if len(ids) > 3 else ''})"
    )
    call_ids = list(dict.fromkeys(c for s in steps for c in s["llm_call_ids"] or []))
    if len(call_ids) == 1:
        text += "  <- " + _call_text(calls.get(call_ids[0]), call_ids[0], shown_calls)
    elif call_ids:
        hits = sum(1 for c in call_ids if calls.get(c) and calls[c]["cache_hit"])
        templates = sorted({calls[c]["template"] for c in call_ids if calls.get(c)})
        text += f"  <- {len(call_ids)} {'/'.join(templates)} calls ({hits} cache hits)"
        shown_calls.update(call_ids)
    return text


def _trace_full(votes_of, root: str, by_id: dict[str, dict], calls: dict[str, dict]) -> list[str]:
    """Every ancestor as a tree (each printed once; a shared one is referred back to), with each LLM
    call's request and answer printed once, and the vote of a verified solution test by test."""
    lines: list[str] = []
    shown_calls: set[str] = set()

    def show(row: str, depth: int, seen: set[str]) -> None:
        step = by_id[row]
        indent = "  " * depth
        lines.append(f"{indent}{step['asset']}  {step['row_id']}  (run {step['run_id']})")
        lines.append(f"{indent}  {' '.join(str(step['summary']).split())[:200]}")
        for call_id in step["llm_call_ids"] or []:
            first = call_id not in shown_calls
            lines.append(f"{indent}  LLM call: {_call_text(calls.get(call_id), call_id, shown_calls, model=True)}")
            if first and calls.get(call_id):
                lines.extend(_call_lines(calls[call_id], show_prompt=True, indent=indent + "    ")[1:])
        if step["asset"] == "verified_solutions":
            lines.extend(indent + "  " + line for line in _vote_lines(votes_of(row), full=True))
        for parent in step["parent_ids"] or []:
            if parent in seen:
                lines.append(f"{indent}  (parent {parent}: shown above)")
            elif parent in by_id:
                seen.add(parent)
                show(parent, depth + 1, seen)
            else:
                lines.append(f"{indent}  parent {parent} is missing from its table (re-materialized since?)")

    show(root, 0, {root})
    return lines


def _call_lines(call: dict[str, Any], show_prompt: bool, indent: str = "") -> list[str]:
    lines = [
        f"{indent}call {call['call_id']} ({call['asset']}, role {call['role']}, model {call['model']}, "
        f"template {call['template']})"
    ]
    if show_prompt:
        request = json.loads(call["request_json"])
        for message in request.get("messages", []):
            lines.append(f"{indent}--- {message['role']} ---")
            lines.extend(indent + line for line in str(message["content"]).splitlines())
        if call["reasoning"]:
            lines.append(f"{indent}--- reasoning ---")
            lines.extend(indent + line for line in str(call["reasoning"]).splitlines())
        lines.append(f"{indent}--- answer (finish_reason {call['finish_reason']}) ---")
        lines.extend(indent + line for line in (call["content"] or "").splitlines())
        if call["error"]:
            lines.append(f"{indent}--- error ---")
            lines.append(f"{indent}{call['error']}")
    return lines


def _print_call(call: dict[str, Any], show_prompt: bool, indent: str = "") -> None:
    print("\n".join(_call_lines(call, show_prompt, indent)))


# ---- sql ---------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    trace = sub.add_parser(
        "trace", help="the lineage of a row back to its seeds (one line per ancestor; --full for all)"
    )
    trace.add_argument("row_id")
    trace.add_argument("--json", action="store_true")
    trace.add_argument(
        "--full",
        action="store_true",
        help="every ancestor with its LLM calls' prompts and answers, and the vote test by test",
    )
    trace.add_argument("--show-prompts", dest="full", action="store_true", help=argparse.SUPPRESS)  # the old name
    trace.set_defaults(func=cmd_trace)
