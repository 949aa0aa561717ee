"""``relu-course check``: score table, exit codes, and the learner's file left untouched."""

from __future__ import annotations

import copy
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import processes_with, wait_until_gone

from relu_course.layout import course_root

pytestmark = pytest.mark.slow  # end to end: kernels, sandboxes, batches

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
    # the failed row carries its hint in full, wrapped under the row
    failed = out[out.index("add_one      0/1  fail") :]
    assert "hint:" in failed.splitlines()[1]
    # one progress line per notebook; IPC transport, so no TCP warning from the kernel
    assert both.stderr.count("running") == 2 and "[2/2]" in both.stderr
    assert "without encryption" not in both.stderr


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


def test_hidden_folders_are_not_checked(tmp_path):
    from relu_course.grading.check import _find_notebooks

    nbformat.write(_answered("def add_one(x):\n    return x + 1\n"), tmp_path / "mine.ipynb")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "mine-checkpoint.ipynb").write_text("{not json")
    (tmp_path / "sub" / ".git").mkdir(parents=True)
    (tmp_path / "sub" / ".git" / "x.ipynb").write_text("{}")
    assert _find_notebooks([str(tmp_path)]) == [tmp_path / "mine.ipynb"]


def test_ctrl_c_stops_at_once_with_a_summary(tmp_path):
    marker = f"relu-check-ctrl-c-{os.getpid()}"
    hang = _answered("def add_one(x):\n    return x + 1\n")
    hang.cells.insert(
        1,
        nbformat.v4.new_code_cell(
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\n"
            "time.sleep(300)\n"
        ),
    )
    nbformat.write(hang, tmp_path / "hang.ipynb")
    process = subprocess.Popen(
        [sys.executable, "-m", "relu_course", "check", "--timeout", "600", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not processes_with(marker):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert time.monotonic() - start < 30
    assert "interrupted; 0 of 1 notebooks checked" in err
    assert "Traceback" not in err
    assert wait_until_gone(marker, seconds=60) == []  # its sleeps last 120 s or more
