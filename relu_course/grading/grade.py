"""``relu-course grade``: nbgrader autograde of untrusted submissions, each in its own sandbox.

For each assignment: refresh the gradebook from ``solutions/`` (``generate_assignment`` into a
scratch release), then for every submission, ``--jobs`` at a time:

1. **prepare**: copy the submission into a private scratch folder (originals are never
   touched), restore tampered nbgrader metadata from the release (:mod:`.sanitize`);
2. **autograde**: ``nbgrader autograde`` on the restored notebook, whose ``Execute`` step is
   :class:`~relu_course.grading.preprocessors.SandboxedExecute`: the kernel runs in a
   bubblewrap sandbox that sees only that scratch folder (:mod:`.sandbox`);
3. **scores**: per exercise from the gradebook and the autograded notebook;
4. **integrity**: deleted or stripped test cells score 0; every awarded exercise is
   re-verified outside the student's kernel (:mod:`.verify`);
5. the result is written to ``.relu-course/grading/results/<assignment>/<student>.json``
   with a digest of its inputs, so a rerun grades only what is missing or changed.

Only the grader, outside every sandbox and after it is gone, writes the gradebook's
integrity zeros (a manual score an instructor entered always wins), the feedback pages, the
CSV files and the summary — always for every submission that finished, even when the
gradebook is locked or corrupt, a worker crashed, or the run was interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from relu_course.grading.cells import (
    Tampering,
    cell_outcome,
    exercise_name,
    grade_id,
    is_autograded_test,
    nbgrader_meta,
    read_notebook,
)
from relu_course.runtime import KERNEL_ENV

__all__ = [
    "ExerciseResult",
    "Settings",
    "SubmissionResult",
    "grade",
    "main",
    "nbgrader_command",
    "render",
]

STATE = ".relu-course"  # grader's working folder inside the course root (git-ignored)
# Bump when grading logic changes in a way that should regrade stored results.
GRADER_VERSION = "2"
# Statuses a rerun keeps; anything else ("interrupted", "gradebook locked", grader errors)
# is graded again.
_FINAL_PREFIXES = ("graded", "not graded: notebook")


@dataclass
class ExerciseResult:
    grade_id: str
    max_points: float
    nbgrader: float  # auto score (0 when nbgrader could not score it)
    final: float
    message: str  # first line of the test's output
    integrity: str | None = None  # why the final score differs from nbgrader's
    manual: bool = False  # the final score is an instructor's manual score


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str = "graded"  # or "not graded: <reason>"
    exercises: list[ExerciseResult] = field(default_factory=list)
    tampering: list[Tampering] = field(default_factory=list)
    max_score: float = 0.0
    notes: list[str] = field(default_factory=list)  # execution events, sandbox state
    digest: str = ""
    sandboxed: bool = True

    @property
    def score(self) -> float:
        return sum(e.final for e in self.exercises)

    @property
    def nbgrader_score(self) -> float:
        return sum(e.nbgrader for e in self.exercises)

    @property
    def disagreements(self) -> list[str]:
        return [f"{e.grade_id}: {e.integrity}" for e in self.exercises if e.integrity]

    @property
    def final(self) -> bool:
        return self.status.startswith(_FINAL_PREFIXES)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        data = json.loads(text)
        data["exercises"] = [ExerciseResult(**e) for e in data.get("exercises", [])]
        data["tampering"] = [Tampering(**t) for t in data.get("tampering", [])]
        return cls(**data)


@dataclass
class Settings:
    """How one run grades: per-cell ``timeout`` (s), ``wall_limit`` per submission (s),
    ``sandbox`` (False only with ``--no-sandbox``), ``memory_gb`` per sandbox, and the
    gradebook's SQLite busy ``db_timeout`` (s)."""

    timeout: int = 120
    wall_limit: int | None = None
    sandbox: bool = True
    memory_gb: float = 12.0
    db_timeout: float = 120.0

    @property
    def wall(self) -> int:
        return self.wall_limit or max(600, 15 * self.timeout)


