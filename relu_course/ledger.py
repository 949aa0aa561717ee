"""The claims ledger: every quantitative claim a notebook measures goes through :func:`claim`.

In the notebook each claim prints one line: the claim, its source, the measured value (with
its 95% interval and number of seeds when it comes from several runs), the expected range and
whether it holds. Each claim is also appended as one JSON object per line (keys ``id``,
``value``, ``expect``, ``holds``, ``source``, ``notebook``, ``description``, ``seeds``, ``ci``)
to ``$RELU_COURSE_CLAIMS`` when that names a file (the test suite reads it), else to a
per-user store (``$XDG_STATE_HOME/relu-course/claims.jsonl``), so that a later notebook (07's
fact-check) can read what earlier notebooks measured on this machine: :func:`recorded_claims`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from relu_course.runtime import current_notebook

__all__ = ["Claim", "claim", "claims_file", "read_claims", "recorded_claims"]

CLAIMS_ENV = "RELU_COURSE_CLAIMS"


def claims_file() -> Path:
    """Where claims are appended: ``$RELU_COURSE_CLAIMS``, else the per-user store."""
    if os.environ.get(CLAIMS_ENV):
        return Path(os.environ[CLAIMS_ENV])
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "relu-course" / "claims.jsonl"


@dataclass(frozen=True)
class Claim:
    id: str
    value: float
    expect: tuple[float | None, float | None]
    holds: bool
    source: str
    notebook: str | None
    description: str = ""
    seeds: int | None = None
    ci: tuple[float, float] | None = None

    def _ipython_display_(self) -> None:
        """Shown once: :func:`claim` already printed the line, so a claim left as the last
        expression of a cell displays nothing more."""

    def value_in_range(self) -> bool:
        low, high = self.expect
        return (
            math.isfinite(self.value)
            and (low is None or self.value >= low)
            and (high is None or self.value <= high)
        )

    def line(self) -> str:
        low, high = self.expect
        if low is not None and high is not None:
            wanted = f"= {low:.4g}" if low == high else f"in [{low:.4g}, {high:.4g}]"
        elif low is not None:
            wanted = f"≥ {low:.4g}"
        else:
            wanted = f"≤ {high:.4g}"
        mark = "✓ holds" if self.holds else "✗ does NOT hold"
        if not self.holds and self.ci is not None and self.value_in_range():
            mark += " (its 95% interval leaves the expected range)"
        about = f" — {self.description}" if self.description else ""
        spread = ""
        if self.ci is not None:
            spread = f" (95% CI {self.ci[0]:.4g} to {self.ci[1]:.4g}"
            spread += f", {self.seeds} seeds)" if self.seeds else ")"
        elif self.seeds:
            spread = f" ({self.seeds} seeds)"
        return (
            f"[claim {self.id}]{about}: measured {self.value:.4g}{spread}, "
            f"expected {wanted} ({self.source}) {mark}"
        )


def claim(
    id: str,
    value: float,
    expect: tuple[float | None, float | None],
    source: str,
    description: str = "",
    notebook: str | None = None,
    *,
    seeds: int | None = None,
    ci: tuple[float, float] | None = None,
) -> Claim:
    """Record a measured claim, print its one-line verdict and return it.

    ``expect`` is an inclusive ``(low, high)`` range; ``None`` leaves that side open. A
    non-finite value never holds. A claim drawn from several runs passes ``seeds`` (the
    number of seeds, or of repeats for a timing) and ``ci``, the 95% interval ``(low,
    high)`` around ``value`` (see :mod:`relu_course.stats`); it then holds only when the
    whole interval lies in ``expect`` as well.
    """
    if not isinstance(expect, tuple | list) or len(expect) != 2:
        raise ValueError("expect must be a (low, high) pair; use None for an open side")
    low, high = (None if b is None else float(b) for b in expect)
    if low is None and high is None:
        raise ValueError("expect needs at least one bound")
    value = float(value)
    if seeds is not None:
        if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
            raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
        seeds = int(seeds)
    if ci is not None:
        if not isinstance(ci, tuple | list) or len(ci) != 2:
            raise ValueError("ci must be a (low, high) pair")
        ci = (float(ci[0]), float(ci[1]))
        if not ci[0] <= ci[1]:
            raise ValueError(f"ci must have low <= high, got {ci}")

    def inside(v: float) -> bool:
        return math.isfinite(v) and (low is None or v >= low) and (high is None or v <= high)

    # With an interval, the interval decides: a claim from several seeds holds only when its
    # whole 95% interval lies in the expected range (a mean past a threshold whose interval
    # crosses it is not evidence; a "no difference" holds only inside its margin).
    holds = inside(value) and (ci is None or (inside(ci[0]) and inside(ci[1])))
    record = Claim(
        id=id,
        value=value,
        expect=(low, high),
        holds=bool(holds),
        source=source,
        notebook=notebook or current_notebook(),
        description=description,
        seeds=seeds,
        ci=ci,
    )
    print(record.line())
    payload = {
        **asdict(record),
        "expect": list(record.expect),
        "ci": None if ci is None else list(ci),
    }
    path = claims_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(payload) + "\n")
    except OSError:
        if os.environ.get(CLAIMS_ENV):
            raise  # asked for explicitly: a failure to record must not pass silently
        # the per-user store is a convenience (a read-only home, a sandbox): skip it
    return record


def read_claims(path: str | os.PathLike) -> list[dict]:
    """The JSON records in a claims file (missing file: no claims)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut by an interrupted write: skip it, keep the rest
    return records


def recorded_claims(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """The latest record of every claim id recorded so far (in ``path``, default
    :func:`claims_file`): what this machine measured when it last ran each notebook."""
    latest: dict[str, dict] = {}
    for record in read_claims(path or claims_file()):
        if isinstance(record, dict) and "id" in record:
            latest[record["id"]] = record
    return latest
