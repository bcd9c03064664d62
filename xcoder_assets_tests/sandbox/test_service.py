"""The judge as a service: three judge servers in containers behind the client pool give the local
judge's verdicts, survive one server killed mid-batch, and refuse what they must (401, 413, 400, a
bind beyond loopback without a token).

The servers run in the `xcoder-sandbox:bookworm` image (which has no xcoder package): the repository,
the host venv's interpreter and bwrap are mounted read-only, the host's uid lock directory read-write
(sandbox uids stay unique across the containers and the host), and the container gets what bwrap needs
to make namespaces there (service.py's docstring says what that costs). Where Docker is missing the
same servers run as processes on loopback."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend
from xcoder_assets.sandbox.judge import Problem, TestCase, Verdict, judge_many, judge_solution
from xcoder_assets.sandbox.remote import RemoteBackend
from xcoder_assets.sandbox.service import ServerSettings, is_loopback
from xcoder_assets.sandbox.uids import lock_dir
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.lcb_cases import all_cases, case_problems

IMAGE = "xcoder-sandbox:bookworm"
PROBLEMS = case_problems()
CASES = all_cases()
# What bwrap needs inside a container: namespaces (seccomp and AppArmor would refuse unshare and mount),
# a mount of its own /proc (Docker's masked /proc paths forbid it), CAP_SYS_ADMIN for the tmpfs as root;
# and a cgroup namespace of its own, whose controllers the entry remounts writable (CAP_SYS_ADMIN again),
# so each sandbox has its cgroup there too (memory of the whole sandbox, CPU quota), under the container's.
BWRAP_IN_DOCKER = [
    "--cgroupns",
    "private",
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
]

CGROUPS_WRITABLE = (
    "awk '$3 ~ /^cgroup/ {print $2}' /proc/self/mounts | while read m; do mount -o remount,bind,rw $m; done;"
)


class JudgeServer:
    """One `xcoder judge-server`, in a container or a process; `kill` ends it at once (SIGKILL)."""

    def __init__(self, token: str, container: bool, extra: list[str] = ()):
        self.container = container
        args = ["-m", "xcoder_assets.cli", "judge-server", "--jobs", "2", *extra]
        if container:
            command = [str(PROJECT_ROOT / ".venv/bin/python"), *args, "--host", "0.0.0.0", "--port", "8080"]
            python = Path(PROJECT_ROOT / ".venv/bin/python").resolve()  # the host venv's interpreter
            uids = lock_dir()
            uids.mkdir(parents=True, exist_ok=True)
            self.id = subprocess.run(
                ["docker", "run", "-d", "--rm", "--user", "0", *BWRAP_IN_DOCKER, "--label", "xcoder-judge-test=1"]
                + ["-v", f"{PROJECT_ROOT}:{PROJECT_ROOT}:ro", "-v", f"{python.parents[1]}:{python.parents[1]}:ro"]
                + ["-v", f"{shutil.which('bwrap')}:/usr/bin/bwrap:ro", "-v", f"{uids}:{uids}"]
                + ["-e", f"XCODER_JUDGE_TOKEN={token}", "-e", f"XCODER_SANDBOX_UID_DIR={uids}"]
                + ["-e", "PYTHONDONTWRITEBYTECODE=1", "-e", "LITELLM_LOCAL_MODEL_COST_MAP=True"]
                + ["-w", str(PROJECT_ROOT), "-p", "127.0.0.1::8080", IMAGE]
                + ["sh", "-c", CGROUPS_WRITABLE + " exec " + " ".join(command)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            self._wait(lambda: subprocess.run(["docker", "logs", self.id], capture_output=True, text=True).stdout)
            port = subprocess.run(["docker", "port", self.id, "8080"], capture_output=True, text=True, check=True)
            self.url = "http://" + port.stdout.splitlines()[0].strip()
        else:
            env = {**os.environ, "XCODER_JUDGE_TOKEN": token}
            self.process = subprocess.Popen(
                [sys.executable, *args, "--port", "0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=PROJECT_ROOT,
                env=env,
            )
            line = self._wait(self.process.stdout.readline)
            self.url = line.split("listening on ")[1].split()[0]

    def _wait(self, read) -> str:
        deadline, seen = time.monotonic() + 90, ""
        while time.monotonic() < deadline:
            seen = read()
            if "listening on" in seen:
                return seen
            time.sleep(0.2 if self.container else 0)
        self.kill()
        raise RuntimeError(f"the judge server did not start: {seen[-2000:]}")

    def kill(self) -> None:
        if self.container:
            subprocess.run(["docker", "rm", "-f", self.id], capture_output=True)
        else:
            self.process.kill()
            self.process.wait()


def docker_runs_servers() -> bool:
    if not shutil.which("docker") or not shutil.which("bwrap"):
        return False
    found = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    return found.returncode == 0


TOKEN = secrets.token_urlsafe(24)
_SHARED: list[JudgeServer] = []  # one pool for every module that imports these fixtures
_SHARED_LOCK = threading.Lock()


@pytest.fixture(scope="session")
def judge_token() -> str:
    return TOKEN


@pytest.fixture(scope="session")
def judge_servers(bwrap_backend, judge_token):
    """Three judge servers (containers where Docker runs), each with 2 slots; started once per session."""
    with _SHARED_LOCK:
        try:
            while len(_SHARED) < 3:
                _SHARED.append(JudgeServer(judge_token, docker_runs_servers()))
        except Exception:
            for server in _SHARED:
                server.kill()
            _SHARED.clear()
            raise
    yield list(_SHARED)
    for server in _SHARED:  # the first module's teardown ends them; killing twice is harmless
        server.kill()


@pytest.fixture(scope="session")
def judge_pool(judge_servers, judge_token):
    return RemoteBackend([s.url for s in judge_servers], token=judge_token)


def get(url: str, token: str | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def signature(result) -> tuple:
    """All of a verdict that does not depend on the machine's speed."""
    return (result.verdict, result.first_failing_test, result.lcb_results, [t.verdict for t in result.tests])


