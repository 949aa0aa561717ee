"""Units of ``relu-course grade``: metadata restoration, output bounds, hidden-test scrubbing,
stored results, the sandbox itself and the executor's hang/death handling.

The end-to-end batch (honest, malformed and hostile submissions) is in
``tests/test_grading_attacks.py``.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import processes_with, wait_until_gone

from relu_course.grading import grade as grading
from relu_course.grading import sandbox
from relu_course.grading.cells import Tampering, hidden_test_lines, locked_cell_changes
from relu_course.grading.execute import (
    DIED,
    NOT_RUN,
    TIMEOUT,
    OutputBudget,
    OutputLimits,
    execute_notebook,
    scrub_outputs,
)
from relu_course.grading.sanitize import restore_metadata, tamper_findings
from relu_course.layout import course_root

REPO = course_root(Path(__file__).parent)
needs_bwrap = pytest.mark.skipif(
    not sandbox.available() and not os.environ.get("CI"), reason="bubblewrap not installed"
)


def _release(assignment: str = "00_welcome"):
    return nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)


def _index(nb, grade_id):
    return next(
        i
        for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


# --- metadata ----------------------------------------------------------------------------------


def test_locked_cell_changes_names_stripped_metadata():
    release = _release()
    stripped = copy.deepcopy(release)
    stripped.cells[_index(stripped, "test_add_one")].metadata = {}
    assert [str(t) for t in locked_cell_changes(stripped, release)] == [
        "test_add_one: metadata stripped"
    ]
    assert locked_cell_changes(release, release) == []


def test_untouched_submission_needs_no_restoration():
    release = _release()
    restored, findings = tamper_findings(release, release)
    assert findings == [] and restored == release


@pytest.mark.parametrize(
    ("changes", "reported"),
    [
        ({"grade": False}, "grade True → False"),
        ({"points": 100}, "points 1 → 100"),
        ({"locked": False, "solution": True}, "locked True → False"),
    ],
)
def test_changed_test_metadata_is_restored_and_reported(changes, reported):
    release = _release()
    nb = copy.deepcopy(release)
    nb.cells[_index(nb, "test_add_one")].metadata["nbgrader"].update(changes)
    restored, findings = restore_metadata(nb, release)
    cell = restored.cells[_index(restored, "test_add_one")]
    assert (
        cell.metadata["nbgrader"]
        == release.cells[_index(release, "test_add_one")].metadata["nbgrader"]
    )
    assert len(findings) == 1 and findings[0].grade_id == "test_add_one"
    assert reported in findings[0].change


def test_extra_and_duplicate_grade_cells_lose_their_metadata():
    release = _release()
    nb = copy.deepcopy(release)
    test = nb.cells[_index(nb, "test_add_one")]
    bonus = nbformat.v4.new_code_cell("print('free points')")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 5}
    twin = copy.deepcopy(test)
    twin.source = "pass"
    nb.cells += [bonus, twin]
    restored, findings = restore_metadata(nb, release)
    assert "nbgrader" not in restored.cells[-1].metadata
    assert "nbgrader" not in restored.cells[-2].metadata
    assert [t.grade_id for t in findings] == ["bonus", "test_add_one"]
    assert "not in the release" in findings[0].change and "second cell" in findings[1].change


def test_renamed_and_retyped_test_cells_come_back():
    release = _release()
    nb = copy.deepcopy(release)
    i = _index(nb, "test_add_one")
    nb.cells[i].metadata["nbgrader"]["grade_id"] = "test_mine"
    restored, findings = restore_metadata(nb, release)
    assert _index(restored, "test_add_one") == i
    assert any("grade_id changed" in t.change for t in findings)

    nb = copy.deepcopy(release)
    cell = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    restored, findings = restore_metadata(nb, release)
    assert restored.cells[i].cell_type == "code"
    assert restored.cells[i].source == cell.source
    assert any("cell type code → markdown" in t.change for t in findings)
    nbformat.validate(restored)


# --- outputs -------------------------------------------------------------------------------------


def test_hidden_test_lines_are_scrubbed_from_every_output_kind():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "check(f)\n### BEGIN HIDDEN TESTS\nassert f(-1) == 0  # secret\n### END HIDDEN TESTS"
        )
    ]
    secrets = hidden_test_lines(nb)
    assert secrets == {"assert f(-1) == 0 # secret"}
    outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text="ok\n  assert f(-1) ==  0  # secret\n"
        ),
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue="",
            traceback=["\x1b[0;32massert\x1b[0m f(-1) == 0  # secret"],
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<pre>assert f(-1) == 0  # secret</pre>"}
        ),
    ]
    scrub_outputs(outputs, secrets)
    text = str(outputs)
    assert "f(-1)" not in text and "ok" in text and "hidden-test source" in text


def test_output_budget_bounds_every_mime_type():
    budget = OutputBudget(OutputLimits(text_chars=100, rich_bytes=1000, notebook_bytes=20_000))
    image = nbformat.v4.new_output(
        "display_data", data={"image/png": "A" * 50_000, "text/html": "<b>" * 10_000}
    )
    kept = budget.admit(image)
    assert set(kept["data"]) == {"text/plain"} and "omitted" in kept["data"]["text/plain"]
    text = budget.admit(nbformat.v4.new_output("stream", name="stdout", text="x" * 10_000))
    assert len(text["text"]) < 200
    for _ in range(300):
        last = budget.admit(nbformat.v4.new_output("stream", name="stdout", text="y" * 90))
    assert "size limit" in last["text"]


# --- stored results ------------------------------------------------------------------------------


def test_result_files_round_trip():
    result = grading.SubmissionResult(
        "ada",
        "00_welcome",
        exercises=[grading.ExerciseResult("test_add_one", 1, 1, 0, "ok", "re-verification")],
        tampering=[Tampering("test_add_one", "edited")],
        notes=["time limit in cell 3"],
        digest="abc",
    )
    again = grading.SubmissionResult.from_json(result.to_json())
    assert again == result and again.score == 0 and again.final


def test_grade_refuses_without_bwrap_unless_told(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "available", lambda: False)
    (tmp_path / "submitted").mkdir()
    args = argparse.Namespace(
        course=str(REPO),
        submitted=str(tmp_path / "submitted"),
        assignment=[],
        jobs=1,
        timeout=10,
        csv=str(tmp_path / "g.csv"),
        no_sandbox=False,
    )
    assert grading.main(args) == 2
    assert "--no-sandbox" in capsys.readouterr().err


# --- the sandbox ---------------------------------------------------------------------------------


def _in_sandbox(tmp_path: Path, code: str, **kwargs) -> subprocess.CompletedProcess:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    process = sandbox.launch(
        sandbox.Sandbox(scratch, **kwargs),
        [sys.executable, "-c", code],
        cwd=scratch,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out)


@needs_bwrap
def test_sandbox_sees_only_its_scratch_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    os.environ["RELU_GRADER_SECRET_UNIT"] = "unit-secret"
    try:
        done = _in_sandbox(
            tmp_path,
            f"""
