"""Shared test set-up: quiet TensorFlow, headless plots, a short check time limit."""

from __future__ import annotations

import os
import re
import sys

from relu_course.runtime import QUIET_TF_ENV  # noqa: E402 - NumPy only, no TensorFlow

# Before anything imports TensorFlow (kernels started by the tests inherit these too).
for _key, _value in QUIET_TF_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
os.environ.setdefault("RELU_COURSE_CHECK_TIME_LIMIT", "5")
# Claims recorded without $RELU_COURSE_CLAIMS go to the per-user store: keep the tests' own
# claims out of the tester's home (one private folder per test process).
if "XDG_STATE_HOME" not in os.environ:
    import tempfile

    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="relu-course-test-state-")

# One seed for every check's inputs in this session (fresh each session, so the catalogue
# still meets new inputs run after run); printed in the header so that a failure replays.
if not os.environ.get("RELU_COURSE_CHECK_SEED"):
    import secrets

    os.environ["RELU_COURSE_CHECK_SEED"] = str(secrets.randbits(32))

import pytest  # noqa: E402

from relu_course.checks import CheckFailed  # noqa: E402


def pytest_report_header(config):
    seed = os.environ["RELU_COURSE_CHECK_SEED"]
    return f"relu-course checks: RELU_COURSE_CHECK_SEED={seed} (set it to replay a failure)"


def assert_rejected(check, candidate, *fragments: str) -> str:
    """The check must fail on ``candidate`` with a message containing every fragment."""
    with pytest.raises(CheckFailed) as info:
        check(candidate)
    message = str(info.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in message:\n{message}"
    return message


@pytest.fixture
def rejected():
    return assert_rejected


def processes_with(marker: str) -> list[str]:
    """PIDs of the processes whose command line contains ``marker``."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(entry.name)
        except OSError:
            pass
    return found


def wait_until_gone(marker: str, seconds: float = 15.0) -> list[str]:
    """Wait (the kernel tears PID namespaces down asynchronously, slower under load) until
    no process carries ``marker``; return those still alive."""
    import time

    deadline = time.monotonic() + seconds
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_with(marker)


# "refuted if …", "fails unless …", "holds only if …": the course's ledger claims say which
# result would have made them fail (the evidence rule), so that a reader can see the metric
# could show that result. One reading, for the notebook suite and the README's ledger test.
_REFUTATION = re.compile(r"\b(refuted|fails?|holds only)\b", re.IGNORECASE)


def states_refutation(description: str | None) -> bool:
    """Whether a claim's description says what result would refute it."""
    return bool(_REFUTATION.search(description or ""))


@pytest.fixture(autouse=True)
def _close_figures():
    """Tests that draw leave no open Matplotlib figures behind (they would pile up)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
