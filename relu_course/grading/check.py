"""``relu-course check``: run a learner's notebooks on a copy and print a score table.

Needs no nbgrader database, exchange or course id. A learner has only the release, so this
runs the *visible* self-checks; the instructor's ``relu-course grade`` adds hidden tests.

Each notebook runs top to bottom in a fresh kernel of this Python (no kernelspec to look up,
IPC sockets, never TCP) in an empty scratch folder, with the same executor as grading
(:func:`relu_course.grading.execute.execute_notebook`): a cell past ``--timeout`` is stopped
and the notebook goes on, a dead kernel is reported as such. Ctrl-C stops at once (exit 130).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from relu_course.grading.cells import (
    cell_outcome,
    exercise_name,
    grade_cells,
    grade_id,
    is_autograded_test,
    nbgrader_meta,
    read_notebook,
)

__all__ = ["NotebookResult", "Row", "check_notebook", "main", "render"]

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
    detail: str = ""  # the whole failure text (expected, got, input, hint)


@dataclass
class NotebookResult:
    path: Path
    rows: list[Row] = field(default_factory=list)
    problem: str | None = None  # the notebook could not be run at all
    seconds: float = 0.0

    @property
    def earned(self) -> float:
        return sum(r.earned for r in self.rows)

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.rows if r.status != "manual")

    @property
    def all_passed(self) -> bool:
        return self.problem is None and all(r.status != "fail" for r in self.rows)


def _hidden(path: Path, base: Path) -> bool:
    """Inside a hidden folder (``.ipynb_checkpoints``, ``.git``) below ``base``."""
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        parts = path.parts
    return any(part.startswith(".") for part in parts[:-1])


def _find_notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        from relu_course.layout import course_root

        paths = [str(course_root() / "notebooks")]
    found = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(p for p in given.rglob("*.ipynb") if not _hidden(p, given))
        else:
            found.append(given)
    return found


def check_notebook(
    path: Path, timeout: int = 300, kernel_name: str | None = None
) -> NotebookResult:
    """Execute a copy of ``path`` top to bottom in a fresh kernel and score its test cells.

    ``kernel_name`` is accepted for compatibility and ignored: the kernel is always this
    Python (the course environment ``relu-course`` runs in)."""
    from relu_course.grading.execute import execute_notebook

    path = Path(path)
    result = NotebookResult(path)
    nb, problem = read_notebook(path)
    if nb is None:
        result.problem = problem
        return result
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="relu-course-check-") as scratch:
        # Run in an empty scratch folder, never in the learner's folder: files the notebook
        # writes stay there. (The course notebooks read no neighbouring files; copying the
        # folder would also copy the scratch folder itself when the notebook sits in $TMPDIR.)
        workdir = Path(scratch) / "work"
        workdir.mkdir()
        report = execute_notebook(nb, workdir, timeout=timeout, private=Path(scratch) / "k")
    result.seconds = time.monotonic() - start
    if report.events and report.died_in is not None:
        result.problem = report.events[-1]
    elif any("did not start" in e for e in report.events):
        result.problem = "the kernel did not start: run `relu-course doctor`"
    for cell in grade_cells(nb):
        meta = nbgrader_meta(cell)
        name = exercise_name(grade_id(cell) or "?")
        points = float(meta.get("points", 0) or 0)
        if not is_autograded_test(cell):
            result.rows.append(
                Row(name, points, 0.0, "manual", "written answer: graded by your instructor")
            )
            continue
        outcome = cell_outcome(cell)
        result.rows.append(
            Row(
                name,
                points,
                points if outcome.passed else 0.0,
                "pass" if outcome.passed else "fail",
                outcome.message,
                outcome.detail,
            )
        )
    return result


def _fmt(points: float) -> str:
    return f"{points:g}"


def _detail_lines(row: Row, verbose: bool, indent: str, width: int) -> list[str]:
    """Under a failed row: the hint (always), or every line of the failure (verbose)."""
    lines = row.detail.splitlines()[1:] if row.detail else []
    if not verbose:
        lines = [line for line in lines if line.strip().startswith("hint:")]
    out = []
    for line in lines:
        out += textwrap.wrap(
            line.strip(), width=width, initial_indent=indent, subsequent_indent=indent + "  "
        )
    return out


def render(result: NotebookResult, width: int = 100, verbose: bool = False) -> str:
    lines = [f"\n{result.path}"]
    if result.problem and not result.rows:
        lines.append(f"  could not run: {result.problem}")
        return "\n".join(lines)
    name_width = max([8, *(len(r.exercise) for r in result.rows)])
    lines.append(f"  {'exercise':<{name_width}}  points  result  feedback")
    lead = 2 + name_width + 2 + 6 + 2 + 6 + 2
    for row in result.rows:
        points = f"{_fmt(row.earned)}/{_fmt(row.points)}" if row.status != "manual" else "–"
        wrapped = textwrap.wrap(row.message, width=max(30, width - lead)) or [""]
        lines.append(f"  {row.exercise:<{name_width}}  {points:>6}  {row.status:<6}  {wrapped[0]}")
        lines += [" " * lead + more for more in wrapped[1:]]
        if row.status == "fail":
            lines += _detail_lines(row, verbose, " " * (lead + 2), max(30, width - lead - 2))
    if result.problem:
        lines.append(f"  note: {result.problem}")
    lines.append(f"  {'subtotal':<{name_width}}  {_fmt(result.earned)}/{_fmt(result.possible)}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    notebooks = _find_notebooks(list(args.paths or []))
    if not notebooks:
        print("relu-course check: no notebooks found", file=sys.stderr)
        return 2
    verbose = bool(getattr(args, "verbose", False))
    results: list[NotebookResult] = []
    try:
        for i, path in enumerate(notebooks, 1):
            print(f"[{i}/{len(notebooks)}] running {path} ...", file=sys.stderr, flush=True)
            result = check_notebook(path, timeout=args.timeout)
            results.append(result)
            print(
                f"[{i}/{len(notebooks)}] {path.name}: {_fmt(result.earned)}/"
                f"{_fmt(result.possible)} points in {result.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:
        earned = sum(r.earned for r in results)
        possible = sum(r.possible for r in results)
        print(
            f"\nrelu-course check: interrupted; {len(results)} of {len(notebooks)} notebooks "
            f"checked ({_fmt(earned)}/{_fmt(possible)} points so far)",
            file=sys.stderr,
        )
        return 130
    for result in results:
        print(render(result, verbose=verbose))
    earned = sum(r.earned for r in results)
    possible = sum(r.possible for r in results)
    passed = all(r.all_passed for r in results)
    print(
        f"\nTOTAL {_fmt(earned)}/{_fmt(possible)} points over {len(results)} notebook"
        f"{'s' if len(results) != 1 else ''}: {'all checks pass' if passed else 'not all pass'}"
    )
    if not passed and hasattr(args, "verbose") and not verbose:
        print("(relu-course check --verbose shows every failure in full)")
    print(VISIBLE_ONLY)
    return 0 if passed else 1
