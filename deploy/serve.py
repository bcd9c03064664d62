"""`make serve` / `make stop`: a Postgres-backed Dagster deployment on this machine.

Four processes, each its own, logs in one folder (<dir>/logs):
  postgres    Debian's postgresql, data in <dir>/postgres, on 127.0.0.1 at a free port
  grpc        the code location as a gRPC server (`dagster api grpc -m xcoder_assets.definitions`)
  webserver   dagster-webserver on --port (default 3000, or a free one when 3000 is taken)
  daemon      dagster-daemon (schedules, sensors, the run queue, automation)

    .venv/bin/python deploy/serve.py start [--dir .serve] [--port 3000]
    .venv/bin/python deploy/serve.py status|stop [--dir .serve]

Several deployments can run side by side (each its own --dir, every port free-picked); `stop` ends
only the processes its own state file names, after checking each is still the one it started.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pwd
import secrets
import shutil
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEPLOY = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PG_USER, PG_DB = "dagster", "dagster"
LOCATION = "xcoder_assets"
ORDER = ["grpc", "webserver", "daemon"]  # started in this order, stopped in the reverse


class ServeError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port: SO_REUSEADDR as the webserver sets it, so sockets of a
    server that just stopped (TIME_WAIT) do not count as taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def pg_bin(name: str) -> str:
    """A PostgreSQL program: the newest Debian version's, else PATH; install-postgres.sh when missing."""
    for attempt in range(2):
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if versions and (versions[-1] / name).exists():
            return str(versions[-1] / name)
        if shutil.which(name):
            return shutil.which(name)
        if attempt == 0:
            subprocess.run(["bash", str(DEPLOY / "install-postgres.sh")], check=True)
    raise ServeError(f"PostgreSQL's {name} not found; run deploy/install-postgres.sh as root")


def _searchable_by_others(path: Path) -> bool:
    return all(parent.stat().st_mode & 0o001 for parent in [path, *path.parents] if parent.exists())


# As root, postgres runs as Debian's `postgres` user, who must reach its data folder through every parent.
# A project in a private folder (/root, a mktemp folder) cannot be reached, so the cluster then lives here,
# one folder per serve folder; everything else stays in the serve folder.
SHARED_PG_ROOT = Path("/var/lib/xcoder-serve")


class Layout:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.logs = self.root / "logs"
        pg_home = self.root
        if os.geteuid() == 0 and not _searchable_by_others(self.root):
            pg_home = SHARED_PG_ROOT / hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        self.pgdata = pg_home / "postgres"
        self.pglog = (pg_home / "postgres.log") if pg_home != self.root else self.logs / "postgres.log"
        self.home = self.root / "dagster_home"
        self.state = self.root / "state.json"
        self.secret = self.root / "pg_password"
        self.workspace = self.root / "workspace.yaml"

    def read_state(self) -> dict | None:
        return json.loads(self.state.read_text()) if self.state.exists() else None


# ---- postgres ---------------------------------------------------------------------------------


def _as_pg_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _check_reachable(path: Path) -> None:
    """As root, the postgres user must be able to reach the data folder through every parent."""
    if os.geteuid() != 0:
        return
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise ServeError(
                f"{parent} is not searchable by other users, so Debian's postgres user cannot reach "
                f"{path}: use --dir under a folder others can enter"
            )


def _chown_pg(*paths: Path) -> None:
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, owner.pw_uid, owner.pw_gid)


