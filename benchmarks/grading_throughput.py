"""Grading throughput: submissions per minute through ``relu-course grade``.

``python benchmarks/grading_throughput.py [--submissions N]`` grades N copies of a correct
00_welcome submission with ``--jobs 1`` and ``--jobs <cores>`` in a scratch course folder and
prints a table. Each run includes gradebook refresh, autograde (the kernel in a bubblewrap
sandbox when ``bwrap`` is installed), re-verification (sandboxed too), feedback and export.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from relu_course.runtime import KERNEL_ENV  # noqa: E402 (light: no TensorFlow import)

for _key, _value in {**KERNEL_ENV, "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1"}.items():
    os.environ.setdefault(_key, _value)

ASSIGNMENT = "00_welcome"
CORES = os.cpu_count() or 1


def _scratch_course(tmp: Path, repo: Path) -> Path:
    course = tmp / "course"
    course.mkdir()
    shutil.copy(repo / "nbgrader_config.py", course)
    for folder in ("solutions", "notebooks"):
        shutil.copytree(repo / folder / ASSIGNMENT, course / folder / ASSIGNMENT)
    return course


def _submissions(tmp: Path, repo: Path, n: int) -> Path:
    import nbformat

    nb = nbformat.read(repo / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "add_one":
            cell.source = "def add_one(x):\n    return x + 1\n"
    submitted = tmp / "submitted"
    for i in range(n):
        folder = submitted / f"student{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    return submitted


def measure(jobs_list=(1, CORES), n_submissions: int = 4, timeout: int = 120) -> list[dict]:
    """Grade ``n_submissions`` correct submissions once per entry of ``jobs_list``.

    Returns one dict per run: jobs, submissions, seconds, submissions_per_minute, all_correct.
    """
    from relu_course.grading import sandbox
    from relu_course.grading.grade import Settings, grade
    from relu_course.layout import course_root

    repo = course_root(Path(__file__).resolve().parent)
    rows = []
    for jobs in jobs_list:
        with tempfile.TemporaryDirectory(prefix="relu-course-bench-") as tmp:
            tmp = Path(tmp)
            course = _scratch_course(tmp, repo)
            submitted = _submissions(tmp, repo, n_submissions)
            start = time.perf_counter()
            results = grade(
                course,
                submitted,
                [ASSIGNMENT],
                jobs=jobs,
                progress=False,
                settings=Settings(timeout=timeout, sandbox=sandbox.available()),
            )
            seconds = time.perf_counter() - start
        rows.append(
            {
                "jobs": jobs,
                "submissions": n_submissions,
                "seconds": round(seconds, 1),
                "submissions_per_minute": round(60 * n_submissions / seconds, 2),
                "all_correct": all(r.score == r.max_score for r in results),
                "sandboxed": all(r.sandboxed for r in results),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=4)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = measure(tuple(dict.fromkeys((1, cores))), n_submissions=args.submissions)
    print(
        f"{'jobs':>4}  {'submissions':>11}  {'seconds':>8}  {'per minute':>10}  "
        "all correct  sandboxed"
    )
    for row in rows:
        print(
            f"{row['jobs']:>4}  {row['submissions']:>11}  {row['seconds']:>8}  "
            f"{row['submissions_per_minute']:>10}  {row['all_correct']!s:<11}  {row['sandboxed']}"
        )


if __name__ == "__main__":
    main()