class _Processes:
    """Every nbgrader/verifier process the grader started, so Ctrl-C can end them all."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def add(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.add(process)
        if self.stopping.is_set():
            self.kill_all()

    def discard(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(process)

    def kill_all(self) -> None:
        from relu_course.grading.sandbox import kill

        with self._lock:
            running = list(self._running)
        for process in running:
            kill(process, wait=5)


PROCESSES = _Processes()


class _Interrupted(Exception):
    pass


def _db_url(root: Path, timeout: float = 120.0) -> str:
    # A generous SQLite busy timeout: parallel autograde processes take turns on the file.
    return f"sqlite:///{root / 'gradebook.db'}?timeout={timeout:g}"


def nbgrader_command(root: Path, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """``(argv, env)`` of one nbgrader command on the course folder ``root``: this
    environment's nbgrader (``python -m nbgrader``, never the first one on PATH), the course
    kernel's quiet environment, Jupyter's platform folders, and PATH led by this
    interpreter's folder (nbgrader runs ``alembic``, the gradebook's migrations, from PATH).
    Shared by ``relu-course grade`` (:func:`_nbgrader`) and ``relu-course release``."""
    argv = [sys.executable, "-m", "nbgrader", *arguments, f"--CourseDirectory.root={root}"]
    env = {
        **os.environ,
        **KERNEL_ENV,
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLBACKEND": "Agg",
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    }
    return argv, env


def _nbgrader(
    root: Path,
    *arguments: str,
    log: Path | None = None,
    timeout: float | None = None,
    db_timeout: float = 120.0,
) -> int:
    """Run one nbgrader command in the course folder; its exit code (-9 when killed).

    The one place the grader runs nbgrader: a child process in its own session, registered
    so that Ctrl-C ends it (and, through ``--die-with-parent``, every sandbox it started)."""
    from relu_course.grading.sandbox import kill

    command, env = nbgrader_command(
        root, *arguments, f"--CourseDirectory.db_url={_db_url(root, db_timeout)}"
    )
    if PROCESSES.stopping.is_set():
        raise _Interrupted()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log or os.devnull, "a", encoding="utf-8") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
        PROCESSES.add(process)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(process)
            return -9
        except BaseException:  # Ctrl-C while waiting: the child must not outlive the grader
            kill(process)
            raise
        finally:
            PROCESSES.discard(process)
            if PROCESSES.stopping.is_set():
                raise _Interrupted()


def _log_says(log: Path, *phrases: str) -> str | None:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")[-20_000:]
    except OSError:
        return None
    return next((p for p in phrases if p in text), None)


def _prepare_assignment(
    root: Path, assignment: str, state: Path, settings: Settings
) -> dict[str, object]:
    """Refresh the gradebook from the source; return {notebook id: release NotebookNode}."""
    release = state / "release"
    shutil.rmtree(release / assignment, ignore_errors=True)
    log = state / "logs" / f"{assignment}-generate.log"
    log.unlink(missing_ok=True)
    code = _nbgrader(
        root,
        "generate_assignment",
        assignment,
        "--force",
        f"--CourseDirectory.release_directory={release}",
        log=log,
        timeout=600,
        db_timeout=settings.db_timeout,
    )
    if code != 0:
        why = _log_says(log, "database is locked", "file is not a database", "malformed")
        raise RuntimeError(
            f"gradebook not usable ({why})" if why else f"generate_assignment failed; see {log}"
        )
    notebooks = {}
    for path in sorted((release / assignment).glob("*.ipynb")):
        nb, _ = read_notebook(path)
        notebooks[path.stem] = nb
    return notebooks


def _tree_digest(folder: Path) -> str:
    """Digest of a submission folder: names and bytes of its files, hidden ones skipped."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.is_symlink():
            continue
        digest.update(str(relative).encode() + b"\0")
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _input_digest(root: Path, assignment: str, original: Path, settings: Settings) -> str:
    digest = hashlib.sha256()
    source = root / "solutions" / assignment
    for path in sorted(source.glob("*.ipynb")):
        digest.update(path.read_bytes())
    digest.update(_tree_digest(original).encode())
    digest.update(
        json.dumps([GRADER_VERSION, settings.timeout, settings.wall, settings.sandbox]).encode()
    )
    return digest.hexdigest()


def _copy_submission(original: Path, copy: Path) -> None:
    if copy.resolve().is_relative_to(original.resolve()):
        # copying a folder into itself recurses until the disk is full
        raise ValueError(f"the grading folder {copy} lies inside the submission {original}")
    shutil.rmtree(copy, ignore_errors=True)
    # Hidden files and folders (.ipynb_checkpoints, .git) are not part of a submission;
    # symlinks are copied as links' targets never: a link to /etc or solutions/ is dropped.
    shutil.copytree(
        original,
        copy,
        symlinks=True,
        ignore=lambda folder, names: [n for n in names if n.startswith(".")],
    )
    for path in list(copy.rglob("*")):
        if path.is_symlink():
            path.unlink()


