"""``relu-course grade``: nbgrader autograde, re-verification, feedback and export, hardened.

For each assignment: refresh the gradebook from ``solutions/`` (``generate_assignment`` into a
scratch release), copy every submission (originals are never touched), autograde the copies
in ``--jobs`` parallel nbgrader processes, re-verify every awarded exercise in a clean process
(:mod:`relu_course.grading.verify`), compare locked cells with the release (tamper report),
zero exercises that fail verification or whose test cell was deleted (as a grade override
that a grader's own manual grade always beats), then ``generate_feedback`` and ``export``.
Prints a summary and writes one CSV row per student and assignment.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from relu_course.grading.cells import (
    cell_outcome,
    exercise_name,
    is_autograded_test,
    locked_cell_changes,
    read_notebook,
)

__all__ = ["ExerciseResult", "SubmissionResult", "grade", "main"]

STATE = ".relu-course"  # grader's working folder inside the course root (git-ignored)


@dataclass
class ExerciseResult:
    grade_id: str
    max_points: float
    nbgrader: float  # auto score (0 when nbgrader could not score it)
    final: float
    message: str  # first line of the test's output
    integrity: str | None = None  # why the final score differs from nbgrader's


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str = "graded"  # or "not graded: <reason>"
    exercises: list[ExerciseResult] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    max_score: float = 0.0

    @property
    def score(self) -> float:
        return sum(e.final for e in self.exercises)

    @property
    def nbgrader_score(self) -> float:
        return sum(e.nbgrader for e in self.exercises)

    @property
    def disagreements(self) -> list[str]:
        return [f"{e.grade_id}: {e.integrity}" for e in self.exercises if e.integrity]


def _nbgrader(
    root: Path, *arguments: str, log: Path | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        *arguments,
        f"--CourseDirectory.root={root}",
        f"--CourseDirectory.db_url={_db_url(root)}",
    ]
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "MPLBACKEND": "Agg",
        # nbgrader runs `alembic` (the gradebook's migrations) from PATH.
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    }
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log or os.devnull, "a", encoding="utf-8") as sink:
        return subprocess.run(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            timeout=timeout,
        )


def _db_url(root: Path) -> str:
    # A generous SQLite busy timeout: parallel autograde processes take turns on the file.
    return f"sqlite:///{root / 'gradebook.db'}?timeout=120"


def _prepare_assignment(root: Path, assignment: str, state: Path) -> dict[str, object]:
    """Refresh the gradebook from the source; return {notebook id: release NotebookNode}."""
    release = state / "release"
    shutil.rmtree(release, ignore_errors=True)
    log = state / "logs" / f"{assignment}-generate.log"
    done = _nbgrader(
        root,
        "generate_assignment",
        assignment,
        "--force",
        f"--CourseDirectory.release_directory={release}",
        log=log,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed; see {log}")
    notebooks = {}
    for path in sorted((release / assignment).glob("*.ipynb")):
        nb, _ = read_notebook(path)
        notebooks[path.stem] = nb
    return notebooks


def _copy_submission(original: Path, copy: Path) -> None:
    if copy.resolve().is_relative_to(original.resolve()):
        # copying a folder into itself recurses until the disk is full
        raise ValueError(f"the grading folder {copy} lies inside the submission {original}")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(
        original, copy, symlinks=False, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )


def _grade_one(
    root: Path,
    state: Path,
    assignment: str,
    student: str,
    original: Path,
    release: dict,
    sources: dict,
    timeout: int,
) -> SubmissionResult:
    from relu_course.grading.verify import verify_submission

    result = SubmissionResult(student, assignment)
    copy = state / "submitted" / student / assignment
    _copy_submission(original, copy)
    readable = {}
    for name, release_nb in release.items():
        nb, problem = read_notebook(copy / f"{name}.ipynb")
        if nb is None:
            result.tampering.append(f"{name}.ipynb: {problem}")
            (copy / f"{name}.ipynb").unlink(missing_ok=True)
            continue
        readable[name] = nb
        result.tampering += [f"{name}: test cell {t}" for t in locked_cell_changes(nb, release_nb)]
    if not readable:
        result.status = "not graded: " + "; ".join(result.tampering)
        result.tampering = []
    else:
        log = state / "logs" / assignment / f"{student}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("", encoding="utf-8")
        try:
            done = _nbgrader(
                root,
                "autograde",
                assignment,
                f"--student={student}",
                "--force",
                f"--CourseDirectory.submitted_directory={state / 'submitted'}",
                f"--Execute.timeout={timeout}",
                log=log,
                timeout=timeout * 4 + 30 * 60,
            )
            if done.returncode != 0:
                result.status = f"nbgrader autograde failed (exit {done.returncode}; see {log})"
        except subprocess.TimeoutExpired:
            result.status = f"nbgrader autograde did not finish (see {log})"
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(_db_url(root)) as gradebook:
        gradebook.update_or_create_student(student)
        for name, release_nb in release.items():
            autograded, _ = read_notebook(
                root / "autograded" / student / assignment / f"{name}.ipynb"
            )
            cells = {
                c.metadata["nbgrader"]["grade_id"]: c
                for c in (autograded.cells if autograded else [])
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            }
            for test in (c for c in release_nb.cells if is_autograded_test(c)):
                grade_id = test.metadata["nbgrader"]["grade_id"]
                points = float(test.metadata["nbgrader"].get("points", 0))
                score, message = 0.0, "not graded"
                if name in readable and result.status == "graded":
                    try:
                        score = float(
                            gradebook.find_grade(grade_id, name, assignment, student).auto_score
                            or 0.0
                        )
                    except MissingEntry:
                        score = 0.0
                    if grade_id in cells:
                        message = cell_outcome(cells[grade_id]).message
                result.exercises.append(ExerciseResult(grade_id, points, score, score, message))
                result.max_score += points
    # Integrity: deleted or stripped test cells score 0; awarded points must survive a
    # clean-process re-verification.
    deleted = {
        t.split("test cell ")[1].split(":")[0]
        for t in result.tampering
        if t.endswith(("deleted", "metadata stripped"))
    }
    for exercise in result.exercises:
        if exercise.grade_id in deleted and exercise.final:
            exercise.final, exercise.integrity = (
                0.0,
                "test cell deleted or un-marked by the student",
            )
    for name, nb in readable.items():
        awarded = {exercise_name(e.grade_id) for e in result.exercises if e.final > 0}
        if not awarded:
            continue
        verdict = verify_submission(
            copy / f"{name}.ipynb", nb, sources[name], awarded, timeout=timeout
        )
        result.tampering += [f"{name}: {note}" for note in verdict.notes]
        for exercise in result.exercises:
            failure = verdict.failures.get(exercise_name(exercise.grade_id))
            if failure and exercise.final:
                exercise.final, exercise.integrity = 0.0, f"re-verification: {failure}"
    return result


def _apply_overrides(root: Path, state: Path, results: list[SubmissionResult]) -> None:
    """Write integrity zeros into the gradebook as manual scores, so feedback and export show
    them; a grader's own manual score is never replaced, and a stale override is lifted."""
    from nbgrader.api import Gradebook, MissingEntry

    ledger_path = state / "overrides.json"
    ledger = json.loads(ledger_path.read_text()) if ledger_path.is_file() else {}
    with Gradebook(_db_url(root)) as gradebook:
        for result in results:
            if result.status != "graded":
                continue
            for exercise in result.exercises:
                key = f"{result.assignment}/{result.student}/{exercise.grade_id}"
                ours = key in ledger
                try:
                    grade = gradebook.find_grade(
                        exercise.grade_id, _notebook_of(result), result.assignment, result.student
                    )
                except MissingEntry:
                    continue
                if exercise.integrity and (grade.manual_score is None or ours):
                    grade.manual_score, grade.needs_manual_grade = 0.0, True
                    ledger[key] = exercise.integrity
                elif not exercise.integrity and ours:
                    if grade.manual_score == 0.0:
                        grade.manual_score = None
                        grade.needs_manual_grade = False
                    del ledger[key]
                elif grade.manual_score is not None:  # a grader's decision wins
                    exercise.final = float(grade.manual_score)
        gradebook.db.commit()
    ledger_path.write_text(json.dumps(ledger, indent=1, sort_keys=True))


