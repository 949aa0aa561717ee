"""End-to-end catalogue of submissions through ``relu-course grade``.

One batch (built from solutions/00_welcome, one from 01_relu) is graded once, in parallel;
each case asserts its own score and reason, and that nothing else in the batch was lost.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest

from relu_course.course import course_root
from relu_course.grading import grade as grading
from relu_course.grading.cells import locked_cell_changes

REPO = course_root(Path(__file__).parent)
TIMEOUT = 30  # seconds per cell: the swallowed infinite loop costs two of these


def _release(assignment: str):
    return nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)


def _with_answers(nb, answers: dict[str, str]):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


CORRECT = '''def add_one(x):
    """Return x + 1."""
    return x + 1
'''


def _cell_index(nb, grade_id):
    return next(
        i
        for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def _welcome_cases() -> dict[str, tuple[object, float, str]]:
    """student -> (notebook, bytes or None, expected final score, expected reason fragment)."""
    release = _release("00_welcome")
    cases = {}

    def add(name, nb, score, reason):
        cases[name] = (nb, score, reason)

    add("correct", _with_answers(release, {"add_one": CORRECT}), 1, "")
    add("stub", release, 0, "")
    add("wrong", _with_answers(release, {"add_one": "def add_one(x):\n    return x + 2\n"}), 0, "")
    add(
        "visible_only",
        _with_answers(
            release,
            {
                "add_one": (
                    "def add_one(x):\n    if isinstance(x, np.ndarray):\n"
                    "        return (x + 1).astype(np.float32)\n    return x + 1\n"
                )
            },
        ),
        0,
        "",
    )
    add(
        "raises",
        _with_answers(release, {"add_one": ("def add_one(x):\n    raise ValueError('oops')\n")}),
        0,
        "",
    )
    add(
        "infinite_loop",
        _with_answers(
            release,
            {
                "add_one": (
                    "def add_one(x):\n    while True:\n        try:\n            while True:\n"
                    "                pass\n        except BaseException:\n            pass\n"
                )
            },
        ),
        0,
        "",
    )
    add(
        "stderr_warnings",
        _with_answers(
            release,
            {
                "add_one": (
                    "import sys\nimport warnings\n\n\ndef add_one(x):\n"
                    "    warnings.warn('add_one is being careful')\n"
                    "    print('2025-01-01 I tensorflow: some log line', file=sys.stderr)\n"
                    "    return x + 1\n"
                )
            },
        ),
        1,
        "",
    )
    deleted = _with_answers(release, {"add_one": CORRECT})
    del deleted.cells[_cell_index(deleted, "test_add_one")]
    add("deleted_test", deleted, 0, "deleted")
    edited = _with_answers(release, {"add_one": "def add_one(x):\n    return x\n"})
    edited.cells[_cell_index(edited, "test_add_one")].source = "pass"
    add("edited_test", edited, 0, "edited")
    add("invalid_json", b'{"cells": [', 0, "not valid notebook JSON")
    add("missing_notebook", None, 0, "notebook missing")
    add("empty_file", b"", 0, "empty file")
    add("extra_files", _with_answers(release, {"add_one": CORRECT}), 1, "")
    add(
        "monkeypatch",
        _with_answers(
            release,
            {
                "add_one": (
                    "import relu_course.checks\n\n\nclass _Agreeable:\n    dtype = np.int64\n\n"
                    "    def __eq__(self, other):\n        return True\n\n\n"
                    "def add_one(x):\n    return _Agreeable()\n\n\n"
                    "check_add_one = lambda candidate: None\n"
                    "relu_course.checks.check_add_one = check_add_one\n"
                    "np.array_equal = lambda *args, **kwargs: True\n"
                )
            },
        ),
        0,
        "re-verification",
    )
    loud = _with_answers(release, {"add_one": CORRECT + "\nprint('x' * 3_000_000)\n"})
    add("megabytes_output", loud, 1, "")
    return cases


RELU_ANSWERS = {
    "relu_np": "def relu_np(x):\n    return np.maximum(x, np.zeros((), dtype=x.dtype))\n",
    "relu_grad": "def relu_grad(x):\n    return (x > 0).astype(x.dtype)\n",
    "relu_tf": "def relu_tf(x):\n    return tf.abs(x)\n",
}


def _write(folder: Path, name: str, content) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if content is None:
        (folder / "README.txt").write_text("forgot the notebook\n")
    elif isinstance(content, bytes):
        (folder / name).write_bytes(content)
    else:
        nbformat.write(content, folder / name)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def make_course(tmp: Path, assignments=("00_welcome", "01_relu")) -> Path:
    """A scratch course folder: config, solutions and release of the given assignments."""
    course = tmp / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    for assignment in assignments:
        shutil.copytree(REPO / "solutions" / assignment, course / "solutions" / assignment)
        shutil.copytree(REPO / "notebooks" / assignment, course / "notebooks" / assignment)
    return course


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    course = make_course(tmp)
    submitted = tmp / "submitted"
    cases = _welcome_cases()
    for student, (content, _, _) in cases.items():
        _write(submitted / student / "00_welcome", "00_welcome.ipynb", content)
    extra = submitted / "extra_files" / "00_welcome"
    (extra / "notes.md").write_text("my notes\n")
    (extra / "helper.py").write_text("raise SystemExit('never imported')\n")
    (extra / "data").mkdir()
    (extra / "data" / "x.csv").write_text("1,2\n")
    _write(
        submitted / "relu_partial" / "01_relu",
        "01_relu.ipynb",
        _with_answers(_release("01_relu"), RELU_ANSWERS),
    )
    before = _tree_digest(submitted)
    results = grading.grade(
        course, submitted, jobs=2, timeout=TIMEOUT, csv_path=tmp / "grades.csv", progress=False
    )
    return {
        "course": course,
        "submitted": submitted,
        "cases": cases,
        "before": before,
        "results": {(r.student, r.assignment): r for r in results},
        "csv": tmp / "grades.csv",
    }


WELCOME = list(_welcome_cases())


@pytest.mark.parametrize("student", WELCOME)
def test_catalogue_score_and_reason(batch, student):
    _, expected, reason = batch["cases"][student]
    result = batch["results"][(student, "00_welcome")]
    text = " | ".join([result.status, *result.tampering, *result.disagreements])
    assert result.score == expected, f"{student}: {result.score} ({text})"
    assert result.max_score == 1
    if reason:
        assert reason in text, f"{student}: {reason!r} not in {text!r}"
    else:
        assert result.status == "graded" and not result.disagreements, text


def test_nothing_lost_and_originals_untouched(batch):
    expected = {(s, "00_welcome") for s in WELCOME} | {("relu_partial", "01_relu")}
    assert set(batch["results"]) == expected
    assert _tree_digest(batch["submitted"]) == batch["before"]
    rows = list(csv.DictReader(open(batch["csv"], encoding="utf-8")))
    assert {(r["student"], r["assignment"]) for r in rows} == expected
    assert batch["csv"].with_suffix(".nbgrader.csv").is_file()


def test_relu_partial_scores_per_exercise(batch):
    result = batch["results"][("relu_partial", "01_relu")]
    scores = {e.grade_id: e.final for e in result.exercises}
    assert scores == {
        "test_relu_np": 2,
        "test_relu_tf": 0,
        "test_relu_grad": 2,
        "test_hat_network": 0,
    }, result
    assert not result.disagreements


def test_monkeypatch_reported_and_zeroed_in_gradebook(batch):
    from nbgrader.api import Gradebook

    result = batch["results"][("monkeypatch", "00_welcome")]
    assert result.nbgrader_score == 1 and result.score == 0
    assert any("numpy.array_equal" in t or "check_add_one" in t for t in result.tampering)
    with Gradebook(grading._db_url(batch["course"])) as gb:
        grade = gb.find_grade("test_add_one", "00_welcome", "00_welcome", "monkeypatch")
        assert grade.score == 0 and grade.needs_manual_grade


def test_stderr_and_timeouts_cost_only_their_exercise(batch):
    loop = batch["results"][("infinite_loop", "00_welcome")]
    assert loop.status == "graded" and "time limit" in loop.exercises[0].message
    assert batch["results"][("stderr_warnings", "00_welcome")].nbgrader_score == 1


def test_large_output_is_truncated(batch):
    autograded = batch["course"] / "autograded" / "megabytes_output" / "00_welcome"
    assert (autograded / "00_welcome.ipynb").stat().st_size < 500_000


def test_feedback_hides_hidden_tests(batch):
    feedback = batch["course"] / "feedback" / "visible_only" / "00_welcome" / "00_welcome.html"
    html = feedback.read_text(encoding="utf-8")
    assert "add_one" in html
    for secret in ("HIDDEN TESTS", "add_one(-1) == 0", "np.arange(6, dtype=np.int64)"):
        assert secret not in html


def test_regrade_is_idempotent_and_keeps_manual_grades(batch, tmp_path):
    from nbgrader.api import Gradebook

    course, submitted = batch["course"], tmp_path / "again"
    shutil.copytree(batch["submitted"] / "correct", submitted / "correct")
    with Gradebook(grading._db_url(course)) as gb:
        grade = gb.find_grade("test_add_one", "00_welcome", "00_welcome", "correct")
        grade.manual_score = 0.5
        gb.db.commit()
    again = grading.grade(course, submitted, jobs=1, timeout=TIMEOUT, progress=False)
    assert [(r.student, r.score) for r in again] == [("correct", 0.5)]
    with Gradebook(grading._db_url(course)) as gb:
        grade = gb.find_grade("test_add_one", "00_welcome", "00_welcome", "correct")
        assert grade.auto_score == 1 and grade.manual_score == 0.5
        # the rest of the batch is still in the gradebook, unchanged
        assert gb.find_grade("test_add_one", "00_welcome", "00_welcome", "monkeypatch").score == 0
        assert len(gb.students) == len(WELCOME) + 1


def test_locked_cell_changes_names_stripped_metadata():
    release = _release("00_welcome")
    stripped = copy.deepcopy(release)
    stripped.cells[_cell_index(stripped, "test_add_one")].metadata = {}
    assert [str(t) for t in locked_cell_changes(stripped, release)] == [
        "test_add_one: metadata stripped"
    ]
    assert locked_cell_changes(release, release) == []