def _scratch_folder() -> Path:
    """A short private folder (Unix socket paths must stay under ~100 characters)."""
    base = tempfile.gettempdir()
    if len(base) > 40:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="relu-grade-", dir=base))


@dataclass
class _Prepared:
    readable: dict  # notebook id -> restored NotebookNode
    tampering: list[Tampering]
    problems: list[str]  # notebook-level: missing, not JSON ...


def _prepare(
    original: Path, copy: Path, scratch: Path, release: dict, result: SubmissionResult
) -> _Prepared:
    """Step 1: private copies (nbgrader's input and the sandbox's work folder), metadata
    restored from the release."""
    from relu_course.grading.sanitize import tamper_findings

    work = scratch / "work"
    _copy_submission(original, work)
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    if (work / "timestamp.txt").is_file():
        shutil.copy(work / "timestamp.txt", copy / "timestamp.txt")
    prepared = _Prepared({}, [], [])
    for name, release_nb in release.items():
        path = work / f"{name}.ipynb"
        nb, problem = read_notebook(path)
        path.unlink(missing_ok=True)  # the kernel gets the notebook's cells, not the file
        if nb is None:
            prepared.problems.append(f"{name}.ipynb: {problem}")
            continue
        restored, findings = tamper_findings(nb, release_nb)
        import nbformat

        nbformat.write(restored, copy / f"{name}.ipynb")
        prepared.readable[name] = restored
        prepared.tampering += findings
    return prepared


def _autograde(
    root: Path,
    state: Path,
    assignment: str,
    student: str,
    scratch: Path,
    settings: Settings,
    result: SubmissionResult,
) -> None:
    """Step 2: nbgrader autograde, the kernel sandboxed (``SandboxedExecute``)."""
    log = state / "logs" / assignment / f"{student}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("", encoding="utf-8")
    code = _nbgrader(
        root,
        "autograde",
        assignment,
        f"--student={student}",
        "--force",
        f"--CourseDirectory.submitted_directory={state / 'submitted'}",
        f"--SandboxedExecute.scratch={scratch}",
        f"--SandboxedExecute.timeout={settings.timeout}",
        f"--SandboxedExecute.wall_limit={settings.wall}",
        f"--SandboxedExecute.sandbox={settings.sandbox}",
        f"--SandboxedExecute.memory_gb={settings.memory_gb}",
        log=log,
        timeout=settings.wall + 300,
        db_timeout=settings.db_timeout,
    )
    for report in sorted(scratch.glob("execution-*.json")):
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        result.notes += [str(e)[:300] for e in data.get("events", [])]
    if code == 0:
        return
    locked = _log_says(log, "database is locked")
    if locked:
        result.status = "not graded: gradebook locked (rerun to grade it)"
    elif code == -9:
        result.status = f"not graded: nbgrader autograde did not finish (see {log})"
    else:
        result.status = f"not graded: nbgrader autograde failed (exit {code}; see {log})"


def _scores(
    root: Path,
    assignment: str,
    student: str,
    release: dict,
    prepared: _Prepared,
    result: SubmissionResult,
    settings: Settings,
) -> None:
    """Step 3: per-exercise scores from the gradebook and the autograded notebook."""
    from nbgrader.api import Gradebook, MissingEntry

    graded = result.status == "graded"
    gradebook = Gradebook(_db_url(root, settings.db_timeout)) if graded else None
    try:
        for name, release_nb in release.items():
            autograded, _ = read_notebook(
                root / "autograded" / student / assignment / f"{name}.ipynb"
            )
            cells = {
                grade_id(c): c for c in (autograded.cells if autograded else []) if grade_id(c)
            }
            for test in (c for c in release_nb.cells if is_autograded_test(c)):
                test_id = grade_id(test)
                points = float(nbgrader_meta(test).get("points", 0))
                score, message = 0.0, "not graded"
                if gradebook is not None and name in prepared.readable:
                    try:
                        found = gradebook.find_grade(test_id, name, assignment, student)
                        score = float(found.auto_score or 0.0)
                    except MissingEntry:
                        score = 0.0
                    if test_id in cells:
                        message = cell_outcome(cells[test_id]).message
                result.exercises.append(ExerciseResult(test_id, points, score, score, message))
                result.max_score += points
    finally:
        if gradebook is not None:
            gradebook.close()


