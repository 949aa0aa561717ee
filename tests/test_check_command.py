"""``relu-course check``: score table, exit codes, and the learner's file left untouched."""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from relu_course.course import course_root

REPO = course_root(Path(__file__).parent)
RELEASE = REPO / "notebooks" / "00_welcome" / "00_welcome.ipynb"


def _answered(source: str):
    nb = nbformat.read(RELEASE, as_version=4)
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "add_one":
            cell.source = source
    return nb


def _run(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "relu_course", "check", "--timeout", "60", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner")
    good = folder / "good" / "00_welcome.ipynb"
    bad = folder / "bad" / "00_welcome.ipynb"
    for path, source in (
        (good, "def add_one(x):\n    return x + 1\n"),
        (bad, "def add_one(x):\n    return x + 2\n"),
    ):
        path.parent.mkdir()
        nbformat.write(_answered(source), path)
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (good, bad)}
    return {"good": good, "bad": bad, "digests": digests, "both": _run(good, bad)}


def test_passing_and_failing_notebooks_table(learner):
    both = learner["both"]
    assert both.returncode == 1, both.stderr
    out = both.stdout
    assert "add_one      1/1  pass    ✓ add_one passed" in out
    assert "add_one      0/1  fail    add_one gives a wrong result" in out
    assert "TOTAL 1/2 points over 2 notebooks" in out
    assert "visible self-checks only" in out
    assert "Traceback" not in out


def test_learner_files_untouched(learner):
    for path, digest in learner["digests"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert sorted(p.name for p in path.parent.iterdir()) == ["00_welcome.ipynb"]


def test_exit_code_zero_when_everything_passes(learner):
    from argparse import Namespace

    from relu_course.grading import check

    # The folder form of the command, on the notebook that passes (exit code 0).
    assert check.main(Namespace(paths=[str(learner["good"].parent)], timeout=60)) == 0


def test_unreadable_notebook_is_reported_not_crashed(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    done = _run(broken)
    assert done.returncode == 1
    assert "could not run: not valid notebook JSON" in done.stdout


def test_notebook_inside_the_temp_folder_is_checked_without_copying_it(tmp_path):
    """A notebook saved in $TMPDIR itself: the scratch folder lives there too and nothing of
    the learner's folder may be copied into it (that once recursed until the disk filled)."""
    nbformat.write(_answered("def add_one(x):\n    return x + 1\n"), tmp_path / "mine.ipynb")
    (tmp_path / "big_neighbour.bin").write_bytes(b"0" * 1024)
    out = subprocess.run(
        [sys.executable, "-m", "relu_course", "check", "--timeout", "60", "mine.ipynb"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big_neighbour.bin", "mine.ipynb"]