@pytest.mark.parametrize("profile", ["strict", "lcb"])
def test_the_pool_gives_the_local_judges_verdicts(local_case_verdicts, judge_pool, profile):
    items = [(PROBLEMS[qid], code) for qid, code, _ in CASES]
    local = local_case_verdicts[profile]
    remote, stats = judge_many(judge_pool, items, profile=profile, workers=6)
    assert stats.solutions == len(items)
    differ = [
        (CASES[i][0], signature(a), signature(b))
        for i, (a, b) in enumerate(zip(local, remote))
        if signature(a) != signature(b)
    ]
    assert differ == []
    assert all(r.verdict is not Verdict.SANDBOX_FAILURE for r in remote)
    assert sum(1 for n in judge_pool.per_server.values() if n) == 3  # the work was spread over every server


@pytest.mark.parametrize("profile", ["strict", "lcb"])
def test_one_server_killed_mid_batch_its_programs_finish_on_the_others(judge_token, profile):
    """Its own three servers: one is killed while programs run there; every program still passes, each
    with every test once (a rerun's results already handed to the judge are skipped)."""
    container = docker_runs_servers()
    servers = [JudgeServer(judge_token, container) for _ in range(3)]
    try:
        pool = RemoteBackend([s.url for s in servers], token=judge_token, retry_down_s=60)
        problem = Problem("slow", tuple(TestCase(f"{i}\n", f"{i * 2}\n") for i in range(4)))
        slow = "import time\ntime.sleep(0.3)\nprint(int(input()) * 2)\n"
        killer = threading.Timer(2.0, servers[0].kill)
        killer.start()
        results, stats = judge_many(pool, [(problem, slow)] * 24, profile=profile, workers=6)
        killer.join()
        assert [r.verdict for r in results] == [Verdict.OK] * 24, [r.reason for r in results if not r.passed]
        assert [[t.index for t in r.tests] for r in results] == [[0, 1, 2, 3]] * 24
        assert pool.failovers >= 1  # programs were running on the killed server and ran again elsewhere
        assert pool.per_server[servers[1].url] + pool.per_server[servers[2].url] > pool.per_server[servers[0].url]
    finally:
        for server in servers:
            server.kill()


def test_requests_without_the_token_are_refused(judge_servers, judge_token):
    url = judge_servers[0].url
    body = json.dumps({"job": {}, "limits": {}}).encode()
    for path, data in [("/v1/run", body), ("/v1/info", None), ("/metrics", None)]:
        assert get(url + path, None, data)[0] == 401
        assert get(url + path, "not-the-token-" + judge_token[:8], data)[0] == 401
    assert get(url + "/healthz") == (200, b"ok\n")  # the kubelet's probe: no token, nothing told
    status, info = get(url + "/v1/info", judge_token)
    assert status == 200 and json.loads(info)["profiles"] == ["strict", "lcb"]
    with pytest.raises(SandboxUnavailable, match="refused the token"):
        RemoteBackend([url], token="a-wrong-token-of-some-length")


