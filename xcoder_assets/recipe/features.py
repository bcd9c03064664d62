"""Feature trees (SynthSmith stage 1): their schema, parsing from model answers, and merging.

A feature tree is a JSON object with the 11 categories of the recipe as keys; inner values are
objects of sub-categories, leaves are lists of short feature names. `summary` (and any other
free-text value) is kept per seed but dropped from the merged tree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

from xcoder_assets.llm.answers import extract_json
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.store.ids import make_id
from xcoder_assets.present.progress import LLM_COUNTS, ProgressMeter

CATEGORIES: tuple[str, ...] = (
    "programming_language",
    "problem_domain",
    "algorithmic_paradigm",
    "algorithms",
    "mathematics",
    "problem_solving_strategies",
    "data_structures",
    "coding_techniques",
    "complexity_analysis",
    "optimization_techniques",
    "summary",
)
FREE_TEXT_CATEGORIES = frozenset({"summary"})
MAX_FEATURE_CHARS = 120  # longer "features" are sentences, not feature names

Tree = dict[str, Any]


class FeatureTreeError(ValueError):
    pass


def category_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(key).strip().lower()).strip("_")


def clean_leaf(value: Any) -> str | None:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    return text if text and len(text) <= MAX_FEATURE_CHARS else None


def _normalize_node(value: Any, where: str, warnings: list[str]) -> Any:
    """Nested dicts keep their shape; anything list-like becomes a list of clean feature names."""
    if isinstance(value, dict):
        node = {}
        for key, child in value.items():
            name = " ".join(str(key).split())
            if not name:
                warnings.append(f"{where}: empty key dropped")
                continue
            normalized = _normalize_node(child, f"{where}/{name}", warnings)
            if normalized not in ({}, []):
                node[name] = normalized
        return node
    items = value if isinstance(value, list) else [value]
    leaves: list[str] = []
    for item in items:
        if isinstance(item, dict):  # models sometimes nest objects in lists: keep their features
            nested = _normalize_node(item, where, warnings)
            leaves += [leaf for _, _, leaf in _walk(nested, ())]
            continue
        leaf = clean_leaf(item)
        if leaf is None:
            if item not in (None, ""):
                warnings.append(f"{where}: value {str(item)[:40]!r} is not a short feature name")
            continue
        if leaf not in leaves:
            leaves.append(leaf)
    return leaves


def normalize_tree(value: Any) -> tuple[Tree, list[str]]:
    """Coerce a parsed answer into the schema, or raise FeatureTreeError saying why it cannot be."""
    if not isinstance(value, dict):
        raise FeatureTreeError(f"the answer is a JSON {type(value).__name__}, not an object of categories")
    warnings: list[str] = []
    tree: Tree = {}
    for key, child in value.items():
        category = category_key(key)
        if category not in CATEGORIES:
            warnings.append(f"unknown category {key!r} dropped")
            continue
        if category in FREE_TEXT_CATEGORIES:
            text = child if isinstance(child, str) else " ".join(map(str, child)) if isinstance(child, list) else ""
            tree[category] = " ".join(text.split())
            continue
        tree[category] = _normalize_node(child, category, warnings)
    if not any(c in tree for c in CATEGORIES if c not in FREE_TEXT_CATEGORIES):
        raise FeatureTreeError(
            f"none of the {len(CATEGORIES)} feature categories is in the answer (keys: {list(value)[:8]})"
        )
    return tree, warnings


def _walk(node: Any, path: tuple[str, ...]):
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, (*path, key))
    elif isinstance(node, list):
        for leaf in node:
            yield path[:-1], path[-1] if path else "", leaf


def tree_leaves(tree: Tree) -> list[tuple[str, tuple[str, ...], str]]:
    """(category, path below the category, feature) for every leaf, free text excluded, in order."""
    out = []
    for category in tree:
        if category in FREE_TEXT_CATEGORIES:
            continue
        node = tree[category]
        if isinstance(node, list):
            out += [(category, (), leaf) for leaf in node]
        else:
            for parent, key, leaf in _walk(node, ()):
                out.append((category, (*parent, key), leaf))
    return out


FeatureStatus = Literal["ok", "parse_error", "truncated", "llm_error"]


@dataclass(frozen=True)
class ParsedFeatures:
    status: FeatureStatus
    tree: Tree | None
    error: str | None
    warnings: tuple[str, ...] = ()


def parse_feature_answer(answer: str, *, truncated: bool = False, llm_error: str | None = None) -> ParsedFeatures:
    """A model answer to the extraction prompt -> a validated tree, or the reason there is none.

    A truncated answer is marked `truncated` even when JSON repair could close it: a tree cut off
    mid-way misses features silently, so it is kept for inspection but not merged.
    """
    if llm_error:
        return ParsedFeatures("llm_error", None, llm_error)
    parsed = extract_json(answer, dict)
    if parsed.error:
        return ParsedFeatures("truncated" if truncated else "parse_error", None, parsed.error)
    try:
        tree, warnings = normalize_tree(parsed.value)
    except FeatureTreeError as exc:
        return ParsedFeatures("truncated" if truncated else "parse_error", None, str(exc))
    if truncated:
        return ParsedFeatures("truncated", tree, "answer cut off at max_tokens (finish_reason=length)", tuple(warnings))
    if parsed.repaired:
        warnings.insert(0, "JSON repaired")
    return ParsedFeatures("ok", tree, None, tuple(warnings))


def feature_key(text: str) -> str:
    """Exact-duplicate key of a feature name: case and whitespace do not make a new feature."""
    return " ".join(text.casefold().split())


@dataclass
class MergedLeaf:
    category: str
    path: tuple[str, ...]
    feature: str
    sources: list[str] = field(default_factory=list)


def merge_trees(trees: list[tuple[str, Tree]]) -> list[MergedLeaf]:
    """Union of trees (source id, tree), free text dropped, leaves deduplicated in first-seen order.

    Sub-category names are matched case-insensitively too, so `Graph Algorithms` and
    `graph algorithms` are one branch (the first spelling is kept).
    """
    branch_names: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
    merged: dict[tuple[str, tuple[str, ...], str], MergedLeaf] = {}
    for source_id, tree in trees:
        for category, path, feature in tree_leaves(tree):
            path_key = (category, tuple(feature_key(p) for p in path))
            path = branch_names.setdefault(path_key, path)
            key = (category, path_key[1], feature_key(feature))
            leaf = merged.get(key)
            if leaf is None:
                leaf = merged[key] = MergedLeaf(category, path, feature)
            if source_id not in leaf.sources:
                leaf.sources.append(source_id)
    return list(merged.values())


def leaves_to_tree(leaves: list[MergedLeaf]) -> Tree:
    """The nested-dict form of merged leaves (what later stages sample subtrees from)."""
    tree: Tree = {}
    for leaf in leaves:
        if not leaf.path:
            tree.setdefault(leaf.category, [])
            node = tree[leaf.category]
            if isinstance(node, dict):
                node = node.setdefault("general", [])
            node.append(leaf.feature)
            continue
        node = tree.setdefault(leaf.category, {})
        if isinstance(node, list):  # a category with direct leaves and sub-categories
            node = tree[leaf.category] = {"general": node}
        for part in leaf.path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, list):
                child = node[part] = {"general": child}
            node = child
        bucket = node.setdefault(leaf.path[-1], [])
        if isinstance(bucket, dict):
            bucket = bucket.setdefault("general", [])
        bucket.append(leaf.feature)
    return tree


# ---- rows of features and feature_tree ----------------------------------------------------------


def feature_row(
    seed_id: str, parsed: ParsedFeatures, call_id: str, model: str, template: str, run_id: str
) -> dict[str, Any]:
    """One features row: the parsed tree of one seed's extraction call, or why there is none."""
    leaves = tree_leaves(parsed.tree) if parsed.tree else []
    return {
        "feature_id": make_id("feat", {"call": call_id, "status": parsed.status}, [seed_id]),
        "seed_id": seed_id,
        "status": parsed.status,
        "error": parsed.error or ("; ".join(parsed.warnings) if parsed.warnings else None),
        "tree_json": json.dumps(parsed.tree) if parsed.tree is not None else None,
        "leaf_count": len(leaves),
        "categories": [c for c in (parsed.tree or {}) if c not in FREE_TEXT_CATEGORIES],
        "llm_call_id": call_id,
        "model": model,
        "template": template,
        "run_id": run_id,
    }


