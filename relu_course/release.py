"""Generate the student release, ``notebooks/``, from ``solutions/`` with nbgrader."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "nbgrader",
                    "generate_assignment",
                    assignment,
                    "--no-db",
                    "--force",
                    "--log-level=WARN",
                    f"--CourseDirectory.root={root}",
                    f"--CourseDirectory.release_directory={scratch}",
                ],
                cwd=root,
                check=True,
                env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
            )
            target = into / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(scratch) / assignment, target)
            written += sorted(target.glob("*.ipynb"))
    return written