def _notebook_of(result: SubmissionResult) -> str:
    return result.assignment  # course convention: <assignment>/<assignment>.ipynb


def grade(
    root: Path,
    submitted: Path,
    assignments: list[str] | None = None,
    jobs: int | None = None,
    timeout: int = 120,
    csv_path: Path | None = None,
    progress: bool = True,
) -> list[SubmissionResult]:
    """Grade every submission under ``submitted`` (``<student>/<assignment>/``); see module."""
    from tqdm import tqdm

    from relu_course.course import assignments as course_assignments

    root, submitted = Path(root).resolve(), Path(submitted).resolve()
    state = root / STATE / "grading"
    state.mkdir(parents=True, exist_ok=True)
    known = course_assignments(root)
    students = (
        sorted(p.name for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []
    )
    wanted = assignments or [
        a for a in known if any((submitted / s / a).is_dir() for s in students)
    ]
    results: list[SubmissionResult] = []
    for assignment in wanted:
        if assignment not in known:
            raise SystemExit(
                f"relu-course grade: unknown assignment {assignment!r} (known: {', '.join(known)})"
            )
        release = _prepare_assignment(root, assignment, state)
        sources = {
            name: read_notebook(root / "solutions" / assignment / f"{name}.ipynb")[0]
            for name in release
        }
        batch = [s for s in students if (submitted / s / assignment).is_dir()]
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(
                    _grade_one_safely,
                    root,
                    state,
                    assignment,
                    s,
                    submitted / s / assignment,
                    release,
                    sources,
                    timeout,
                )
                for s in batch
            ]
            for future in tqdm(
                futures,
                desc=f"grading {assignment}",
                unit="submission",
                file=sys.stderr,
                disable=None if progress else True,
            ):
                results.append(future.result())
        _apply_overrides(root, state, [r for r in results if r.assignment == assignment])
        _nbgrader(
            root,
            "generate_feedback",
            assignment,
            "--force",
            log=state / "logs" / f"{assignment}-feedback.log",
        )
    if csv_path is not None:
        _write_csv(results, Path(csv_path))
        _nbgrader(
            root,
            "export",
            f"--to={Path(csv_path).with_suffix('.nbgrader.csv').resolve()}",
            log=state / "logs" / "export.log",
        )
    return results