def tree_rows(merged: list[MergedLeaf], run_id: str) -> list[dict[str, Any]]:
    """One feature_tree row per merged leaf, in first-seen order; the id ignores case, like the merge."""
    return [
        {
            "node_id": make_id(
                "node",
                {
                    "category": leaf.category,
                    "path": [p.casefold() for p in leaf.path],
                    "feature": leaf.feature.casefold(),
                },
            ),
            "category": leaf.category,
            "path": list(leaf.path),
            "feature": leaf.feature,
            "position": position,
            "source_feature_ids": leaf.sources,
            "run_id": run_id,
        }
        for position, leaf in enumerate(merged)
    ]


def leaves_per_category(categories: list[str]) -> dict[str, int]:
    """Leaves per (non free-text) category, every category listed, in the recipe's order."""
    counts: dict[str, int] = {}
    for category in categories:
        counts[category] = counts.get(category, 0) + 1
    return {c: counts.get(c, 0) for c in CATEGORIES if c not in FREE_TEXT_CATEGORIES}


# ---- the stage: features ----------------------------------------------------------------------------


def extract_features(
    seeds: Iterable[dict[str, Any]],
    template: PromptTemplate,
    run_id: str,
    ask: Callable[[list[LLMRequest], Any], list[LLMResult]],
    log: Callable[[str], Any],
) -> tuple[list[dict[str, Any]], list[LLMResult]]:
    """One extract call per seed_problems row, and its features row: the parsed tree or why there is none.
    Returns the rows and the calls' results, in seed order."""
    seeds = list(seeds)
    requests = [
        LLMRequest.of("extract", template.render(question=s["question"], code=s["solution"]), template.id, s["seed_id"])
        for s in seeds
    ]
    results = ask(requests, ProgressMeter("features: LLM calls", log, **LLM_COUNTS))
    rows = [
        feature_row(
            seed["seed_id"],
            parse_feature_answer(result.content, truncated=result.truncated, llm_error=result.error),
            result.call_id,
            result.model,
            template.id,
            run_id,
        )
        for seed, result in zip(seeds, results)
    ]
    return rows, results