def test_oversized_and_malformed_requests_are_refused(judge_token):
    server = JudgeServer(judge_token, container=False, extra=["--max-request-mb", "1"])
    try:
        big = json.dumps({"job": {"tests": ["x" * (2 << 20)]}}).encode()
        assert get(server.url + "/v1/run", judge_token, big)[0] == 413
        assert get(server.url + "/v1/run", None, big)[0] == 401  # the token is checked first
        job = {"code": "print(1)", "mode": "stdin", "func_name": None, "profile": "strict", "tests": ["\n"]}
        for payload, reason in [
            ({"job": {**job, "cwd": "/"}, "limits": {}}, "unknown fields"),
            ({"job": {**job, "profile": "none"}, "limits": {}}, "job.profile"),
            ({"job": job, "limits": {"wall_s": 3600}}, "ceiling"),
            ({"job": job, "limits": {"memory_bytes": -1}}, "positive"),
        ]:
            status, text = get(server.url + "/v1/run", judge_token, json.dumps(payload).encode())
            assert status == 400 and reason in json.loads(text)["error"], text
        # Through the client: a program too big for the server is a sandbox failure that says why.
        pool = RemoteBackend([server.url], token=judge_token)
        huge = Problem("huge", (TestCase("1\n" * (1 << 20), "1\n"),))
        result = judge_solution(pool, huge, "print(1)\n")
        assert result.verdict is Verdict.SANDBOX_FAILURE and "413" in result.reason
        status, metrics = get(server.url + "/metrics", judge_token)
        assert 'xcoder_judge_requests_total{code="413"} 2' in metrics.decode()
    finally:
        server.kill()


def test_the_server_binds_loopback_and_refuses_elsewhere_without_a_token(tmp_path):
    assert ServerSettings().host == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    for host in ["0.0.0.0", "::", "192.0.2.7"]:
        with pytest.raises(ValueError, match="without a token"):
            ServerSettings(host=host)
    ServerSettings(host="0.0.0.0", token="t" * 32)  # with a token, anywhere
    with pytest.raises(ValueError, match="at least 16"):
        ServerSettings(host="0.0.0.0", token="short")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XCODER_JUDGE_TOKEN")}
    refused = subprocess.run(
        [sys.executable, "-m", "xcoder_assets.cli", "judge-server", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
    )
    assert refused.returncode == 2 and "refusing to listen on 0.0.0.0 without a token" in refused.stderr
    assert "Traceback" not in refused.stderr
    short = tmp_path / "token"
    short.write_text("too-short\n")
    for token_file, message in [(tmp_path / "missing", "No such file"), (short, "at least 16 characters")]:
        refused = subprocess.run(
            [sys.executable, "-m", "xcoder_assets.cli", "judge-server", "--port", "0", "--token-file", str(token_file)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
            timeout=120,
        )
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr


def test_make_backend_takes_a_list_of_servers(judge_servers, judge_token, monkeypatch):
    monkeypatch.setenv("XCODER_JUDGE_TOKEN", judge_token)
    backend = make_backend(",".join(s.url for s in judge_servers), fresh_sandbox=True)
    assert isinstance(backend, RemoteBackend) and backend.fresh_sandbox and len(backend.servers) == 3
    result = judge_solution(backend, Problem("p", (TestCase("2 3\n", "5\n"),)), "print(sum(map(int, input().split())))")
    assert result.passed
    with pytest.raises(ValueError, match="http"):
        make_backend("http://")
    with pytest.raises(SandboxUnavailable, match="no judge server answered"):
        make_backend("http://127.0.0.1:9")  # the discard port: nothing listens


def test_the_servers_token_is_invisible_to_programs(judge_pool, judge_token):
    """The server's environment holds the token: a program sees neither it nor the server's files."""
    look = (
        "import os\nseen = [os.environ.get('XCODER_JUDGE_TOKEN')]\n"
        "for pid in os.listdir('/proc'):\n    try:\n        seen.append(open(f'/proc/{pid}/environ').read())\n"
        "    except Exception:\n        pass\nprint('TOKEN' if any(s and %r in s for s in seen) else 'clean')\n"
        % judge_token
    )
    for profile in ["strict", "lcb"]:
        result = judge_solution(judge_pool, Problem("t", (TestCase("", "clean\n"),)), look, profile=profile)
        assert result.passed, (result.verdict, result.reason, result.tests[0].output if result.tests else None)


def test_metrics_count_the_programs(judge_servers, judge_token, judge_pool):
    judge_solution(judge_pool, Problem("m", (TestCase("", "1\n"),)), "print(1)\n")
    texts = [get(s.url + "/metrics", judge_token)[1].decode() for s in judge_servers]
    done = sum(int(line.rsplit(" ", 1)[1]) for text in texts for line in text.splitlines() if 'outcome="done"' in line)
    assert done >= 1 and all("xcoder_judge_programs_running" in t for t in texts)


def render_chart(chart: Path) -> list[dict]:
    """The chart's manifests with its values filled in (its templates use `{{ .Values.a.b }}` only)."""
    import re

    import yaml

    values = yaml.safe_load((chart / "values.yaml").read_text())

    def value(match: re.Match) -> str:
        found: object = values
        for key in match.group(1).split("."):
            found = found[key]  # a missing value fails the render, as in Helm with `required`
        return str(found)

    text = (chart / "templates" / "judge.yaml").read_text()
    rendered = re.sub(r"\{\{ *\.Values\.([\w.]+) *\}\}", value, text)
    assert "{{" not in rendered
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_the_helm_chart_serves_the_judge_behind_a_service():
    from xcoder_assets.cli import build_parser

    deployment, service = render_chart(PROJECT_ROOT / "deploy" / "helm" / "judge")
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])  # the command line the pod runs, read by the CLI itself
    assert args.func.__name__ == "cmd_judge_server" and args.token_file and args.host == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"  # the one path without a token
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (port,) = container["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"] and port["containerPort"] == args.port
    mount = container["volumeMounts"][0]["mountPath"]
    assert args.token_file.startswith(mount + "/") and pod["volumes"][0]["secret"]["secretName"]
    assert deployment["spec"]["replicas"] >= 2 and pod["automountServiceAccountToken"] is False