def init_postgres(layout: Layout) -> str:
    """initdb once (scram password auth, a generated password kept in <dir>/pg_password, mode 600)."""
    if layout.secret.exists() and (layout.pgdata / "PG_VERSION").exists():
        return layout.secret.read_text().strip()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ServeError("no `postgres` user: install Debian's postgresql (deploy/install-postgres.sh)") from None
    layout.pgdata.parent.mkdir(parents=True, exist_ok=True)
    if layout.pgdata.parent != layout.root:  # the shared folder: enterable by the postgres user
        for folder in (SHARED_PG_ROOT, layout.pgdata.parent):
            folder.chmod(0o755)
    _check_reachable(layout.pgdata.parent)
    password = secrets.token_urlsafe(24)
    layout.pgdata.mkdir(parents=True, exist_ok=True)
    layout.pgdata.chmod(0o700)
    _chown_pg(layout.pgdata)
    pwfile = layout.pgdata.parent / ".pg_init_password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    _chown_pg(pwfile)
    try:
        subprocess.run(
            _as_pg_owner(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(layout.pgdata),
                    "-U",
                    PG_USER,
                    "-E",
                    "UTF8",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--no-instructions",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    layout.secret.write_text(password + "\n")
    layout.secret.chmod(0o600)
    return password


def start_postgres(layout: Layout, port: int) -> None:
    log = layout.pglog
    log.touch()
    _chown_pg(log)
    if log.parent != layout.logs:  # the cluster lives outside the serve folder: its log shows up in logs/ too
        link = layout.logs / "postgres.log"
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(log)
    options = f"-p {port} -k {layout.pgdata} -c listen_addresses=127.0.0.1"
    result = subprocess.run(
        _as_pg_owner(
            [pg_bin("pg_ctl"), "-D", str(layout.pgdata), "-l", str(log), "-w", "-t", "60", "-o", options, "start"]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        raise ServeError(f"postgres did not start (see {log}):\n{result.stdout[-2000:]}")


def ensure_database(port: int, password: str) -> None:
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            con = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, password=password, dbname="postgres")
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {PG_DB}")
    con.close()


def stop_postgres(layout: Layout) -> None:
    if (layout.pgdata / "postmaster.pid").exists():
        subprocess.run(
            _as_pg_owner([pg_bin("pg_ctl"), "-D", str(layout.pgdata), "-m", "fast", "-w", "-t", "60", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


# ---- the dagster processes ---------------------------------------------------------------------


def environment(layout: Layout, state: dict) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(layout.home),
            "XCODER_PG_HOST": "127.0.0.1",
            "XCODER_PG_PORT": str(state["pg_port"]),
            "XCODER_PG_USER": PG_USER,
            "XCODER_PG_PASSWORD": layout.secret.read_text().strip(),
            "XCODER_PG_DB": PG_DB,
            "XCODER_SERVE_COMPUTE_LOGS": str(layout.root / "compute_logs"),
            "XCODER_SERVE_ARTIFACTS": str(layout.root / "artifacts"),
            "XCODER_DATA_DIR": state["data_dir"],
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    return env


def commands(layout: Layout, state: dict) -> dict[str, list[str]]:
    workspace = str(layout.workspace)
    return {
        "grpc": [
            str(BIN / "dagster"),
            "api",
            "grpc",
            "-m",
            state["module"],
            "-h",
            "127.0.0.1",
            "-p",
            str(state["grpc_port"]),
            "--location-name",
            LOCATION,
            "-d",
            str(PROJECT),
        ],
        "webserver": [str(BIN / "dagster-webserver"), "-h", state["host"], "-p", str(state["port"]), "-w", workspace],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }


def _spawn(name: str, cmd: list[str], layout: Layout, env: dict[str, str]) -> int:
    log = (layout.logs / f"{name}.log").open("ab")
    # its own session: stop signals the whole group (the webserver and daemon fork children)
    process = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=PROJECT,
        start_new_session=True,
    )
    log.close()
    return process.pid


def markers(layout: Layout, state: dict) -> dict[str, str]:
    """What each process's command line holds that no other process's does: stop checks it before a signal."""
    return {
        "grpc": f"-p {state['grpc_port']} --location-name",
        "webserver": str(layout.workspace),
        "daemon": str(layout.workspace),
    }


def _alive(pid: int, marker: str) -> bool:
    """The process is running and is still the one we started (its command line names our marker)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def _wait_grpc(port: int, pid: int, marker: str, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid, marker):
            raise ServeError(f"the code server exited; see {log}:\n{log.read_text(errors='replace')[-3000:]}")
        result = subprocess.run(
            [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if result.returncode == 0:
            return
        time.sleep(1)
    raise ServeError(f"the code server did not answer on port {port} within {timeout_s:.0f}s; see {log}")


def _wait_http(url: str, pid: int, marker: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid, marker):
            raise ServeError(f"the webserver exited; see {log}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise ServeError(f"{url} did not answer within {timeout_s:.0f}s; see {log}")


def apply_pool_limits(env: dict[str, str]) -> dict[str, int]:
    """Each pool's own limit (operations.POOL_LIMITS) into the instance, as `dagster instance concurrency set` would."""
    code = (
        "import json; from dagster import DagsterInstance; "
        "from xcoder_assets.defs.operations import POOL_LIMITS; i = DagsterInstance.get(); "
        "[i.event_log_storage.set_concurrency_slots(k, v) for k, v in POOL_LIMITS.items()]; "
        "print(json.dumps(POOL_LIMITS))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServeError(f"setting the pool limits failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def start(args: argparse.Namespace) -> int:
    layout = Layout(Path(args.dir))
    state = layout.read_state()
    if state and all(_alive(state["pids"].get(n, -1), markers(layout, state)[n]) for n in ORDER):
        print(f"already running: http://{state['host']}:{state['port']} (logs in {layout.logs})")
        return 0
    if state:  # a partial or dead deployment: clear it first
        stop(args, quiet=True)
    for folder in (layout.root, layout.logs, layout.home, layout.root / "compute_logs", layout.root / "artifacts"):
        folder.mkdir(parents=True, exist_ok=True)
    port = args.port
    if not port_free(port, args.host):
        port = free_port(args.host)
        print(f"port {args.port} is taken; the webserver uses {port}")
    state = {
        "host": args.host,
        "port": port,
        "pg_port": free_port(),
        "grpc_port": free_port(),
        "module": args.module,
        "data_dir": str(Path(args.data_dir).resolve()),
        "pids": {},
    }
    Path(state["data_dir"]).mkdir(parents=True, exist_ok=True)
    password = init_postgres(layout)
    start_postgres(layout, state["pg_port"])
    layout.state.write_text(json.dumps(state, indent=2))  # from here on, stop can undo what start did
    ensure_database(state["pg_port"], password)
    shutil.copyfile(DEPLOY / "dagster.yaml", layout.home / "dagster.yaml")
    layout.workspace.write_text(
        "# written by deploy/serve.py: the code location's gRPC server of this deployment\nload_from:\n"
        f"  - grpc_server:\n      host: 127.0.0.1\n      port: {state['grpc_port']}\n      location_name: {LOCATION}\n"
    )
    env = environment(layout, state)
    cmds = commands(layout, state)
    state["pids"]["grpc"] = _spawn("grpc", cmds["grpc"], layout, env)
    layout.state.write_text(json.dumps(state, indent=2))
    state["pools"] = apply_pool_limits(env)  # while the code server loads
    marks = markers(layout, state)
    _wait_grpc(state["grpc_port"], state["pids"]["grpc"], marks["grpc"], layout.logs / "grpc.log")
    for name in ("webserver", "daemon"):
        state["pids"][name] = _spawn(name, cmds[name], layout, env)
        layout.state.write_text(json.dumps(state, indent=2))
    url = f"http://{args.host}:{port}"
    _wait_http(f"{url}/server_info", state["pids"]["webserver"], marks["webserver"], layout.logs / "webserver.log")
    print(
        f"Dagster UI: {url}\nprocesses: postgres (port {state['pg_port']}), code server (port {state['grpc_port']}), "
        f"webserver, daemon\nlogs: {layout.logs}\ndata: {state['data_dir']}\nstop: make stop\n"
        f'dagster CLI against this deployment: eval "$(make -s serve-env)", then e.g. `.venv/bin/dagster run list`\n'
        "The catalog starts with this deployment's own run history (its Postgres), so assets show \"Never\n"
        'materialized" until a run here records them, although the data folder is the same: materialize from\n'
        "the UI, or `make -s serve-env` then `.venv/bin/xcoder materialize`."
    )
    return 0


def env(args: argparse.Namespace) -> int:
    """Shell exports that point the dagster and xcoder commands at the running deployment."""
    layout = Layout(Path(args.dir))
    state = layout.read_state()
    if state is None:
        raise ServeError(f"not running ({layout.root}): make serve first")
    names = ("DAGSTER_HOME", "XCODER_PG_HOST", "XCODER_PG_PORT", "XCODER_PG_USER", "XCODER_PG_PASSWORD", "XCODER_PG_DB")
    names += ("XCODER_SERVE_COMPUTE_LOGS", "XCODER_SERVE_ARTIFACTS", "XCODER_DATA_DIR")
    values = environment(layout, state)
    for name in names:
        print(f"export {name}={shlex.quote(values[name])}")
    return 0


def clean(args: argparse.Namespace) -> int:
    """Stop the deployment and remove what it keeps: its folder and its Postgres cluster."""
    layout = Layout(Path(args.dir))
    stop(args, quiet=True)
    for folder in {layout.root, layout.pgdata.parent} - {PROJECT}:
        if folder.exists():
            shutil.rmtree(folder)
            print(f"removed {folder}")
    return 0


def stop(args: argparse.Namespace, quiet: bool = False) -> int:
    layout = Layout(Path(args.dir))
    state = layout.read_state()
    if state is None:
        if not quiet:
            print(f"nothing running from {layout.root}")
        stop_postgres(layout)
        return 0
    marks = markers(layout, state)
    for name in reversed(ORDER):
        pid = state["pids"].get(name)
        if pid and _alive(pid, marks[name]):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    deadline = time.monotonic() + 30
    for name in reversed(ORDER):
        pid = state["pids"].get(name)
        while pid and _alive(pid, marks[name]) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid and _alive(pid, marks[name]):
            os.killpg(pid, signal.SIGKILL)
        if pid:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
    stop_postgres(layout)
    layout.state.unlink(missing_ok=True)
    if not quiet:
        print(f"stopped (logs kept in {layout.logs})")
    return 0


def status(args: argparse.Namespace) -> int:
    layout = Layout(Path(args.dir))
    state = layout.read_state()
    if state is None:
        print(f"not running ({layout.root})")
        return 1
    marks = markers(layout, state)
    up = {name: _alive(state["pids"].get(name, -1), marks[name]) for name in ORDER}
    pg = (
        subprocess.run(
            [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(state["pg_port"])], stdout=subprocess.DEVNULL
        ).returncode
        == 0
    )
    print(
        json.dumps(
            {"url": f"http://{state['host']}:{state['port']}", "postgres": pg, **up, "logs": str(layout.logs)}, indent=2
        )
    )
    return 0 if pg and all(up.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "env", "clean"])
    parser.add_argument(
        "--dir",
        default=os.environ.get("SERVE_DIR", str(PROJECT / ".serve")),
        help="where the deployment keeps postgres data, logs and state (default .serve)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SERVE_PORT", "3000")),
        help="the webserver's port (a free one when taken)",
    )
    parser.add_argument("--host", default=os.environ.get("SERVE_HOST", "127.0.0.1"))
    parser.add_argument("--module", default="xcoder_assets.definitions", help="the code location's module")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("XCODER_DATA_DIR", str(PROJECT / "data")),
        help="the pipeline's data directory (XCODER_DATA_DIR)",
    )
    args = parser.parse_args(argv)
    try:
        return {"start": start, "stop": stop, "status": status, "env": env, "clean": clean}[args.command](args)
    except (ServeError, subprocess.CalledProcessError) as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
