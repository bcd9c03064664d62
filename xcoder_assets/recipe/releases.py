"""LiveCodeBench releases as the release sensor sees them: a local folder of the dataset's raw
test*.jsonl files or a Hugging Face dataset repo, fingerprinted (a quick stat and a content digest) so
that a new release is told from files touched with the same content. No Dagster import: the sensor and
its resource (defs/) wrap this."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from xcoder_assets.store.ids import named_files_sha256

LCB_FILE = re.compile(r"test(\d*)\.jsonl")


class ReleaseSourceError(ValueError):
    """The release source cannot be read; the message names it."""


@dataclass(frozen=True)
class ReleaseState:
    """What the sensor saw: the source, the release tag, a quick stat fingerprint and the content digest
    (a folder) or the dataset commit (the Hub)."""

    source: str
    release: str
    stat: str
    digest: str

    def cursor(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_cursor(cursor: str | None) -> "ReleaseState | None":
        if not cursor:
            return None
        try:
            return ReleaseState(**json.loads(cursor))
        except (ValueError, TypeError):  # a cursor of another format: treat as never seen
            return None


def _release_number(name: str) -> int:
    match = LCB_FILE.fullmatch(name)
    return int(match.group(1) or 1) if match else 0


def folder_stat(folder: Path) -> tuple[str, list[Path]]:
    """The test*.jsonl files of a folder and a fingerprint of their names, sizes and mtimes (cheap)."""
    if not folder.is_dir():
        raise ReleaseSourceError(f"LiveCodeBench release folder {folder} does not exist")
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and LCB_FILE.fullmatch(p.name)),
        key=lambda p: _release_number(p.name),
    )
    stat = hashlib.sha256(json.dumps([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]).encode())
    return stat.hexdigest()[:16], files


def folder_digest(files: Sequence[Path]) -> str:
    """A hash of the files' names and contents: a touched but unchanged file is not a new release."""
    return named_files_sha256((path.name, path) for path in files)[:16]


def folder_release(folder: Path, seen: ReleaseState | None) -> ReleaseState | None:
    """The folder's release now (None: no test*.jsonl yet); the contents are hashed only when the stat changed."""
    stat, files = folder_stat(folder)
    if not files:
        return None
    release = f"release_v{max(_release_number(p.name) for p in files)}"
    source = f"dir:{folder.resolve()}"
    if seen is not None and seen.source == source and seen.stat == stat:
        return seen
    return ReleaseState(source, release, stat, folder_digest(files))


def hub_release(repo_id: str, cache_dir: Path | None = None, offline: bool | None = None) -> ReleaseState:
    """The dataset repo's current commit: asked of the Hub, or, offline (HF_HUB_OFFLINE=1), read from the
    local Hub cache's refs/main (what a pre-fetched cache holds)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.file_download import repo_folder_name

    offline = constants.is_offline_mode() if offline is None else offline
    if offline:
        ref = (
            Path(cache_dir or constants.HF_HUB_CACHE)
            / repo_folder_name(repo_id=repo_id, repo_type="dataset")
            / "refs"
            / "main"
        )
        if not ref.is_file():
            raise ReleaseSourceError(
                f"dataset {repo_id} is not in the local Hub cache ({ref} missing) and HF_HUB_OFFLINE is set"
            )
        sha = ref.read_text(encoding="utf-8").strip()
    else:
        try:
            sha = HfApi().dataset_info(repo_id).sha or ""
        except Exception as exc:  # network, auth, unknown repo: one message naming the repo
            raise ReleaseSourceError(f"dataset {repo_id}: {type(exc).__name__}: {exc}") from None
    return ReleaseState(f"hf:{repo_id}", "release_latest", sha, sha)
