"""Re-verification of awarded exercises outside the learner's kernel.

nbgrader runs the tests in the learner's own kernel, where an answer cell can replace
``np.testing.assert_allclose``, a ``relu_course`` check, or make ``==`` always true. So for
every exercise nbgrader awarded points, a separate clean process (``_verify_child``) runs
only the release's code and the learner's *answer* cells, then:

* **probes** (declared with each exercise, :mod:`relu_course.checks._registry`): calls the
  learner's object on inputs chosen here as each probe's mode says, saves the raw results
  (``.npz``, no pickle) and this process compares them with references computed here,
  where no learner code ever runs;
* **source tests** (every other exercise): runs the source test cell (visible and hidden
  tests) after the release's own set-up and demo cells;
* in both cases reports library functions the answer cells replaced (``numpy``,
  ``numpy.testing``, ``tensorflow``, ``keras``, ``relu_course.checks``, builtins) and
  set-up names they rebound (``check_add_one = ...``).

An exercise keeps its points only when nbgrader and this verification both pass.
"""

from __future__ import annotations

import json
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relu_course.checks import registry
from relu_course.checks._registry import Probe, compare_structures
from relu_course.grading.cells import exercise_name, grade_id, is_answer, is_autograded_test
from relu_course.grading.probe_wire import decode_result, encode_probe

__all__ = ["Verification", "verify_submission"]


def _probes_of(exercise: str):
    """The registered probe factory of ``exercise`` (None: re-verified by source tests)."""
    record = registry().get(exercise)
    return None if record is None else record.probes


@dataclass
class Verification:
    """Per exercise: ``None`` when verified, else why not. ``notes``: tampering seen."""

    failures: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _without_shell_lines(source: str) -> str:
    # `!relu-course doctor` and friends report on the machine; they define nothing.
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))
    )


def _plan(submitted, source, exercises: set[str]) -> tuple[list, set[str]]:
    """The cells to run: the source's code with the learner's answer cells swapped in.

    Only set-up cells (before the first answer) are needed when every exercise has probes;
    otherwise every non-test cell runs, with the source test cells of the exercises to check.
    """
    answers = {grade_id(c): c.source for c in submitted.cells if is_answer(c) and grade_id(c)}
    by_probe = {e for e in exercises if _probes_of(e) is not None}
    by_test = exercises - by_probe
    cells, seen_answer = [], False
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        if is_answer(cell):
            seen_answer = True
            cells.append(("answer", grade_id(cell), answers.get(grade_id(cell), "")))
        elif is_autograded_test(cell):
            if exercise_name(grade_id(cell)) in by_test:
                cells.append(("test", grade_id(cell), cell.source))
        elif not seen_answer or by_test:
            cells.append(("setup", cell.get("id", "?"), _without_shell_lines(cell.source)))
    return cells, by_probe


