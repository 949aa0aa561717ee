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
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relu_course.checks import registry
from relu_course.checks._registry import Probe, compare_structures
from relu_course.grading.cells import exercise_name
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


def _is_answer(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) and cell.cell_type == "code"


def _is_test(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


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
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in submitted.cells
        if _is_answer(c) and c.metadata["nbgrader"].get("grade_id")
    }
    by_probe = {e for e in exercises if _probes_of(e) is not None}
    by_test = exercises - by_probe
    cells, seen_answer = [], False
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if _is_answer(cell):
            seen_answer = True
            if cell.cell_type == "code":
                cells.append(("answer", meta["grade_id"], answers.get(meta["grade_id"], "")))
        elif _is_test(cell):
            if exercise_name(meta["grade_id"]) in by_test:
                cells.append(("test", meta["grade_id"], cell.source))
        elif not seen_answer or by_test:
            cells.append(("setup", cell.get("id", "?"), _without_shell_lines(cell.source)))
    return cells, by_probe


def verify_submission(
    notebook: Path,
    submitted,
    source,
    exercises: set[str],
    timeout: int = 60,
    seed: int | None = None,
) -> Verification:
    """Re-verify ``exercises`` of the learner's notebook ``submitted`` (a NotebookNode whose
    file is ``notebook``) against the source notebook ``source`` in a clean process."""
    verdict = Verification()
    if not exercises:
        return verdict
    cells, by_probe = _plan(submitted, source, exercises)
    rng = np.random.default_rng(seed)
    probes = {e: _probes_of(e)(rng) for e in sorted(by_probe)}
    with tempfile.TemporaryDirectory(prefix="relu-course-verify-") as scratch:
        scratch = Path(scratch)
        out = scratch / "out"
        out.mkdir()
        work = scratch / "work"  # run beside copies of the submission's other files
        work.mkdir()
        for item in Path(notebook).parent.iterdir():
            if item.is_file() and item.suffix != ".ipynb" and item.stat().st_size < 50_000_000:
                (work / item.name).write_bytes(item.read_bytes())
        arrays, specs = {}, []
        for exercise, items in probes.items():
            for i, probe in enumerate(items):
                specs.append(encode_probe(probe, f"{exercise}__{i}", exercise, arrays))
        np.savez(scratch / "inputs.npz", **arrays)
        job = {
            "cells": cells,
            "probes": specs,
            "inputs": str(scratch / "inputs.npz"),
            "out": str(out),
            "timeout": timeout,
        }
        (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
        budget = timeout * (2 + sum(kind != "setup" for kind, _, _ in cells)) + 60
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "relu_course.grading._verify_child",
                    str(scratch / "job.json"),
                ],
                cwd=work,
                timeout=budget,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "MPLBACKEND": "Agg",
                    "RELU_COURSE_CHECK_TIME_LIMIT": str(max(5, timeout // 2)),
                },
            )
        except subprocess.TimeoutExpired:
            verdict.notes.append(f"verifier stopped after {budget} s")
        try:
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {"cells": {}, "probes": {}, "replaced": [], "rebound": []}
        if report.get("replaced"):
            verdict.notes.append(
                "answer cells replace library functions: " + ", ".join(report["replaced"][:8])
            )
        if report.get("rebound"):
            verdict.notes.append(
                "answer cells rebind set-up names: " + ", ".join(report["rebound"][:8])
            )
        for exercise in sorted(exercises):
            verdict.failures[exercise] = _judge(exercise, probes.get(exercise), report, out)
        if report.get("replaced") or report.get("rebound"):
            for exercise in verdict.failures:
                verdict.failures[exercise] = verdict.failures[exercise] or (
                    "answer cells replace checks or library functions"
                )
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
