"""`make serve` / `make stop`: a Postgres-backed Dagster deployment on this machine.

Four processes, each its own, logs in one folder (<dir>/logs):
  postgres    Debian's postgresql, data in <dir>/postgres, on 127.0.0.1 at a free port
  grpc        the code location as a gRPC server (`dagster api grpc -m xcoder_assets.definitions`)
  webserver   dagster-webserver on --port (default 3000, or a free one when 3000 is taken)
  daemon      dagster-daemon (schedules, sensors, the run queue, automation)

    .venv/bin/python deploy/serve.py start [--dir .serve] [--port 3000]
    .venv/bin/python deploy/serve.py status|stop [--dir .serve]

With --runs docker (`make serve RUNS=docker`) every run starts in a container of its own: the instance
uses dagster-docker's DockerRunLauncher, the code server runs in a container of the code image
(deploy/build-code-image.sh; `serve.py image-name` names the image built from this checkout's content),
and the data directory, compute logs and artifacts are bind-mounted into every run container at the same
paths (the shared volume). Postgres, the webserver and the daemon stay processes on this machine.
Containers share the host's network namespace, so everything still listens on 127.0.0.1 only, and the
runs reach Postgres there with its password (see docker_launcher below for what that means).

Several deployments can run side by side (each its own --dir, every port free-picked); `stop` ends
only the processes its own state file names, after checking each is still the one it started, and
only the containers labelled with its own folder.

The webserver has no authentication: it listens on loopback unless --host names another address
together with --behind-auth-proxy (the operator's statement that an authenticating proxy fronts it).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
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
CODE_IMAGE_REPOSITORY = "xcoder-assets-code"
# What the code image is built from (deploy/build-code-image.sh installs the package from these): its
# name carries their hash, so a changed checkout gets a new image rather than running a stale one.
IMAGE_INPUTS = (
    "pyproject.toml",
    "xcoder_assets",
    "sql",
    "deploy/build-code-image.sh",
    "deploy/xcoder_docker_launcher.py",
)
# The variables a run container gets, by name: values come from the daemon's environment (nothing secret is
# written into dagster.yaml); only the ones set are passed, as the launcher refuses unset names.
RUN_ENV_PREFIXES = (
    "XCODER_MODEL",
    "XCODER_API_BASE",
    "XCODER_API_KEY",
    "XCODER_PRICE",
    "XCODER_BUDGET",  # a budget binds every run container (reservations live in the shared cache)
    "XCODER_BATCH_",  # provider batch APIs per role
    "XCODER_CACHE_",  # the shared caches on Postgres (XCODER_CACHE_URL) and their claim lease
)
RUN_ENV_NAMES = (
    "XCODER_PG_HOST",
    "XCODER_PG_PORT",
    "XCODER_PG_USER",
    "XCODER_PG_PASSWORD",
    "XCODER_PG_DB",
    "XCODER_SERVE_COMPUTE_LOGS",
    "XCODER_SERVE_ARTIFACTS",
    "XCODER_DATA_DIR",
    "XCODER_SANDBOX",
    "XCODER_MAX_IN_FLIGHT",
    "XCODER_LCB_RELEASE_DIR",
    "LITELLM_LOCAL_MODEL_COST_MAP",
)


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


# ---- runs in containers (--runs docker) --------------------------------------------------------------


def image_name(project: Path = PROJECT) -> str:
    """The code image built from this checkout: its tag is a hash of what the image installs (IMAGE_INPUTS)."""
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *IMAGE_INPUTS,
        ],
        capture_output=True,
        check=True,
    ).stdout
    digest = hashlib.sha256()
    for name in sorted(n for n in listed.decode().split("\0") if n):
        path = project / name
        if path.is_symlink():
            content = os.readlink(path).encode()
        elif path.is_file():
            content = path.read_bytes()
        else:
            continue  # listed by git, deleted in the working tree
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return f"{CODE_IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}"


def _docker(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=300)
    except FileNotFoundError:
        raise ServeError("the docker command is missing: bash scripts/install-system-deps.sh") from None
    if check and result.returncode != 0:
        raise ServeError(f"docker {args[0]} failed: {result.stderr.strip()[-2000:]}")
    return result


def deployment_label(layout: Layout) -> str:
    """The label every container of this deployment carries (its folder's hash): stop removes only these."""
    return hashlib.sha256(str(layout.root).encode()).hexdigest()[:16]


def check_docker(image: str) -> None:
    if _docker("info", check=False).returncode != 0:
        raise ServeError("no Docker daemon answers: bash scripts/ensure-dockerd.sh")
    if _docker("image", "inspect", image, check=False).returncode != 0:
        raise ServeError(f"the code image {image} does not exist: bash deploy/build-code-image.sh {image}")


def run_user() -> str:
    """Who runs inside the run containers: this user, so that the files on the shared volume are its own.
    As root, an unprivileged uid instead (see SANDBOX_SECURITY_OPT): root in a container has no
    CAP_SYS_ADMIN, so the sandbox's root-only setup (a private scratch mount, one uid per sandbox) cannot
    run there, while an unprivileged user runs bubblewrap in a user namespace of its own."""
    if os.geteuid() != 0:
        return f"{os.geteuid()}:{os.getegid()}"
    return f"{RUN_UID}:{RUN_UID}"


# The uid of the run containers when serve runs as root; it owns the deployment's shared folders.
RUN_UID = 10001
# The sandbox inside a run container: bubblewrap (XCODER_SANDBOX=bwrap, the default), chosen over the
# docker backend through the host's daemon. bwrap needs unshare() and mount() in a user namespace, which
# Docker's default seccomp profile refuses (AppArmor's docker-default too, where the host has AppArmor),
# and a fresh /proc, which the kernel refuses while Docker masks paths under the container's /proc. So the
# run containers (only they) get seccomp, AppArmor and the /proc masks lifted. What that costs:
#   - the pipeline's own code in the run container may call any syscall (make namespaces, for one): more
#     kernel surface for that code, which is ours, not the untrusted programs';
#   - /proc/kcore, /proc/sys and friends are visible; their files are root's, and the container runs as an
#     unprivileged user (run_user) without capabilities, so it can read little there and write nothing;
#   - the generated programs are still confined as on the host: bubblewrap's namespaces (no network, a
#     read-only /usr, their own /tmp) and the project's seccomp filter, stricter than Docker's default.
# Not taken: the docker backend with /var/run/docker.sock mounted into the run container would give the run
# (and anything that escapes into it) root on the host, and its sandbox containers would need host paths.
# (The /proc masks are lifted by the launcher itself, xcoder_docker_launcher.py: the Engine API has no
# security option for them.)
SANDBOX_SECURITY_OPT = ["seccomp=unconfined", "apparmor=unconfined"]


def shared_folders(layout: Layout, state: dict) -> list[str]:
    """Bind-mounted into every run container at the same path: the data (tables, the LLM response cache and
    the sandbox run cache), the compute logs and the artifacts the instance writes."""
    return [state["data_dir"], str(layout.root / "compute_logs"), str(layout.root / "artifacts")]


def run_env_names(env: dict[str, str]) -> list[str]:
    return sorted(n for n, v in env.items() if v and (n in RUN_ENV_NAMES or n.startswith(RUN_ENV_PREFIXES)))


def docker_launcher(layout: Layout, state: dict, env: dict[str, str]) -> dict:
    """The instance's run_launcher for --runs docker: dagster-docker's DockerRunLauncher, with /proc unmasked
    in the run containers (deploy/xcoder_docker_launcher.py)."""
    return {
        "module": "xcoder_docker_launcher",
        "class": "SandboxDockerRunLauncher",
        "config": {
            "image": state["image"],
            # HOME: the run user has no home in the image; /tmp is the container's own
            "env_vars": [*run_env_names(env), "HOME=/tmp"],
            "container_kwargs": {
                # the host's network namespace: Postgres, the code server and an LLM endpoint on this
                # machine stay on 127.0.0.1, and nothing needs to listen on a bridge address. The price:
                # a run reaches what listens on loopback (it is our code; Postgres still wants its
                # password); the generated programs have no network at all (bubblewrap's namespace).
                "network_mode": "host",
                "volumes": {path: {"bind": path, "mode": "rw"} for path in shared_folders(layout, state)},
                "user": state["run_user"],
                "security_opt": SANDBOX_SECURITY_OPT,
                "labels": {"xcoder/serve": deployment_label(layout)},
                "init": True,  # a PID 1 that reaps the run's children and forwards docker stop's signal
            },
        },
    }


def instance_yaml(layout: Layout, state: dict, env: dict[str, str]) -> str:
    """deploy/dagster.yaml, with the Docker run launcher and run monitoring for --runs docker."""
    import yaml

    text = (DEPLOY / "dagster.yaml").read_text()
    if state.get("runs") != "docker":
        return text
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("run_launcher:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i][0].isspace()), len(lines))
    block = (
        "# written by deploy/serve.py --runs docker: every run in a container of its own (docker_launcher)\n"
        + yaml.safe_dump({"run_launcher": docker_launcher(layout, state, env)}, sort_keys=False)
        # the daemon checks each run's container: a run whose container died is marked failed within seconds,
        # and the pool slots it held are freed (else a killed run's slot would block the relaunch)
        + "# the daemon checks each run's container: one that died fails its run and frees its pool slots\n"
        + yaml.safe_dump(
            {
                "run_monitoring": {
                    "enabled": True,
                    "poll_interval_seconds": 5,
                    "max_resume_run_attempts": 0,
                    "free_slots_after_run_end_seconds": 5,
                }
            },
            sort_keys=False,
        )
        + "\n"
    )
    return "".join(lines[:start]) + block + "".join(lines[end:])


def start_code_container(layout: Layout, state: dict, env: dict[str, str]) -> str:
    """The code server in a container of the code image: the runs' origin then names that image
    (DAGSTER_CURRENT_IMAGE), and every run loads the code the image installed."""
    name = f"xcoder-serve-{deployment_label(layout)}-grpc"
    _docker("rm", "-f", name, check=False)
    args = ["run", "-d", "--name", name, "--network", "host", "--label", f"xcoder/serve={deployment_label(layout)}"]
    args += ["--user", state["run_user"], "-e", f"DAGSTER_CURRENT_IMAGE={state['image']}", "-e", "HOME=/tmp"]
    for variable in run_env_names(env):
        args += ["-e", variable]  # the value from this process's environment, never on a command line
    for path in shared_folders(layout, state):
        args += ["-v", f"{path}:{path}"]
    args += [state["image"], "dagster", "api", "grpc", "-m", state["module"], "-h", "127.0.0.1"]
    args += ["-p", str(state["grpc_port"]), "--location-name", LOCATION]
    _docker(*args, env=env)
    return name


def container_running(name: str) -> bool:
    result = _docker("inspect", "-f", "{{.State.Running}}", name, check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def save_container_log(name: str, path: Path) -> None:
    shown = _docker("logs", name, check=False)
    path.write_text(shown.stdout + shown.stderr)


def remove_containers(label: str) -> list[str]:
    """The deployment's containers (its code server and its runs', finished or not), removed."""
    found = _docker("ps", "-aq", "--filter", f"label=xcoder/serve={label}", check=False).stdout.split()
    if found:
        _docker("rm", "-f", *found, check=False)
    return found


def _prepare_shared(layout: Layout, state: dict) -> None:
    """As root, the run containers' unprivileged user must write the shared folders."""
    if os.geteuid() != 0:
        return
    for folder in shared_folders(layout, state):
        for path in [Path(folder), *Path(folder).rglob("*")]:
            if not path.is_symlink():
                os.chown(path, RUN_UID, RUN_UID)


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
    if state.get("runs") == "docker":  # the instance's run launcher module (xcoder_docker_launcher.py)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(DEPLOY), os.environ.get("PYTHONPATH")) if p)
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


def _wait_grpc(port: int, alive, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
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
    """Each pool's own limit (defs/automation.py POOL_LIMITS) into the instance, as `dagster instance concurrency set` would."""
    code = (
        "import json; from dagster import DagsterInstance; "
        "from xcoder_assets.defs.automation import POOL_LIMITS; i = DagsterInstance.get(); "
        "[i.event_log_storage.set_concurrency_slots(k, v) for k, v in POOL_LIMITS.items()]; "
        "print(json.dumps(POOL_LIMITS))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServeError(f"setting the pool limits failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def up(layout: Layout, state: dict) -> dict[str, bool]:
    """Which of the deployment's processes run (the code server is a container with --runs docker)."""
    marks = markers(layout, state)
    found = {name: _alive(state["pids"].get(name, -1), marks[name]) for name in ORDER if name in state["pids"]}
    for name, container in state.get("containers", {}).items():
        found[name] = container_running(container)
    return {name: found.get(name, False) for name in ORDER}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start(args: argparse.Namespace) -> int:
    layout = Layout(Path(args.dir))
    if not is_loopback(args.host) and not args.behind_auth_proxy:
        raise ServeError(
            f"--host {args.host}: the webserver has no authentication, so it listens on loopback only; to serve "
            "other machines put an authenticating proxy in front of it and pass --behind-auth-proxy"
        )
    state = layout.read_state()
    if state and all(up(layout, state).values()):
        print(f"already running: http://{state['host']}:{state['port']} (logs in {layout.logs})")
        return 0
    if state:  # a partial or dead deployment: clear it first
        stop(args, quiet=True)
    image = (args.image or image_name()) if args.runs == "docker" else None
    if image:
        check_docker(image)
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
        "runs": args.runs,
        "pids": {},
    }
    if args.runs == "docker":
        state.update(image=image, run_user=run_user(), containers={})
    Path(state["data_dir"]).mkdir(parents=True, exist_ok=True)
    password = init_postgres(layout)
    start_postgres(layout, state["pg_port"])
    layout.state.write_text(json.dumps(state, indent=2))  # from here on, stop can undo what start did
    ensure_database(state["pg_port"], password)
    env = environment(layout, state)
    (layout.home / "dagster.yaml").write_text(instance_yaml(layout, state, env))
    layout.workspace.write_text(
        "# written by deploy/serve.py: the code location's gRPC server of this deployment\nload_from:\n"
        f"  - grpc_server:\n      host: 127.0.0.1\n      port: {state['grpc_port']}\n      location_name: {LOCATION}\n"
    )
    cmds = commands(layout, state)
    marks = markers(layout, state)
    if args.runs == "docker":
        _prepare_shared(layout, state)
        state["containers"]["grpc"] = start_code_container(layout, state, env)
        layout.state.write_text(json.dumps(state, indent=2))
        container = state["containers"]["grpc"]

        def grpc_alive() -> bool:
            if container_running(container):
                return True
            save_container_log(container, layout.logs / "grpc.log")
            return False

    else:
        state["pids"]["grpc"] = _spawn("grpc", cmds["grpc"], layout, env)
        layout.state.write_text(json.dumps(state, indent=2))

        def grpc_alive() -> bool:
            return _alive(state["pids"]["grpc"], marks["grpc"])

    state["pools"] = apply_pool_limits(env)  # while the code server loads
    _wait_grpc(state["grpc_port"], grpc_alive, layout.logs / "grpc.log")
    for name in ("webserver", "daemon"):
        state["pids"][name] = _spawn(name, cmds[name], layout, env)
        layout.state.write_text(json.dumps(state, indent=2))
    url = f"http://{args.host}:{port}"
    _wait_http(f"{url}/server_info", state["pids"]["webserver"], marks["webserver"], layout.logs / "webserver.log")
    print(
        f"Dagster UI: {url}\nprocesses: postgres (port {state['pg_port']}), code server (port {state['grpc_port']}"
        + (f", container of {state['image']}" if args.runs == "docker" else "")
        + "), webserver, daemon\n"
        + (
            f"runs: each in a container of its own ({state['image']}, `docker ps --filter "
            f"label=xcoder/serve={deployment_label(layout)}`)\n"
            if args.runs == "docker"
            else ""
        )
        + f"logs: {layout.logs}\ndata: {state['data_dir']}\nstop: make stop\n"
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


def image(args: argparse.Namespace) -> int:
    """The name of the code image this checkout builds (make serve RUNS=docker builds it when missing)."""
    print(image_name())
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
    if state.get("runs") == "docker":  # the code server's and the runs' containers (its log kept first)
        if "grpc" in state.get("containers", {}):
            save_container_log(state["containers"]["grpc"], layout.logs / "grpc.log")
        remove_containers(deployment_label(layout))
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
    running = up(layout, state)
    pg = (
        subprocess.run(
            [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(state["pg_port"])], stdout=subprocess.DEVNULL
        ).returncode
        == 0
    )
    print(
        json.dumps(
            {
                "url": f"http://{state['host']}:{state['port']}",
                "runs": state.get("runs", "local"),
                "postgres": pg,
                **running,
                "logs": str(layout.logs),
            },
            indent=2,
        )
    )
    return 0 if pg and all(running.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "env", "clean", "image-name"])
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
        "--runs",
        choices=["local", "docker"],
        default=os.environ.get("RUNS") or "local",
        help="local: runs as processes of this machine; docker: each run in a container of the code image",
    )
    parser.add_argument("--image", default=None, help="the code image for --runs docker (default: `image-name`)")
    parser.add_argument(
        "--behind-auth-proxy",
        action="store_true",
        help="allow a non-loopback --host: an authenticating proxy fronts the webserver (it has no login itself)",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("XCODER_DATA_DIR", str(PROJECT / "data")),
        help="the pipeline's data directory (XCODER_DATA_DIR)",
    )
    args = parser.parse_args(argv)
    try:
        commands = {"start": start, "stop": stop, "status": status, "env": env, "clean": clean, "image-name": image}
        return commands[args.command](args)
    except (ServeError, subprocess.CalledProcessError) as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
