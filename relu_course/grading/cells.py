"""Reading nbgrader cells: which cells are graded, what their outcome says, and which locked
cells of a submission differ from the release. Shared by ``check`` and ``grade``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "Outcome",
    "Tampering",
    "cell_outcome",
    "exercise_name",
    "grade_cells",
    "grade_id",
    "hidden_test_lines",
    "is_answer",
    "is_autograded_test",
    "locked_cell_changes",
    "nbgrader_meta",
    "read_notebook",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def read_notebook(path: Path):
    """``(notebook, None)``, or ``(None, reason)`` when the file cannot be graded."""
    path = Path(path)
    if not path.is_file():
        return None, "notebook missing"
    if path.stat().st_size == 0:
        return None, "empty file"
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as error:
        return None, f"not valid notebook JSON ({type(error).__name__})"
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds; report, never crash
        return None, f"not a readable notebook ({type(error).__name__}: {str(error)[:80]})"
    if not isinstance(nb.get("cells"), list):
        return None, "not a notebook (no cells)"
    return nb, None


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata, ``{}`` when it has none (or a submission mangled it into
    something that is not a mapping). Every reader of nbgrader metadata goes through here
    and the predicates below, so "answer" and "test" mean one thing everywhere."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade id (``relu_np``, ``test_relu_np``), or None (also when a
    submission put something other than a non-empty string there)."""
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def grade_cells(nb) -> list:
    """The cells nbgrader awards points for (autograded tests and manually graded answers)."""
    return [cell for cell in nb.cells if nbgrader_meta(cell).get("grade")]


def exercise_name(grade_id: str) -> str:
    """``test_relu_np`` -> ``relu_np``: test cells are named after the exercise they test."""
    return grade_id[5:] if grade_id.startswith("test_") else grade_id


def is_autograded_test(cell) -> bool:
    """A code cell nbgrader scores by running it (a test cell)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def is_answer(cell) -> bool:
    """A code cell the student writes (nbgrader ``solution``)."""
    return bool(nbgrader_meta(cell).get("solution")) and cell.cell_type == "code"


_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


def hidden_test_lines(nb, min_length: int = 8) -> set[str]:
    """Whitespace-normalised lines of every hidden-test block of ``nb`` that are at least
    ``min_length`` characters long (shorter ones, like ``)``, say nothing)."""
    lines = set()
    for cell in nb.cells:
        for block in _HIDDEN.findall(cell.get("source", "")):
            for line in block.splitlines():
                norm = " ".join(_ANSI.sub("", line).split())
                if len(norm) >= min_length:
                    lines.add(norm)
    return lines


@dataclass
class Outcome:
    passed: bool
    message: str  # one line for a table
    detail: str = ""  # the whole failure text (expected/got/input/hint lines), ANSI removed


def _first_line(text: str) -> str:
    for line in _ANSI.sub("", text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def cell_outcome(cell, timeout_names=("CellTimeoutError",)) -> Outcome:
    """Pass/fail of an executed test cell, and the first line of what it said.

    Unlike nbgrader's default, output on stderr (warnings, TensorFlow logs) is not a failure.
    """
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", "Error"), _first_line(output.get("evalue", ""))
            if name in timeout_names:
                return Outcome(False, "time limit reached (cell stopped)", value)
            if name in ("CellNotRun", "DeadKernelError"):
                return Outcome(False, value, value)
            detail = _ANSI.sub("", str(output.get("evalue", ""))).strip()
            if name in ("CheckFailed", "AssertionError") and value:
                return Outcome(False, value.lstrip("✗ "), detail)
            return Outcome(False, f"{name}: {value}" if value else name, detail)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            line = _first_line(output.get("text", ""))
            if line:
                return Outcome(True, line)
    return Outcome(True, "passed")


@dataclass
class Tampering:
    grade_id: str
    change: str  # "deleted", "edited", "metadata stripped", "points changed"

    def __str__(self) -> str:
        return f"{self.grade_id}: {self.change}"


def locked_cell_changes(submitted, release) -> list[Tampering]:
    """Locked cells of ``release`` that the submission deleted, edited or un-marked.

    Compared by grade id and source (whitespace at the ends ignored), so the comparison
    does not depend on nbgrader's checksum, which hidden tests change.
    """
    found = []
    by_id = {grade_id(cell): cell for cell in submitted.cells if grade_id(cell)}
    for cell in release.cells:
        meta = nbgrader_meta(cell)
        key = grade_id(cell)
        if not meta.get("locked") or not key:
            continue
        theirs = by_id.get(key)
        if theirs is None:
            same_source = any(c.source.strip() == cell.source.strip() for c in submitted.cells)
            found.append(Tampering(key, "metadata stripped" if same_source else "deleted"))
            continue
        if theirs.source.strip() != cell.source.strip():
            found.append(Tampering(key, "edited"))
        if meta.get("grade") and nbgrader_meta(theirs).get("points") != meta.get("points"):
            found.append(Tampering(key, "points changed"))
    return found
