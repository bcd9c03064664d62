"""What several commands share: the error they raise, the data directory, the environment of one command,
the sandbox flags. Only the standard library at import: each command imports what it needs when it runs."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable


class CliError(Exception):
    """One clear message for the user: printed as `xcoder: error: ...`, exit status 2."""


NO_DAGSTER_HOME = (
    "DAGSTER_HOME is not set and there is no .dagster_home here (run from the project folder, or set DAGSTER_HOME)"
)


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("XCODER_DATA_DIR") or "data")


@contextlib.contextmanager
def command_environment(args: argparse.Namespace):
    """For one command: --data-dir reaches everything that reads XCODER_DATA_DIR (the assets' storage
    resource among them), and without DAGSTER_HOME the project's `.dagster_home` in the working
    directory is used, as `make` sets it. The environment is restored afterwards."""
    saved = {name: os.environ.get(name) for name in ("XCODER_DATA_DIR", "DAGSTER_HOME")}
    if getattr(args, "data_dir", None):
        os.environ["XCODER_DATA_DIR"] = str(Path(args.data_dir).resolve())
    home = Path.cwd() / ".dagster_home"
    if not os.environ.get("DAGSTER_HOME") and (home / "dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(home)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(args: argparse.Namespace, views: bool = True, lineage: bool = True, usage_log: bool = True):
    from xcoder_assets.store import warehouse

    try:
        return warehouse.connect(data_dir(args), views=views, lineage=lineage, usage_log=usage_log)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False)) or os.environ.get("XCODER_DEBUG", "") not in ("", "0")


def silence_import_noise() -> None:
    """Warnings about our dependencies' own code, not the user's business (filtered narrowly, by text)."""
    # pydantic warns once per litellm TypedDict that uses ReadOnly, at litellm's import.
    warnings.filterwarnings("ignore", message=r".*TypedDict class .* the `ReadOnly` qualifier", category=UserWarning)
    import dagster as dg

    # Dagster's notices about the Dagster APIs this command itself uses (beta / preview / superseded).
    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)


def load_run_config(paths: list[str]) -> dict[str, Any]:
    """--config files (YAML or JSON), merged in order."""
    import yaml

    merged: dict[str, Any] = {}

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    for path in paths:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"--config {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CliError(f"--config {path}: not YAML or JSON ({str(exc).splitlines()[0]})") from None
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise CliError(f"--config {path}: run config must be a mapping (ops: {{<asset>: {{config: ...}}}})")
        merge(merged, loaded)
    return merged


def default_image() -> str:
    """The docker backend's image, read from the sandbox package only when a sandbox command runs."""
    from xcoder_assets.sandbox.backends import DEFAULT_IMAGE

    return DEFAULT_IMAGE


def sandbox_name(text: str) -> str:
    """--sandbox: bwrap, docker, none, or judge servers (http(s)://host:port, comma-separated)."""
    if text in ("bwrap", "docker", "none"):
        return text
    addresses = text.split(",")
    if all(a.startswith(("http://", "https://")) and len(a.split("://", 1)[1]) > 0 for a in addresses):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r}: choose bwrap, docker, none or http(s)://judge-server[,...] (xcoder judge-server)"
    )


def open_backend(args: argparse.Namespace):
    """The sandbox the judge commands run programs in, or one clear error."""
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend

    try:
        return make_backend(
            args.sandbox,
            image=args.image or default_image(),
            allow_unsafe=args.allow_unsafe_sandbox,
            fresh_sandbox=getattr(args, "fresh_sandbox", False),
        )
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None


def progress_meter(label: str):
    from xcoder_assets.present.progress import ProgressMeter

    return ProgressMeter(label, lambda line: print(line, file=sys.stderr, flush=True))


def workers_default() -> int:
    return os.cpu_count() or 2


class RecipeDefault:
    """A flag's default that belongs to a recipe settings type: the flag left out passes nothing (the settings
    type fills it in), and help (`%(default)s`) reads the value only when it is printed, so building the parser
    imports no recipe, gateway or litellm."""

    def __init__(self, read: Callable[[str], Any], name: str) -> None:
        self.read, self.name = read, name

    def __str__(self) -> str:
        return str(self.read(self.name))

    @classmethod
    def factory(cls, read: Callable[[str], Any]) -> Callable[[str], RecipeDefault]:
        return lambda name: cls(read, name)


def given(args: argparse.Namespace, fields: dict[str, str]) -> dict[str, Any]:
    """{settings field: value} of the flags (dest -> field) the user set; the others stay the settings'."""
    return {
        field: getattr(args, dest)
        for dest, field in fields.items()
        if not isinstance(getattr(args, dest), RecipeDefault)
    }