def _integrity(
    release_dir: Path,
    prepared: _Prepared,
    sources: dict,
    result: SubmissionResult,
    settings: Settings,
) -> None:
    """Step 4: deleted or stripped test cells score 0; awarded points must survive the
    re-verification outside the student's kernel."""
    from relu_course.grading.verify import verify_submission

    deleted = {
        t.grade_id for t in prepared.tampering if t.change in ("deleted", "metadata stripped")
    }
    for exercise in result.exercises:
        if exercise.grade_id in deleted and exercise.final:
            exercise.final = 0.0
            exercise.integrity = "test cell deleted or un-marked by the student"
    for name, nb in prepared.readable.items():
        awarded = {exercise_name(e.grade_id) for e in result.exercises if e.final > 0}
        if not awarded:
            continue
        verdict = verify_submission(
            None,
            nb,
            sources[name],
            awarded,
            timeout=settings.timeout,
            sandboxed=settings.sandbox,
            release_dir=release_dir,
            track=PROCESSES,
            memory_gb=settings.memory_gb,
        )
        result.tampering += [Tampering(name, note) for note in verdict.notes]
        for exercise in result.exercises:
            failure = verdict.failures.get(exercise_name(exercise.grade_id))
            if failure and exercise.final:
                exercise.final, exercise.integrity = 0.0, f"re-verification: {failure}"


