"""The README agrees with the course: its fact-check table is what relu_course.factcheck
gives on the committed ledger of the last full run, its learning path names every graded
exercise in the right notebook's row, and its generated blocks are in place."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from conftest import states_refutation

from relu_course.checks import registry
from relu_course.layout import assignments, course_root
from relu_course.ledger import read_claims

ROOT = course_root(Path(__file__).parent)
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _benchmarks():
    spec = importlib.util.spec_from_file_location("_bench", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fact_check_table_is_the_ledgers_verdicts():
    bench = _benchmarks()
    assert bench.CLAIMS.is_file(), "run benchmarks/run.py --update-readme"
    written = bench.read_block(README, bench.FACT_CHECK_MARKERS)
    assert written == bench.fact_check_markdown(bench.CLAIMS), (
        "README's fact-check table differs from relu_course.factcheck on "
        "benchmarks/claims.jsonl: run benchmarks/run.py --update-readme"
    )
    assert "not measured yet" not in written, "a fact-check row has no measurement"


def test_committed_ledger_is_a_full_run_whose_claims_hold():
    claims = read_claims(ROOT / "benchmarks" / "claims.jsonl")
    notebooks = {c["notebook"] for c in claims}
    measuring = {name for name in assignments(ROOT) if name != "00_welcome"}
    assert not measuring - notebooks, f"no claims from {sorted(measuring - notebooks)}"
    failing = [c["id"] for c in claims if not c["holds"]]
    assert not failing, f"claims that did not hold in the committed run: {failing}"


def test_every_claim_says_what_result_would_refute_it():
    """The evidence rule: a claim states the result that would make it fail, so that a
    reader can see the metric was able to show it."""
    claims = read_claims(ROOT / "benchmarks" / "claims.jsonl")
    silent = [c["id"] for c in claims if not states_refutation(c.get("description"))]
    assert not silent, (
        "claims whose description does not say what result would refute them "
        f"('refuted if …', 'fails unless …'): {silent}"
    )


def test_learning_path_names_every_graded_exercise_in_its_row():
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| \[(\d\d_[a-z_]+)\]\(notebooks/.*$", README, re.M)
    }
    assert sorted(rows) == assignments(ROOT), "one learning-path row per notebook"
    missing = [
        f"{e.notebook}: {name}"
        for name, e in registry().items()
        if f"`{name}`" not in rows.get(e.notebook, "")
    ]
    assert not missing, f"graded exercises missing from the README's learning path: {missing}"
