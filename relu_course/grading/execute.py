"""Run a notebook's code cells in a kernel the caller can always take back.

One executor serves ``relu-course check`` (the learner's own kernel, unsandboxed) and
``relu-course grade`` (a kernel inside a :class:`~relu_course.grading.sandbox.Sandbox`):

* the kernel is started directly (``python -m ipykernel_launcher``, no kernelspec lookup)
  and talks over **IPC sockets** in a private folder, never TCP;
* a cell that runs past ``timeout`` is not interrupted (a sandboxed kernel may never see
  the signal, and code can swallow it): its kernel is **killed** with its whole process
  group, a fresh one **replays** the cells before it, and execution goes on — a hang
  costs one cell's time limit, never every later cell's;
* a kernel that **dies** (``os._exit``, a segfault, the memory limit) ends the run: the cell
  and every later code cell get an error output "kernel died in cell N", so graders score
  the cells that ran and give nothing for the rest (a code cell without outputs would
  otherwise look like a pass to nbgrader);
* ``wall_limit`` caps the whole run; cells not reached get an error output saying so;
* every output is bounded as it arrives (:class:`OutputLimits`: text, images, HTML and any
  other MIME type, per output and per notebook), and any line of ``secret_lines`` (the
  hidden tests' source) is removed from outputs, whatever traceback mode or ``linecache``
  trick put it there.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from relu_course.grading.cells import hidden_test_lines
from relu_course.grading.sandbox import Sandbox, kill, launch
from relu_course.runtime import KERNEL_ENV

__all__ = [
    "DIED",
    "NOT_RUN",
    "TIMEOUT",
    "ExecutionReport",
    "OutputBudget",
    "OutputLimits",
    "execute_notebook",
    "hidden_test_lines",
    "scrub_outputs",
]

TIMEOUT = "CellTimeoutError"
DIED = "DeadKernelError"
NOT_RUN = "CellNotRun"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The course kernel's environment (relu_course.runtime), with figures drawn off-screen.
GRADING_KERNEL_ENV = {**KERNEL_ENV, "MPLBACKEND": "Agg"}


@dataclass
class OutputLimits:
    """Size bounds applied to outputs as they arrive (characters of text; bytes of the
    base64 or text payload for other MIME types)."""

    text_chars: int = 20_000
    rich_bytes: int = 300_000  # one image, HTML table, JSON ... payload
    notebook_bytes: int = 2_000_000  # all outputs of one notebook together
    outputs_per_cell: int = 50


@dataclass
class ExecutionReport:
    """What happened besides ordinary cell errors: ``events`` are one-line notes
    ("time limit in cell 7: kernel restarted"), ``died_in`` the cell whose kernel died."""

    events: list[str] = field(default_factory=list)
    died_in: int | None = None
    timed_out: list[int] = field(default_factory=list)
    wall_limit_reached: bool = False
    cells_run: int = 0
    seconds: float = 0.0


def _normalise(line: str) -> str:
    return " ".join(_ANSI.sub("", line).split())


def _scrub_text(text: str, secrets: set[str]) -> str:
    if not secrets or not text:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        plain = _normalise(html.unescape(line))
        if plain and any(s in plain for s in secrets):
            out.append("[line removed: hidden-test source]\n")
        else:
            out.append(line)
    return "".join(out)


def scrub_outputs(outputs: list, secrets: set[str]) -> None:
    """Remove every line containing hidden-test source from ``outputs`` (in place)."""
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            output["text"] = _scrub_text(_joined(output.get("text", "")), secrets)
        elif kind == "error":
            output["evalue"] = _scrub_text(str(output.get("evalue", "")), secrets)
            output["traceback"] = [
                _scrub_text(str(line), secrets) for line in output.get("traceback", [])
            ]
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            for mime in list(data):
                value = data[mime]
                if isinstance(value, (str, list)) and not _is_binary(mime):
                    data[mime] = _scrub_text(_joined(value), secrets)


def _joined(value) -> str:
    return value if isinstance(value, str) else "".join(map(str, value))


def _is_binary(mime: str) -> bool:
    return mime.startswith(("image/", "audio/", "video/")) and mime != "image/svg+xml"


class OutputBudget:
    """Applies :class:`OutputLimits` to one notebook's outputs."""

    def __init__(self, limits: OutputLimits):
        self.limits = limits
        self.used = 0

    def _cut(self, text: str) -> str:
        limit = self.limits.text_chars
        if len(text) <= limit:
            return text
        return text[:limit] + f"\n... output truncated ({len(text):,} characters) ...\n"

    def admit(self, output) -> object:
        kind = output.get("output_type")
        if kind == "stream":
            output["text"] = self._cut(_joined(output.get("text", "")))
        elif kind == "error":
            output["evalue"] = self._cut(str(output.get("evalue", "")))[:2000]
            traceback = [self._cut(str(line)) for line in output.get("traceback", [])][-60:]
            output["traceback"] = traceback
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            for mime in list(data):
                value = data[mime]
                if isinstance(value, (dict, list)) and mime.endswith("json"):
                    value = json.dumps(value)
                text = _joined(value) if isinstance(value, (str, list)) else str(value)
                if mime.startswith("text/plain"):
                    data[mime] = self._cut(text)
                elif len(text) > self.limits.rich_bytes:
                    del data[mime]
                    note = f"[{mime} output of {len(text):,} bytes omitted: over the size limit]"
                    data.setdefault("text/plain", note)
            output.pop("metadata", None) if not isinstance(output.get("metadata"), dict) else None
        size = len(json.dumps(output, default=str))
        if self.used + size > self.limits.notebook_bytes:
            return _note("[output omitted: the notebook's outputs reached their size limit]\n")
        self.used += size
        return output