def _grade_one(
    root: Path,
    state: Path,
    assignment: str,
    student: str,
    original: Path,
    release: dict,
    sources: dict,
    settings: Settings,
) -> SubmissionResult:
    result = SubmissionResult(student, assignment, sandboxed=settings.sandbox)
    result.digest = _input_digest(root, assignment, original, settings)
    copy = state / "submitted" / student / assignment
    scratch = _scratch_folder()
    try:
        prepared = _prepare(original, copy, scratch, release, result)
        result.tampering += prepared.tampering + [
            Tampering(p.split(":")[0], p.split(": ", 1)[1]) for p in prepared.problems
        ]
        if not prepared.readable:
            result.status = "not graded: notebook " + "; ".join(prepared.problems)
            result.tampering = []
        else:
            _autograde(root, state, assignment, student, scratch, settings, result)
        _scores(root, assignment, student, release, prepared, result, settings)
        if result.status == "graded":
            _integrity(state / "release" / assignment, prepared, sources, result, settings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not settings.sandbox:
        result.notes.append("graded WITHOUT a sandbox (--no-sandbox)")
    return result


def _grade_one_safely(root, state, assignment, student, original, release, sources, settings):
    try:
        result = _grade_one(root, state, assignment, student, original, release, sources, settings)
    except _Interrupted:
        return SubmissionResult(student, assignment, status="not graded: interrupted")
    except Exception as error:  # noqa: BLE001 - one broken submission never stops the batch
        return SubmissionResult(
            student,
            assignment,
            status=f"not graded: grader error {type(error).__name__}: {str(error)[:200]}",
        )
    if PROCESSES.stopping.is_set():  # its processes may have been killed mid-way
        return SubmissionResult(student, assignment, status="not graded: interrupted")
    if result.final:
        _store(state, result)
    return result


def _result_path(state: Path, assignment: str, student: str) -> Path:
    return state / "results" / assignment / f"{student}.json"


def _store(state: Path, result: SubmissionResult) -> None:
    path = _result_path(state, result.assignment, result.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(result.to_json(), encoding="utf-8")
    os.replace(partial, path)


def _stored(state: Path, root: Path, assignment: str, student: str, digest: str):
    """The stored result of this exact submission, if it is final and nbgrader's autograded
    notebook is still there (feedback and export need it)."""
    path = _result_path(state, assignment, student)
    try:
        result = SubmissionResult.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if result.digest != digest or not result.final:
        return None
    if result.status == "graded" and not (root / "autograded" / student / assignment).is_dir():
        return None
    for exercise in result.exercises:  # manual scores are re-read from the gradebook
        exercise.manual = False
        if exercise.integrity is None:
            exercise.final = exercise.nbgrader
    return result


# --- The gradebook: integrity zeros and instructors' manual scores ----------------------------


def _ledger(state: Path) -> dict:
    try:
        return json.loads((state / "overrides.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_ledger(state: Path, ledger: dict) -> None:
    path = state / "overrides.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(ledger, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)


INSTRUCTOR = "instructor"  # ledger value: the instructor took this grade over


def _release_instructor_decisions(root: Path, state: Path, assignment: str, settings) -> None:
    """Before autograde: an integrity zero the grader wrote is recognised by its marks (score
    0, "needs manual grade"); formgrader clears that flag when an instructor saves a score,
    so any other state means the instructor decided and the grade is theirs from now on."""
    from nbgrader.api import Gradebook, MissingEntry

    ledger = _ledger(state)
    ours = [k for k, v in ledger.items() if k.startswith(f"{assignment}/") and v != INSTRUCTOR]
    if not ours:
        return
    with Gradebook(_db_url(root, settings.db_timeout)) as gradebook:
        for key in ours:
            _, student, test_id = key.split("/", 2)
            try:
                grade = gradebook.find_grade(test_id, assignment, assignment, student)
            except MissingEntry:
                continue
            if grade.manual_score != 0.0 or not grade.needs_manual_grade:
                ledger[key] = INSTRUCTOR  # never written by the grader again
    _save_ledger(state, ledger)


def _apply_overrides(
    root: Path, state: Path, results: list[SubmissionResult], settings: Settings
) -> None:
    """Write integrity zeros into the gradebook as manual scores (feedback and export show
    them); an instructor's manual score wins over everything; a stale zero is lifted."""
    from nbgrader.api import Gradebook, MissingEntry

    ledger = _ledger(state)
    with Gradebook(_db_url(root, settings.db_timeout)) as gradebook:
        for result in results:
            if result.status != "graded":
                continue
            for exercise in result.exercises:
                key = f"{result.assignment}/{result.student}/{exercise.grade_id}"
                ours = key in ledger and ledger[key] != INSTRUCTOR
                try:
                    grade = gradebook.find_grade(
                        exercise.grade_id, _notebook_of(result), result.assignment, result.student
                    )
                except MissingEntry:
                    continue
                if grade.manual_score is not None and not ours:  # the instructor's decision
                    exercise.final, exercise.manual = float(grade.manual_score), True
                elif ledger.get(key) == INSTRUCTOR:  # they cleared the grader's zero
                    exercise.final, exercise.manual = exercise.nbgrader, True
                elif exercise.integrity:
                    grade.manual_score, grade.needs_manual_grade = 0.0, True
                    ledger[key] = exercise.integrity
                elif ours:
                    if grade.manual_score == 0.0:
                        grade.manual_score = None
                        grade.needs_manual_grade = False
                    del ledger[key]
        gradebook.db.commit()
    _save_ledger(state, ledger)


def _notebook_of(result: SubmissionResult) -> str:
    return result.assignment  # course convention: <assignment>/<assignment>.ipynb


# --- The batch ----------------------------------------------------------------------------------


def grade(
    root: Path,
    submitted: Path,
    assignments: list[str] | None = None,
    jobs: int | None = None,
    timeout: int = 120,
    csv_path: Path | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    notes: list[str] | None = None,
) -> list[SubmissionResult]:
    """Grade every submission under ``submitted`` (``<student>/<assignment>/``); see module.

    ``notes`` (if given) collects batch-level problems (gradebook locked, feedback failed).
    On KeyboardInterrupt the running submissions are stopped, the CSV is written for what
    finished, and the interrupt propagates.
    """
    from relu_course.layout import assignments as course_assignments
    from relu_course.runtime import quiet_tensorflow

    quiet_tensorflow()  # the verifier's references may load TensorFlow in this process
    settings = settings or Settings(timeout=timeout)
    notes = notes if notes is not None else []
    root, submitted = Path(root).resolve(), Path(submitted).resolve()
    state = root / STATE / "grading"
    state.mkdir(parents=True, exist_ok=True)
    known = course_assignments(root)
    students = (
        sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
        if submitted.is_dir()
        else []
    )
    wanted = assignments or [
        a for a in known if any((submitted / s / a).is_dir() for s in students)
    ]
    for assignment in wanted:
        if assignment not in known:
            raise SystemExit(
                f"relu-course grade: unknown assignment {assignment!r} (known: {', '.join(known)})"
            )
    finished: dict[tuple[str, str], SubmissionResult] = {}
    PROCESSES.stopping.clear()
    try:
        for assignment in wanted:
            batch = [s for s in students if (submitted / s / assignment).is_dir()]
            _grade_assignment(
                root, state, submitted, assignment, batch, jobs, settings, progress, notes, finished
            )
    except KeyboardInterrupt:
        PROCESSES.stopping.set()
        PROCESSES.kill_all()
        notes.append("interrupted: finished submissions are kept; run again to grade the rest")
        raise
    finally:
        results = [finished[(a, s)] for a in wanted for s in students if (a, s) in finished]
        if csv_path is not None:
            _write_csv(results, Path(csv_path))
            if not PROCESSES.stopping.is_set():
                code = _nbgrader(
                    root,
                    "export",
                    f"--to={Path(csv_path).with_suffix('.nbgrader.csv').resolve()}",
                    log=state / "logs" / "export.log",
                    timeout=600,
                    db_timeout=settings.db_timeout,
                )
                if code != 0:
                    notes.append(f"nbgrader export failed (see {state / 'logs' / 'export.log'})")
    return results


def _grade_assignment(
    root, state, submitted, assignment, batch, jobs, settings, progress, notes, finished
) -> None:
    """Grade ``batch`` (student names); every result goes into ``finished`` as it arrives,
    keyed (assignment, student), so an interrupted run still reports it."""
    from tqdm import tqdm

    results = _Results(assignment, finished)
    digests = {
        s: _input_digest(root, assignment, submitted / s / assignment, settings) for s in batch
    }
    for student in batch:
        stored = _stored(state, root, assignment, student, digests[student])
        if stored is not None:
            results[student] = stored
    todo = [s for s in batch if s not in results]
    release = None
    try:
        _release_instructor_decisions(root, state, assignment, settings)
    except Exception as error:  # noqa: BLE001 - a locked or corrupt gradebook
        notes.append(
            f"{assignment}: gradebook not read ({type(error).__name__}: {str(error)[:120]})"
        )
    if todo:
        try:
            release = _prepare_assignment(root, assignment, state, settings)
        except RuntimeError as error:
            notes.append(f"{assignment}: {error}")
            for student in todo:
                results[student] = SubmissionResult(
                    student, assignment, status=f"not graded: {error}"
                )
            todo = []
    if todo:
        sources = {
            name: read_notebook(root / "solutions" / assignment / f"{name}.ipynb")[0]
            for name in release
        }
        bar = tqdm(
            total=len(batch),
            initial=len(batch) - len(todo),
            desc=f"grading {assignment}",
            unit="submission",
            file=sys.stderr,
            disable=None if progress else True,
        )
        pool = ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1))
        try:
            pending = {
                pool.submit(
                    _grade_one_safely,
                    root,
                    state,
                    assignment,
                    s,
                    submitted / s / assignment,
                    release,
                    sources,
                    settings,
                ): s
                for s in todo
            }
            while pending:
                done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    student = pending.pop(future)
                    results[student] = future.result()
                    bar.update(1)
        except KeyboardInterrupt:
            PROCESSES.stopping.set()
            PROCESSES.kill_all()
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for future, student in pending.items():
                if future.done() and not future.cancelled():
                    results[student] = future.result()
            _finish_assignment(root, state, assignment, results, settings, notes, feedback=False)
            raise
        finally:
            bar.close()
            pool.shutdown(wait=False)
    _finish_assignment(root, state, assignment, results, settings, notes)


class _Results(dict):
    """student -> result of one assignment, mirrored into the run's ``finished`` map."""

    def __init__(self, assignment: str, finished: dict):
        super().__init__()
        self.assignment, self.finished = assignment, finished

    def __setitem__(self, student: str, result: SubmissionResult) -> None:
        super().__setitem__(student, result)
        self.finished[(self.assignment, student)] = result


def _finish_assignment(root, state, assignment, results, settings, notes, feedback=True):
    """Integrity zeros and manual scores, then feedback: each may fail (locked gradebook)
    without losing a result."""
    ordered = list(results.values())
    try:
        _apply_overrides(root, state, ordered, settings)
    except Exception as error:  # noqa: BLE001
        notes.append(
            f"{assignment}: gradebook not updated ({type(error).__name__}: {str(error)[:120]});"
            " integrity zeros and manual scores were not synchronised: run again"
        )
    if not feedback:
        return
    log = state / "logs" / f"{assignment}-feedback.log"
    log.unlink(missing_ok=True)
    code = _nbgrader(
        root,
        "generate_feedback",
        assignment,
        "--force",
        log=log,
        timeout=1800,
        db_timeout=settings.db_timeout,
    )
    if code != 0:
        notes.append(f"{assignment}: nbgrader generate_feedback failed (see {log})")


def _write_csv(results: list[SubmissionResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "student",
                "assignment",
                "score",
                "max_score",
                "nbgrader_score",
                "status",
                "tampering",
                "integrity",
                "notes",
            ]
        )
        for r in results:
            writer.writerow(
                [
                    r.student,
                    r.assignment,
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    f"{r.nbgrader_score:g}",
                    r.status,
                    " | ".join(map(str, r.tampering)),
                    " | ".join(r.disagreements),
                    " | ".join(r.notes),
                ]
            )
    os.replace(partial, path)


def render(results: list[SubmissionResult], notes: list[str] | None = None) -> str:
    lines = []
    width = max([7, *(len(r.student) for r in results)])
    lines.append(f"{'student':<{width}}  {'assignment':<12} {'score':>7}  {'nbgrader':>8}  notes")
    for r in results:
        manual = [f"{e.grade_id}: manual score" for e in r.exercises if e.manual]
        remarks = (
            r.status
            if r.status != "graded"
            else "; ".join(
                [
                    *(f"integrity {d}" for d in r.disagreements),
                    *(f"tamper {t}" for t in r.tampering),
                    *manual,
                    *r.notes,
                ]
            )
        )
        lines.append(
            f"{r.student:<{width}}  {r.assignment:<12} {r.score:>3g}/{r.max_score:<3g}"
            f"  {r.nbgrader_score:>8g}  {remarks}"
        )
    tampered = [r for r in results if r.tampering]
    if tampered:
        lines.append("\nTamper report (nbgrader metadata and locked cells against the release):")
        for r in tampered:
            lines += [f"  {r.student} / {r.assignment}: {t}" for t in r.tampering]
    if any(not r.sandboxed for r in results):
        lines.append("\nWARNING: student code ran WITHOUT a sandbox (--no-sandbox).")
    if notes:
        lines.append("")
        lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from relu_course.grading import sandbox
    from relu_course.layout import course_root

    root = Path(getattr(args, "course", None) or course_root())
    submitted = Path(args.submitted) if args.submitted else root / "submitted"
    if not submitted.is_dir():
        print(f"relu-course grade: no submissions folder {submitted}", file=sys.stderr)
        return 2
    use_sandbox = not getattr(args, "no_sandbox", False)
    if use_sandbox and not sandbox.available():
        print(sandbox.MISSING_MESSAGE, file=sys.stderr)
        return 2
    settings = Settings(
        timeout=args.timeout,
        sandbox=use_sandbox,
        wall_limit=getattr(args, "wall_limit", None),
        memory_gb=getattr(args, "memory_gb", None) or 12.0,
    )
    csv_path = Path(args.csv)
    notes: list[str] = []
    interrupted = False
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    start = time.monotonic()
    try:
        results = grade(
            root,
            submitted,
            list(args.assignment or []),
            args.jobs,
            args.timeout,
            csv_path,
            settings=settings,
            notes=notes,
        )
    except KeyboardInterrupt:
        interrupted = True
        results = _read_csv_results(csv_path)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        done = sum(1 for r in results if r["status"].startswith(_FINAL_PREFIXES))
        print(
            f"\nrelu-course grade: interrupted after {time.monotonic() - start:.0f} s; "
            f"{done} finished submission(s) kept in {csv_path} and "
            f"{root / STATE / 'grading' / 'results'}; run the same command to grade the rest",
            file=sys.stderr,
        )
        return 130
    if not results:
        print("relu-course grade: no submissions found", file=sys.stderr)
        return 2
    print(render(results, notes))
    print(
        f"\nwrote {csv_path} (final scores) and {csv_path.with_suffix('.nbgrader.csv')} "
        f"(nbgrader export); feedback in {root / 'feedback'}"
    )
    return 0


def _read_csv_results(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []
