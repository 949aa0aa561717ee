"""Generate the student release, ``notebooks/``, from ``solutions/`` with nbgrader."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from relu_course.grading.grade import nbgrader_command
from relu_course.layout import assignments, course_root

__all__ = ["generate_release"]


def generate_release(
    root: Path | None = None, into: Path | None = None, only: list[str] | None = None
) -> list[Path]:
    """Run ``nbgrader generate_assignment`` for each assignment; return the notebooks written.

    ``into`` writes the release somewhere else (the sync test compares it with
    ``notebooks/``); by default ``notebooks/`` itself is regenerated. Nothing but the
    generated notebooks lands in the release folder.
    """
    root = (root or course_root()).resolve()
    into = (into or root / "notebooks").resolve()
    written = []
    with tempfile.TemporaryDirectory(prefix="relu-course-release-") as scratch:
        for assignment in only or assignments(root):
            # A scratch release folder: nbgrader refuses to overwrite without --force and we
            # want the release to contain exactly what it generates, nothing stale.
            argv, env = nbgrader_command(
                root,
                "generate_assignment",
                assignment,
                "--no-db",
                "--force",
                "--log-level=WARN",
                f"--CourseDirectory.release_directory={scratch}",
            )
            subprocess.run(argv, cwd=root, check=True, env=env)
            target = into / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(scratch) / assignment, target)
            written += sorted(target.glob("*.ipynb"))
    return written
