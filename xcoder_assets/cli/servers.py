"""`xcoder judge-server` (the sandbox over HTTP) and `xcoder fake-llm-server` (a local OpenAI-compatible fake)."""

from __future__ import annotations

import argparse

from xcoder_assets.cli.common import CliError, default_image, workers_default


def cmd_fake_server(args: argparse.Namespace) -> int:
    from xcoder_assets.simulator import fake_server

    fake_server.main(["--port", str(args.port), "--latency", str(args.latency), "--hang", str(args.hang)])
    return 0


def cmd_judge_server(args: argparse.Namespace) -> int:
    from xcoder_assets.sandbox.backends import SandboxUnavailable
    from xcoder_assets.sandbox.service import ServerSettings, read_token, run_forever

    try:
        settings = ServerSettings(
            host=args.host,
            port=args.port,
            token=read_token(args.token_file),
            backend=args.sandbox,
            image=args.image or default_image(),
            jobs=args.jobs,
            queue=args.queue,
            max_request_bytes=args.max_request_mb << 20,
            fresh_sandbox=args.fresh_sandbox,
        )
        run_forever(settings, announce=lambda line: print(line, flush=True))
    except (SandboxUnavailable, ValueError, OSError) as exc:
        raise CliError(f"judge-server: {exc}") from None
    return 0


def add_judge_server_parser(sub: argparse._SubParsersAction) -> None:
    server = sub.add_parser(
        "judge-server",
        help="serve the sandbox over HTTP to judges on other hosts (token: $XCODER_JUDGE_TOKEN or --token-file)",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind; beyond loopback only with a token")
    server.add_argument("--port", type=int, default=8080, help="0: a free port, printed at start")
    server.add_argument("--token-file", help="file holding the bearer token (default: $XCODER_JUDGE_TOKEN_FILE)")
    server.add_argument("--sandbox", choices=["bwrap", "docker"], default="bwrap")
    server.add_argument("--image", default=None, help="the docker backend's image")  # None: the sandbox's own
    server.add_argument("--jobs", type=int, default=workers_default(), help="programs run at once")
    server.add_argument("--queue", type=int, default=64, help="programs waiting for a slot; more get 503")
    server.add_argument("--max-request-mb", type=int, default=64, help="largest request (one program, its tests)")
    server.add_argument("--fresh-sandbox", action="store_true", help="a new sandbox for every program")
    server.set_defaults(func=cmd_judge_server)


def add_fake_server_parser(sub: argparse._SubParsersAction) -> None:
    fake = sub.add_parser("fake-llm-server", help="serve a local OpenAI-compatible fake (for bench and tests)")
    fake.add_argument("--port", type=int, default=0, help="0 (default): a free port, printed at start")
    fake.add_argument("--latency", type=float, default=0.2, help="seconds before every answer")
    fake.add_argument("--hang", type=float, default=3600.0, help="seconds a 'timeout' scenario hangs")
    fake.set_defaults(func=cmd_fake_server)