class GarbageServer:
    """An HTTP server that answers every request 200 with a line that is no supervisor event."""

    def __init__(self) -> None:
        import socket

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.recv(1 << 20)
                self.requests += 1
                connection.sendall(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"event": "ready", "x": 1}\n[1, 2]\n')

    def close(self) -> None:
        self.socket.close()


def test_a_server_that_answers_garbage_is_left_for_another(judge_servers, judge_token):
    garbage = GarbageServer()
    try:
        pool = RemoteBackend([garbage.url, judge_servers[0].url], token=judge_token, probe=False)
        problem = Problem("p", (TestCase("2 3\n", "5\n"), TestCase("4 4\n", "8\n")))
        results, _ = judge_many(pool, [(problem, "print(sum(map(int, input().split())))")] * 6, workers=2)
        assert all(r.passed for r in results), [r.reason for r in results]
        assert garbage.requests >= 1 and pool.failovers >= 1  # tried, refused as a server, the program rerun
        assert pool.per_server[garbage.url] == 0
    finally:
        garbage.close()


def test_xcoder_eval_through_the_pool_scores_as_locally(judge_servers, judge_token, tmp_path, monkeypatch, capsys):
    from xcoder_assets.cli import main
    from xcoder_assets_tests.lcb_cases import parity_inputs

    rows, code_lists = parity_inputs()
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generations = tmp_path / "generations.json"
    generations.write_text(json.dumps([{"question_id": q, "code_list": c} for q, c in code_lists.items()]))
    monkeypatch.setenv("XCODER_JUDGE_TOKEN", judge_token)
    pool = ",".join(s.url for s in judge_servers)
    scores = {}
    for name, sandbox in [("local", "bwrap"), ("pool", pool)]:
        out = tmp_path / name
        argv = ["eval", "--problems", str(problems), "--generations", str(generations), "--out", str(out)]
        assert main([*argv, "--sandbox", sandbox, "--workers", "6"]) == 0
        graded = {e["question_id"]: e["graded_list"] for e in json.loads((out / "eval_all.json").read_text())}
        scores[name] = (json.loads((out / "scores.json").read_text())["pass@1"], graded)
    assert scores["pool"] == scores["local"]
    with pytest.raises(SystemExit) as refused:
        main(["eval", "--problems", str(problems), "--generations", str(generations), "--sandbox", "ftp://x"])
    assert refused.value.code == 2 and "http(s)://judge-server" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["strict", "lcb"])
def test_a_server_over_the_docker_backend(docker_backend, judge_token, profile):
    """The other placement: the server's programs in containers of the host's Docker daemon."""
    server = JudgeServer(judge_token, container=False, extra=["--sandbox", "docker"])
    try:
        pool = RemoteBackend([server.url], token=judge_token)
        assert pool.info[server.url]["backend"] == "docker"
        items = [(PROBLEMS[qid], code) for qid, code, _ in CASES[:8]]
        local, _ = judge_many(docker_backend, items, profile=profile, workers=2)
        remote, _ = judge_many(pool, items, profile=profile, workers=2)
        assert [signature(r) for r in remote] == [signature(r) for r in local]
    finally:
        server.kill()