import os, socket
print("READ", os.path.exists({str(outside / "secret.txt")!r}))
print("COURSE", os.path.exists({str(REPO / "solutions")!r}))
print("IFACES", [name for _, name in socket.if_nameindex()])
print("ENV", "RELU_GRADER_SECRET_UNIT" in os.environ)
try:
    open("/usr/pwned", "w")
except OSError as error:
    print("WRITE", type(error).__name__)
open("here.txt", "w").write("fine")
import relu_course, numpy
print("IMPORTS ok")
""",
        )
    finally:
        os.environ.pop("RELU_GRADER_SECRET_UNIT")
    out = done.stdout
    assert "READ False" in out and "COURSE False" in out, out
    assert "IFACES ['lo']" in out and "ENV False" in out and "WRITE" in out, out
    assert "IMPORTS ok" in out, out
    assert (tmp_path / "scratch" / "here.txt").read_text() == "fine"


@needs_bwrap
def test_sandbox_bounds_memory(tmp_path):
    done = _in_sandbox(
        tmp_path,
        "try:\n    b = bytearray(3 * 1024**3)\n    print('ALLOCATED')\n"
        "except MemoryError:\n    print('LIMITED')\n",
        memory_bytes=1024**3,
    )
    assert "LIMITED" in done.stdout, done.stdout


@needs_bwrap
def test_killing_the_sandbox_ends_detached_grandchildren(tmp_path):
    marker = f"relu-unit-{os.getpid()}-{time.time_ns()}"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', "
        f"'{marker}'], start_new_session=True)\n"
        "time.sleep(120)\n"
    )
    process = sandbox.launch(sandbox.Sandbox(scratch), [sys.executable, "-c", code], cwd=scratch)
    deadline = time.monotonic() + 60
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker)
    sandbox.kill(process)
    assert wait_until_gone(marker, seconds=60) == []  # its sleeps last 120 s or more


# --- the executor --------------------------------------------------------------------------------


def test_hang_costs_one_cell_and_death_keeps_what_ran(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 41\nprint('start')"),
        nbformat.v4.new_code_cell(
            "import time\nwhile True:\n    try:\n        time.sleep(100)\n"
            "    except BaseException:\n        pass"
        ),
        nbformat.v4.new_code_cell("x += 1\nprint(x)"),
        nbformat.v4.new_code_cell("import os\nos._exit(3)"),
        nbformat.v4.new_code_cell("print('never')"),
    ]
    work = tmp_path / "work"
    work.mkdir()
    box = sandbox.Sandbox(tmp_path) if sandbox.available() else None
    start = time.monotonic()
    report = execute_notebook(nb, work, sandbox=box, private=tmp_path / "k", timeout=15)
    assert time.monotonic() - start < 120
    outputs = [c.outputs for c in nb.cells]
    assert outputs[0][0]["text"] == "start\n"
    assert outputs[1][-1]["ename"] == TIMEOUT
    assert outputs[2][0]["text"] == "42\n"  # replayed: x came back before the next cell
    assert outputs[3][-1]["ename"] == DIED and "kernel died in cell 4" in outputs[3][-1]["evalue"]
    assert outputs[4][0]["ename"] == NOT_RUN and "kernel died in cell 4" in outputs[4][0]["evalue"]
    assert report.timed_out == [1] and report.died_in == 3


def test_feedback_clears_hidden_tests_only_in_test_cells():
    from relu_course.grading.preprocessors import ClearHiddenTestsInTests

    release = _release()
    source = nbformat.read(REPO / "solutions" / "00_welcome" / "00_welcome.ipynb", as_version=4)
    nb = copy.deepcopy(source)
    answer = nb.cells[_index(nb, "add_one")]
    answer.source = "# my notes: the BEGIN HIDDEN TESTS part is secret\n" + answer.source
    cleared, _ = ClearHiddenTestsInTests().preprocess(nb, {})
    test = cleared.cells[_index(cleared, "test_add_one")].source
    assert "HIDDEN" not in test and not hidden_test_lines(cleared) & hidden_test_lines(source)
    assert "BEGIN HIDDEN TESTS part is secret" in cleared.cells[_index(cleared, "add_one")].source
    assert test.strip() == release.cells[_index(release, "test_add_one")].source.strip()
