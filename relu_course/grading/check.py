"""``relu-course check``: run a learner's notebooks on a copy and print a score table.

Needs no nbgrader database, exchange or course id. A learner has only the release, so this
runs the *visible* self-checks; the instructor's ``relu-course grade`` adds hidden tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from relu_course.grading.cells import (
    cell_outcome,
    exercise_name,
    grade_cells,
    is_autograded_test,
    read_notebook,
)

__all__ = ["NotebookResult", "Row", "check_notebook", "main"]

VISIBLE_ONLY = (
    "relu-course check runs the visible self-checks only: hidden tests are added "
    "when your instructor grades your work, so a full score here is necessary, "
    "not sufficient."
)


@dataclass
class Row:
    exercise: str
    points: float
    earned: float
    status: str  # "pass", "fail", "manual"
    message: str


@dataclass
class NotebookResult:
    path: Path
    rows: list[Row] = field(default_factory=list)
    problem: str | None = None  # the notebook could not be run at all

    @property
    def earned(self) -> float:
        return sum(r.earned for r in self.rows)

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.rows if r.status != "manual")

    @property
    def all_passed(self) -> bool:
        return self.problem is None and all(r.status != "fail" for r in self.rows)


def _find_notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        from relu_course.course import course_root

        paths = [str(course_root() / "notebooks")]
    found = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(
                p for p in given.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
            )
        else:
            found.append(given)
    return found


def check_notebook(
    path: Path, timeout: int = 300, kernel_name: str | None = None
) -> NotebookResult:
    """Execute a copy of ``path`` top to bottom in a fresh kernel and score its test cells."""
    from nbclient import NotebookClient

    from relu_course.course import KERNEL

    path = Path(path)
    result = NotebookResult(path)
    nb, problem = read_notebook(path)
    if nb is None:
        result.problem = problem
        return result
    with tempfile.TemporaryDirectory(prefix="relu-course-check-") as scratch:
        # Run in an empty scratch folder, never in the learner's folder: files the notebook
        # writes stay there. (The course notebooks read no neighbouring files; copying the
        # folder would also copy the scratch folder itself when the notebook sits in $TMPDIR.)
        workdir = Path(scratch) / "work"
        workdir.mkdir()
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=kernel_name or KERNEL["name"],
            allow_errors=True,
            interrupt_on_timeout=True,
            raise_on_iopub_timeout=False,
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
        except Exception as error:  # noqa: BLE001 - a dead kernel: score what ran
            result.problem = f"the kernel stopped: {type(error).__name__}: {str(error)[:120]}"
    for cell in grade_cells(nb):
        meta = cell.metadata["nbgrader"]
        name = exercise_name(meta.get("grade_id", "?"))
        points = float(meta.get("points", 0) or 0)
        if not is_autograded_test(cell):
            result.rows.append(
                Row(name, points, 0.0, "manual", "written answer: graded by your instructor")
            )
            continue
        if not cell.get("outputs") and cell.get("execution_count") is None:
            result.rows.append(Row(name, points, 0.0, "fail", "not run (an earlier cell hung)"))
            continue
        outcome = cell_outcome(cell)
        result.rows.append(
            Row(
                name,
                points,
                points if outcome.passed else 0.0,
                "pass" if outcome.passed else "fail",
                outcome.message,
            )
        )
    return result


def _fmt(points: float) -> str:
    return f"{points:g}"


def render(result: NotebookResult, width: int = 70) -> str:
    lines = [f"\n{result.path}"]
    if result.problem and not result.rows:
        lines.append(f"  could not run: {result.problem}")
        return "\n".join(lines)
    name_width = max([8, *(len(r.exercise) for r in result.rows)])
    lines.append(f"  {'exercise':<{name_width}}  points  result  feedback")
    for row in result.rows:
        points = f"{_fmt(row.earned)}/{_fmt(row.points)}" if row.status != "manual" else "–"
        message = row.message if len(row.message) <= width else row.message[: width - 1] + "…"
        lines.append(f"  {row.exercise:<{name_width}}  {points:>6}  {row.status:<6}  {message}")
    if result.problem:
        lines.append(f"  note: {result.problem}")
    lines.append(f"  {'subtotal':<{name_width}}  {_fmt(result.earned)}/{_fmt(result.possible)}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    notebooks = _find_notebooks(list(args.paths or []))
    if not notebooks:
        print("relu-course check: no notebooks found", file=sys.stderr)
        return 2
    results = []
    for path in tqdm(notebooks, desc="checking", unit="notebook", file=sys.stderr, disable=None):
        results.append(check_notebook(path, timeout=args.timeout))
    for result in results:
        print(render(result))
    earned = sum(r.earned for r in results)
    possible = sum(r.possible for r in results)
    passed = all(r.all_passed for r in results)
    print(
        f"\nTOTAL {_fmt(earned)}/{_fmt(possible)} points over {len(results)} notebook"
        f"{'s' if len(results) != 1 else ''}: {'all checks pass' if passed else 'not all pass'}"
    )
    print(VISIBLE_ONLY)
    return 0 if passed else 1