def _grade_one_safely(root, state, assignment, student, original, release, sources, timeout):
    try:
        return _grade_one(root, state, assignment, student, original, release, sources, timeout)
    except Exception as error:  # noqa: BLE001 - one broken submission never stops the batch
        return SubmissionResult(
            student, assignment, status=f"not graded: grader error {type(error).__name__}: {error}"
        )


def _write_csv(results: list[SubmissionResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
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
                    " | ".join(r.tampering),
                    " | ".join(r.disagreements),
                ]
            )


def render(results: list[SubmissionResult]) -> str:
    lines = []
    width = max([7, *(len(r.student) for r in results)])
    lines.append(f"{'student':<{width}}  {'assignment':<12} {'score':>7}  {'nbgrader':>8}  notes")
    for r in results:
        notes = (
            r.status
            if r.status != "graded"
            else "; ".join(
                [
                    *(f"integrity {d}" for d in r.disagreements),
                    *(f"tamper {t}" for t in r.tampering),
                ]
            )
        )
        lines.append(
            f"{r.student:<{width}}  {r.assignment:<12} {r.score:>3g}/{r.max_score:<3g}"
            f"  {r.nbgrader_score:>8g}  {notes}"
        )
    tampered = [r for r in results if r.tampering]
    if tampered:
        lines.append("\nTamper report (locked cells compared with the release):")
        for r in tampered:
            lines += [f"  {r.student} / {r.assignment}: {t}" for t in r.tampering]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from relu_course.course import course_root

    root = Path(getattr(args, "course", None) or course_root())
    submitted = Path(args.submitted) if args.submitted else root / "submitted"
    if not submitted.is_dir():
        print(f"relu-course grade: no submissions folder {submitted}", file=sys.stderr)
        return 2
    csv_path = Path(args.csv)
    results = grade(root, submitted, list(args.assignment or []), args.jobs, args.timeout, csv_path)
    if not results:
        print("relu-course grade: no submissions found", file=sys.stderr)
        return 2
    print(render(results))
    print(
        f"\nwrote {csv_path} (final scores) and {csv_path.with_suffix('.nbgrader.csv')} "
        f"(nbgrader export); feedback in {root / 'feedback'}"
    )
    return 0
