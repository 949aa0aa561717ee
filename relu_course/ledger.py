"""The claims ledger: every quantitative claim a notebook measures goes through :func:`claim`.

In the notebook each claim prints one line: the claim, its source, the measured value, the
expected range and whether it holds. When ``$RELU_COURSE_CLAIMS`` names a file, each claim
is also appended there as one JSON object per line, with the keys ``id``, ``value``,
``expect``, ``holds``, ``source`` and ``notebook``; the test suite reads that file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from relu_course.runtime import current_notebook

__all__ = ["Claim", "claim", "read_claims"]

CLAIMS_ENV = "RELU_COURSE_CLAIMS"


@dataclass(frozen=True)
class Claim:
    id: str
    value: float
    expect: tuple[float | None, float | None]
    holds: bool
    source: str
    notebook: str | None
    description: str = ""

    def line(self) -> str:
        low, high = self.expect
        if low is not None and high is not None:
            wanted = f"= {low:.4g}" if low == high else f"in [{low:.4g}, {high:.4g}]"
        elif low is not None:
            wanted = f"≥ {low:.4g}"
        else:
            wanted = f"≤ {high:.4g}"
        mark = "✓ holds" if self.holds else "✗ does NOT hold"
        about = f" — {self.description}" if self.description else ""
        return f"[claim {self.id}]{about}: measured {self.value:.4g}, expected {wanted} ({self.source}) {mark}"


def claim(
    id: str,
    value: float,
    expect: tuple[float | None, float | None],
    source: str,
    description: str = "",
    notebook: str | None = None,
) -> Claim:
    """Record a measured claim, print its one-line verdict and return it.

    ``expect`` is an inclusive ``(low, high)`` range; ``None`` leaves that side open. A
    non-finite value never holds.
    """
    if not isinstance(expect, tuple | list) or len(expect) != 2:
        raise ValueError("expect must be a (low, high) pair; use None for an open side")
    low, high = (None if b is None else float(b) for b in expect)
    if low is None and high is None:
        raise ValueError("expect needs at least one bound")
    value = float(value)
    holds = (
        math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
    )
    record = Claim(
        id=id,
        value=value,
        expect=(low, high),
        holds=bool(holds),
        source=source,
        notebook=notebook or current_notebook(),
        description=description,
    )
    print(record.line())
    path = os.environ.get(CLAIMS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({**asdict(record), "expect": list(record.expect)}) + "\n")
    return record


def read_claims(path: str | os.PathLike) -> list[dict]:
    """The JSON records in a claims file (missing file: no claims)."""
    path = Path(path)
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