def _python(source: str) -> str:
    """IPython syntax (magics, ``!`` lines) as plain Python, translated here in the grader:
    the clean process never runs an IPython shell or its input transformers."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - leave it to the child to report the syntax error
        return source


class _Channel:
    """The grader's end of the step protocol with the clean process (see _verify_child)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: queue.Queue = queue.Queue()
        self.forged = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            line = stream.readline(1_000_000)
            if not line:
                self.lines.put(None)
                return
            self.lines.put(line)

    def step(self, message: dict, timeout: float) -> dict | None:
        """Send one step; its reply, or None when the process died or ran out of time."""
        nonce = secrets.token_hex(16)
        try:
            self.process.stdin.write((json.dumps({**message, "nonce": nonce}) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            return None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                return None
            try:
                reply = json.loads(line)
            except ValueError:
                self.forged = True
                continue
            if not isinstance(reply, dict) or reply.get("nonce") != nonce:
                self.forged = True  # a line the verifier did not ask for
                continue
            return reply

    def trailing(self, wait: float = 1.0) -> None:
        """After the end step: anything more on the channel was not the verifier's."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            self.forged = True


def verify_submission(
    notebook: Path | None,
    submitted,
    source,
    exercises: set[str],
    timeout: int = 60,
    seed: int | None = None,
    *,
    sandboxed: bool | None = None,
    release_dir: Path | None = None,
    track=None,
    memory_gb: float = 12.0,
) -> Verification:
    """Re-verify ``exercises`` of the learner's notebook ``submitted`` (a NotebookNode)
    against the source notebook ``source`` in a clean process.

    ``notebook`` (the submission's path) is not read: no file of the student's is copied
    next to the answer code, only the non-notebook files of ``release_dir``. The process
    runs in a sandbox (``sandboxed``: default when bubblewrap is available). ``track``
    (with ``add``/``discard``) is told about the process, so the grader can end it.
    """
    from relu_course.grading import sandbox as sandboxing

    verdict = Verification()
    if not exercises:
        return verdict
    if sandboxed is None:
        sandboxed = sandboxing.available()
    cells, by_probe = _plan(submitted, source, exercises)
    rng = np.random.default_rng(seed)
    probes = {e: _probes_of(e)(rng) for e in sorted(by_probe)}
    arrays, specs = {}, []
    for exercise, items in probes.items():
        for i, probe in enumerate(items):
            specs.append(encode_probe(probe, f"{exercise}__{i}", exercise, arrays))
    report = {"cells": {}, "probes": {}, "results": {}, "replaced": set(), "rebound": set()}
    scratch = Path(tempfile.mkdtemp(prefix="relu-verify-"))
    process = None
    try:
        (scratch / "out").mkdir()
        work = scratch / "work"
        work.mkdir()
        if release_dir is not None:
            for item in Path(release_dir).iterdir():
                if item.is_file() and item.suffix != ".ipynb" and not item.is_symlink():
                    shutil.copy(item, work / item.name)
        np.savez(scratch / "inputs.npz", **arrays)
        box = (
            sandboxing.Sandbox(scratch, memory_bytes=int(memory_gb * sandboxing.GIB))
            if sandboxed
            else None
        )
        process = sandboxing.launch(
            box,
            [sys.executable, "-m", "relu_course.grading._verify_child", str(scratch)],
            cwd=work,
            env={"RELU_COURSE_CHECK_TIME_LIMIT": str(max(5, timeout // 2)), "MPLBACKEND": "Agg"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        if track is not None:
            track.add(process)
        channel = _Channel(process)
        steps: list[dict] = []
        for kind, cell_id, code in cells:
            if kind == "test":  # every test runs against the libraries as released
                steps.append({"kind": "restore", "id": "restore"})
            steps.append({"kind": kind, "id": cell_id, "source": _python(code)})
        steps.append({"kind": "restore", "id": "restore"})
        steps += [{"kind": "probe", "id": spec["id"], "probe": spec} for spec in specs]
        steps.append({"kind": "end", "id": "end"})
        finished = False
        for step in steps:
            reply = channel.step(step, timeout + (60 if step is steps[0] else 0))
            if reply is None:
                verdict.notes.append(f"verifier stopped at {step['kind']} {step['id']}")
                break
            if step["kind"] == "end":
                finished = True
            if step["kind"] in ("restore", "answer"):
                report["replaced"].update(reply.get("replaced", []))
                report["rebound"].update(reply.get("rebound", []))
            if step["kind"] == "probe":
                report["probes"][step["id"]] = reply.get("error")
                report["results"][step["id"]] = reply.get("result")
            elif step["kind"] in ("setup", "answer", "test"):
                report["cells"][step["id"]] = reply.get("error")
        if finished:
            channel.trailing()
        if channel.forged:
            verdict.notes.append("the verifier received replies it did not ask for (forged)")
        if report["replaced"]:
            verdict.notes.append(
                "answer cells replace library functions: "
                + ", ".join(sorted(report["replaced"])[:8])
            )
        if report["rebound"]:
            verdict.notes.append(
                "answer cells rebind set-up names: " + ", ".join(sorted(report["rebound"])[:8])
            )
        for exercise in sorted(exercises):
            verdict.failures[exercise] = _judge(
                exercise, probes.get(exercise), report, scratch / "out"
            )
        blanket = None
        if channel.forged:
            blanket = "the verifier's replies were forged from inside the process"
        elif not finished:
            blanket = "the verifier process stopped before the end (time limit or crash)"
        elif report["replaced"] or report["rebound"]:
            blanket = "answer cells replace checks or library functions"
        if blanket:
            for exercise in verdict.failures:
                verdict.failures[exercise] = verdict.failures[exercise] or blanket
    finally:
        if process is not None:
            sandboxing.kill(process)
            if track is not None:
                track.discard(process)
        shutil.rmtree(scratch, ignore_errors=True)
    return verdict


def _judge(exercise: str, probes: list[Probe] | None, report: dict, out: Path) -> str | None:
    if probes is None:
        status = report["cells"].get(f"test_{exercise}", "did not run")
        return None if status is None else f"source tests fail in a clean process ({status})"
    for i, probe in enumerate(probes):
        key = f"{exercise}__{i}"
        where = f"on verifier input {i + 1}" + (f" ({probe.about})" if probe.about else "")
        if key not in report["probes"]:
            return "verifier did not reach this exercise (time limit?)"
        if report["probes"][key] is not None:
            return f"raised {where}: {report['probes'][key]}"
        try:
            with np.load(out / f"{key}.npz", allow_pickle=False) as leaves:
                got = decode_result(report["results"][key], dict(leaves))
        except (OSError, ValueError, KeyError, TypeError) as error:
            return f"result unreadable ({type(error).__name__})"
        if probe.judge is not None:
            problem = probe.judge(got)
        else:
            problem = compare_structures(
                probe.expected,
                got,
                atol=probe.atol,
                rtol=probe.rtol if probe.rtol else (1e-6 if probe.atol else 0.0),
                same_dtype=probe.same_dtype,
            )
        if problem:
            return f"{problem} {where}"
    return None
