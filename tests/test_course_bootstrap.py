"""`python3 course.py start`: what a learner's JupyterLab does when a notebook starts a kernel."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import processes_with, wait_until_gone

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _visible_tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _kill(pids: list[str]) -> None:
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


async def _execute(url: str, code: str, seconds: float = 120) -> str:
    """Run ``code`` in a kernel through the server's websocket (as JupyterLab does);
    return its stdout."""
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(url)
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "session": uuid.uuid4().hex,
        "username": "test",
        "version": "5.3",
        "date": "",
    }
    content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    await connection.write_message(json.dumps({**message, "channel": "shell"}))
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(connection.read_message(), deadline - time.monotonic())
        assert raw is not None, "the kernel's websocket closed"
        reply = json.loads(raw)
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = reply["msg_type"]
        if kind == "stream":
            out.append(reply["content"]["text"])
        elif kind == "error":
            raise AssertionError(f"the kernel raised: {reply['content']}")
        elif kind == "status" and reply["content"]["execution_state"] == "idle":
            connection.close()
            return "".join(out)
    raise AssertionError(f"no answer from the kernel within {seconds} s")


def _kernel_in_course_start(tmp_path: Path, env: dict[str, str]) -> dict:
    """Start `python3 course.py start --no-browser` (learner mode) on a free port, open
    the default kernel through the REST API as a new notebook does, run code in it over
    the websocket, restart it, run code again, stop the server. Return what the kernel
    said about its sockets and the server's log."""
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "course.py",
                "start",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{base}{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    kernel_id, seen = None, {}
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"JupyterLab exited early:\n{log.read_text()}"
            try:
                call("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(1)
        kernel = call("POST", "/api/kernels", {})  # the default kernel, as a new notebook
        kernel_id = kernel["id"]
        assert kernel["name"] == "relu-course"
        channels = f"ws://{base}/api/kernels/{kernel_id}/channels?token={token}"
        out = asyncio.run(
            _execute(
                channels,
                "from ipykernel.kernelapp import IPKernelApp\n"
                "app = IPKernelApp.instance()\n"
                "print(app.transport, app.ip, 6 * 7)\n",
            )
        )
        seen["transport"], seen["ip"], answer = out.split()
        assert answer == "42", out
        assert call("GET", f"/api/kernels/{kernel_id}")["execution_state"] == "idle"
        # Kernel > Restart works over the same sockets
        call("POST", f"/api/kernels/{kernel_id}/restart", {})
        assert asyncio.run(_execute(channels, "print(7)")).strip() == "7"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        if kernel_id is not None:
            _kill(wait_until_gone(kernel_id))
    seen["log"] = log.read_text()
    assert kernel_id in seen["log"], seen["log"]  # the log is the server's
    assert not processes_with(kernel_id), "the kernel outlived the server"
    return seen


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="zmq's ipc transport needs Unix sockets")
def test_learner_kernel_starts_without_the_tcp_warning(tmp_path):
    """A notebook's kernel in `course.py start` talks to the server over IPC sockets in
    Jupyter's private runtime folder: no "Kernel is running over TCP without encryption"
    warning in the server's log, the kernel runs code and restarts, and no socket file
    appears among the learner's notebooks or stays behind."""
    before = _visible_tree(ROOT / "notebooks")
    seen = _kernel_in_course_start(tmp_path, {})
    assert "without encryption" not in seen["log"], seen["log"]
    assert seen["transport"] == "ipc"
    ip = Path(seen["ip"])
    assert not ip.resolve().is_relative_to(ROOT), ip
    assert ip.parent.stat().st_mode & 0o077 == 0, f"{ip}: folder open to other users"
    assert _visible_tree(ROOT / "notebooks") == before
    assert not list(ip.parent.glob(ip.name + "-*")), "socket files left behind"


@pytest.mark.slow
def test_kernels_stay_on_tcp_where_a_socket_path_would_be_too_long(tmp_path):
    """A runtime folder too deep for a Unix socket path (a long home folder): the kernel
    still starts and works, over TCP."""
    runtime = tmp_path / ("deep-" * 12) / "runtime"
    seen = _kernel_in_course_start(tmp_path, {"JUPYTER_RUNTIME_DIR": str(runtime)})
    assert seen["transport"] == "tcp"
    assert "Traceback" not in seen["log"], seen["log"]


def _bootstrap():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bootstrap", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(os.name != "posix", reason="zmq's ipc transport needs Unix sockets")
def test_both_modes_ask_for_ipc_kernels_when_the_socket_path_fits(tmp_path, monkeypatch):
    """The learner's and the instructor's server configuration ask for IPC kernels where
    the longest socket path fits a Unix socket address, TCP otherwise, and keep the
    relu-course kernel as the default."""
    from traitlets.config.loader import PyFileConfigLoader

    bootstrap = _bootstrap()
    monkeypatch.setattr(bootstrap, "VENV", tmp_path / "venv")
    bootstrap._write_jupyter_config()
    for mode in bootstrap.MODES:
        folder = tmp_path / "venv" / "etc" / "relu-course" / mode
        config = json.loads((folder / "jupyter_server_config.json").read_text())
        assert config["MultiKernelManager"]["default_kernel_name"] == "relu-course", mode
        for runtime, transport in (
            ("/tmp/r", "ipc"),
            ("/tmp/" + "r" * 44, "ipc"),  # 100 bytes with the longest socket name
            ("/tmp/" + "r" * 45, None),
            ("/tmp/" + "é" * 30, None),  # 86 characters, 116 bytes: bytes count
        ):
            monkeypatch.setenv("JUPYTER_RUNTIME_DIR", runtime)
            loaded = PyFileConfigLoader("jupyter_server_config.py", path=str(folder))
            kernel = loaded.load_config().KernelManager
            assert kernel.get("transport") == transport, (mode, runtime)


# ------------------------------------------------ the other first-hour items (issue 14)
def test_doctor_says_how_to_put_relu_course_on_path(monkeypatch, capsys):
    """`relu-course on PATH: no` comes with the command that fixes it; TF32 reads
    "n/a (no GPU)" where there is no GPU."""
    import argparse
    import shutil

    import tensorflow as tf

    from relu_course import cli

    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    cli._doctor(argparse.Namespace(fix=False))
    rows = dict(line.strip().split("  ", 1) for line in capsys.readouterr().out.splitlines()[1:])
    rows = {key.strip(): value.strip() for key, value in rows.items()}
    bindir = os.path.dirname(sys.executable)
    assert rows["relu-course on PATH"] == (
        f"no: run `source {bindir}/activate` first, or call {bindir}/relu-course"
    )
    gpus = [d for d in tf.config.list_logical_devices() if d.device_type == "GPU"]
    assert rows["tf32"] in (("on", "off") if gpus else ("n/a (no GPU)",))


def test_a_claim_left_as_a_cells_value_prints_once(tmp_path, monkeypatch, capfd):
    """`ledger.claim(...)` as the last line of a cell: its verdict line, not also the
    `Claim(...)` repr IPython would display for the returned value."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(tmp_path / "claims.jsonl"))
    shell = InteractiveShell.instance()
    try:
        result = shell.run_cell(
            "from relu_course import ledger\n"
            'ledger.claim("shown_once", 1.0, expect=(0, 2), source="test")\n'
        )
    finally:
        InteractiveShell.clear_instance()
    result.raise_error()
    out = capfd.readouterr().out
    assert out.count("[claim shown_once]") == 1, out
    assert "Claim(" not in out, out


def test_checkpoints_of_opened_solutions_never_reach_the_release(tmp_path):
    """An instructor who opens a solution notebook gets a full copy of it in
    .ipynb_checkpoints/ (and an editor may leave .idea/ or .vscode/): `relu-course release`
    publishes no hidden file or folder."""
    import shutil

    from relu_course.release import generate_release

    course = tmp_path / "course"
    source = course / "solutions" / "00_welcome"
    shutil.copytree(ROOT / "solutions" / "00_welcome", source)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for hidden in (source / ".ipynb_checkpoints", course / "solutions" / ".ipynb_checkpoints"):
        hidden.mkdir()
        shutil.copy(source / "00_welcome.ipynb", hidden / "00_welcome-checkpoint.ipynb")
        # a text file opened in JupyterLab gets a checkpoint too
        (hidden / "answers-checkpoint.yaml").write_text("add_one: x + 1\n")
    (source / ".idea").mkdir()
    (source / ".idea" / "workspace.xml").write_text("<project/>\n")
    (source / ".answers.swp").write_text("def add_one(x): return x + 1\n")
    written = generate_release(course)
    assert written == [course / "notebooks" / "00_welcome" / "00_welcome.ipynb"]
    everything = {
        p.relative_to(course / "notebooks").as_posix() for p in (course / "notebooks").rglob("*")
    }
    assert everything == {"00_welcome", "00_welcome/00_welcome.ipynb"}
    assert "### BEGIN SOLUTION" not in written[0].read_text()


# ------------------------------------------------------------ warnings (issue 14)
def _numpy_code_in(module: str, code: str):
    """A function whose warnings NumPy attributes to ``module`` (as if it lived there)."""
    import numpy as np

    namespace = {"__name__": module, "np": np}
    exec(f"def f(x):\n    return {code}\n", namespace)
    return namespace["f"]


@pytest.mark.parametrize(
    "code, value",
    [("np.exp(x)", 1000.0), ("x / (x - x)", 1.0), ("np.log(x - x)", 1.0), ("x - x / x", 0.0)],
)
def test_numpy_floating_point_warnings_in_the_package_are_errors(code, value):
    """pyproject's filterwarnings turns NumPy's overflow / divide / invalid warnings from
    relu_course modules into errors, and only from there (a test's deliberately naive
    misconception may overflow, inside np.errstate)."""
    import numpy as np

    with pytest.raises(RuntimeWarning, match="encountered"):
        _numpy_code_in("relu_course.somewhere", code)(np.float64(value))
    with pytest.warns(RuntimeWarning, match="encountered"):
        _numpy_code_in("test_elsewhere", code)(np.float64(value))