def _note(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _error(ename: str, evalue: str):
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class _Kernel:
    """One kernel process (sandboxed or not) and a blocking client on IPC sockets."""

    def __init__(self, sandbox: Sandbox | None, workdir: Path, private: Path, extra_args):
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.private = private
        conn = private / "kernel.json"
        conn.unlink(missing_ok=True)
        write_connection_file(
            str(conn), transport="ipc", ip=str(private / "k"), key=os.urandom(16).hex().encode()
        )
        argv = [
            sys.executable,
            "-Xfrozen_modules=off",
            "-m",
            "ipykernel_launcher",
            "-f",
            str(conn),
            "--HistoryManager.hist_file=:memory:",
            "--InteractiveShell.xmode=Minimal",
            *extra_args,
        ]
        self.log = open(private / "kernel.log", "ab")  # noqa: SIM115 - closed in stop()
        env = dict(GRADING_KERNEL_ENV)
        if sandbox is None:
            env["JPY_PARENT_PID"] = ""
            env.setdefault("IPYTHONDIR", str(private / "ipython"))
        self.process = launch(
            sandbox,
            argv,
            cwd=workdir,
            env=env,
            stdin=__import__("subprocess").DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        self.client = BlockingKernelClient(connection_file=str(conn))
        self.client.load_connection_file()
        self.client.start_channels()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            try:
                self.client.wait_for_ready(timeout=min(5.0, max(0.5, deadline - time.monotonic())))
                return True
            except RuntimeError:
                continue
        return False

    def run(self, source: str, timeout: float, admit: Callable) -> tuple[str, list]:
        """Execute ``source``: ``("ok" | "timeout" | "died", outputs)``."""
        msg_id = self.client.execute(
            source, silent=False, store_history=True, allow_stdin=False, stop_on_error=False
        )
        outputs: list = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", outputs
            try:
                msg = self.client.get_iopub_msg(timeout=min(1.0, remaining))
            except queue.Empty:
                if not self.alive():
                    return "died", outputs
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return "ok", outputs
            if kind == "clear_output":
                outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                try:
                    output = nbformat.v4.output_from_msg(msg)
                except Exception:  # noqa: BLE001 - malformed message from student code
                    continue
                if (
                    kind == "stream"
                    and outputs
                    and outputs[-1].get("output_type") == "stream"
                    and outputs[-1].get("name") == output.get("name")
                ):
                    outputs[-1]["text"] = _joined(outputs[-1]["text"]) + _joined(output["text"])
                    outputs[-1] = admit(outputs[-1])
                elif len(outputs) < 50:
                    outputs.append(admit(output))
                elif len(outputs) == 50:
                    outputs.append(admit(_note("[further outputs of this cell omitted]\n")))

    def stop(self) -> None:
        try:
            self.client.stop_channels()
        except Exception:  # noqa: BLE001
            pass
        kill(self.process)
        self.log.close()


def execute_notebook(
    nb,
    workdir: Path,
    *,
    sandbox: Sandbox | None = None,
    private: Path | None = None,
    timeout: float = 120,
    wall_limit: float | None = None,
    startup_timeout: float = 90,
    secret_lines: set[str] | None = None,
    limits: OutputLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
    extra_kernel_args: tuple[str, ...] = (),
) -> ExecutionReport:
    """Execute every code cell of ``nb`` (in place: outputs and execution counts) with the
    kernel's working directory ``workdir``; see the module docstring.

    Cells are numbered from 1 in messages, as a notebook's cells appear (markdown included).
    ``private`` is a folder for the connection file, IPC sockets and kernel log (inside the
    sandbox's scratch folder when sandboxed; its path must stay short: Unix sockets allow
    about 100 characters). ``progress(done, total)`` is called after each cell.
    """
    start = time.monotonic()
    report = ExecutionReport()
    limits = limits or OutputLimits()
    budget = OutputBudget(limits)
    secrets = secret_lines or set()
    own_private = private is None
    if own_private:
        private = Path(tempfile.mkdtemp(prefix="rck-"))
    private = Path(private)
    private.mkdir(parents=True, exist_ok=True)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i in code:
        nb.cells[i].outputs = []
        nb.cells[i].execution_count = None
    ran_ok: list[int] = []  # cells a fresh kernel replays after a time-out
    kernel = None

    def admit(output):
        scrub_outputs([output], secrets)
        return budget.admit(output)

    def over_wall() -> bool:
        return wall_limit is not None and time.monotonic() - start > wall_limit

    def left_for(reason: str, after: int) -> None:
        for j in code:
            if j > after and not nb.cells[j].outputs:
                nb.cells[j].outputs = [_error(NOT_RUN, reason)]

    def fresh_kernel() -> _Kernel | None:
        k = _Kernel(sandbox, workdir, private, extra_kernel_args)
        if k.wait_ready(startup_timeout):
            return k
        k.stop()
        return None

    try:
        kernel = fresh_kernel()
        if kernel is None:
            reason = "the kernel did not start"
            report.events.append(reason + _log_tail(private))  # why, from the kernel's log
            left_for(reason, -1)
            return report
        count = 0
        for position, i in enumerate(code):
            cell = nb.cells[i]
            if over_wall():
                report.wall_limit_reached = True
                reason = f"not run: the submission's time limit ({wall_limit:g} s) was reached"
                report.events.append(f"wall-clock limit reached before cell {i + 1}")
                left_for(reason, i - 1)
                break
            limit = (
                timeout
                if wall_limit is None
                else max(1.0, min(timeout, wall_limit - (time.monotonic() - start)))
            )
            status, outputs = kernel.run(cell.source, limit, admit)
            count += 1
            cell.execution_count = count
            cell.outputs = outputs
            report.cells_run += 1
            if status == "ok":
                ran_ok.append(i)
            elif status == "timeout":
                report.timed_out.append(i)
                cell.outputs.append(
                    _error(TIMEOUT, f"cell {i + 1} ran past the time limit of {limit:g} s; stopped")
                )
                kernel.stop()
                kernel = fresh_kernel()
                replayed = kernel is not None and _replay(kernel, nb, ran_ok, timeout)
                if not replayed:
                    reason = f"not run: the kernel could not be restored after the time limit in cell {i + 1}"
                    report.events.append(reason)
                    left_for(reason, i)
                    break
                report.events.append(
                    f"time limit in cell {i + 1}: kernel restarted, earlier cells replayed"
                )
            else:  # died
                report.died_in = i
                cell.outputs.append(_error(DIED, f"kernel died in cell {i + 1}"))
                report.events.append(f"kernel died in cell {i + 1}")
                left_for(f"not run: kernel died in cell {i + 1}", i)
                break
            if progress is not None:
                progress(position + 1, len(code))
    finally:
        if kernel is not None:
            kernel.stop()
        report.seconds = time.monotonic() - start
        if own_private:
            shutil.rmtree(private, ignore_errors=True)
    return report


def _replay(kernel: _Kernel, nb, cells: list[int], timeout: float) -> bool:
    """Re-run ``cells`` (outputs discarded) in a fresh kernel; False if one hangs or kills it."""
    for i in cells:
        status, _ = kernel.run(nb.cells[i].source, timeout, lambda o: o)
        if status != "ok":
            return False
    return True


def _log_tail(private: Path) -> str:
    try:
        tail = (Path(private) / "kernel.log").read_bytes()[-300:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in tail.splitlines() if line.strip()]
    return f" ({lines[-1].strip()[:160]})" if lines else ""
