"""The notebooks as a course: structure, release in sync, solutions pass, stubs fail, claims.

Discovers every assignment in solutions/, so a new notebook is covered without editing
this file. nbval runs the same solution notebooks separately (pytest collects
``solutions/`` with ``--nbval-lax``; see pyproject.toml).
"""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import states_refutation

from relu_course.checks import registry
from relu_course.grading.cells import (
    exercise_name,
    grade_id,
    is_answer,
    is_autograded_test,
    nbgrader_meta,
)
from relu_course.layout import (
    assignments,
    canonical,
    course_root,
    release_notebook,
    solution_notebook,
)
from relu_course.ledger import read_claims

ROOT = course_root(Path(__file__).parent)
ASSIGNMENTS = assignments(ROOT)

# The course's claims ledger: ids each notebook must record (at least).
REQUIRED_CLAIMS = {
    "01_relu": {
        "relu_prime0_exact_zero_fraction_float16",
        "relu_prime0_exact_zero_fraction_float32",
        "relu_prime0_sgd_accuracy_difference",
    },
    "02_vanishing_gradients": {
        "max_sigmoid_grad",
        "max_tanh_grad",
        "sigmoid_grad_ratio_depth10",
        "tanh_grad_ratio_depth10",
        "relu_delta_ratio_glorot",
        "relu_delta_ratio_he",
        "relu_delta_ratio_small_init",
        "relu_weight_grad_ratio_small_init",
        "steps_to_target_tanh_over_relu_depth20",
        "steps_to_target_sigmoid_over_relu_depth20",
    },
    "03_sparsity": {
        "zero_fraction_he_init",
        "trained_sparsity",
        "l1_sparsity_gain",
        "sparse_speedup_50",
        "sparse_speedup_99",
        "batch1_gather_speedup_natural",
        "batch1_gather_speedup_l1",
        "batch1_weight_bytes_fraction",
    },
    "04_dead_neurons": {
        "dead_fraction_init_3x256",
        "dead_fraction_init_20x4",
        "born_dead_w2_d2",
        "born_dead_w2_d10",
        "dead_fraction_high_lr",
        "dead_fraction_low_lr",
        "noisy40_leaky_minus_relu_test_accuracy",
        "noisy40_prelu_minus_relu_test_accuracy",
    },
    "05_he_init": {
        "rms_depth30_he",
        "rms_depth30_xavier",
        "loss_depth30_xavier",
        "loss_depth30_he",
    },
    "06_batch_norm": {"bn_epochs_speedup", "bn_high_lr_val_accuracy", "no_bn_high_lr_val_accuracy"},
    "07_capstone": {"silenced50_relu_minus_tanh_accuracy_drop"},
    "08_after_relu": {"relufication_accuracy_change", "relufication_sparsity_gain"},
}
# Claims measured from training runs or timings: each must record >= 5 seeds (or repeats)
# and a 95% interval (the README's evidence rule). Required ids outside this set are exact
# (max_sigmoid_grad), Monte Carlo estimates with their own trial counts, or at-init
# statistics; any claim that does pass ``seeds`` must still have >= 5 and an interval.
SEEDED_CLAIMS = {
    "relu_prime0_sgd_accuracy_difference",
    "steps_to_target_tanh_over_relu_depth20",
    "steps_to_target_sigmoid_over_relu_depth20",
    "trained_sparsity",
    "l1_sparsity_gain",
    "sparse_speedup_50",
    "sparse_speedup_99",
    "batch1_gather_speedup_natural",
    "batch1_gather_speedup_l1",
    "dead_fraction_high_lr",
    "dead_fraction_low_lr",
    "noisy40_leaky_minus_relu_test_accuracy",
    "noisy40_prelu_minus_relu_test_accuracy",
    "loss_depth30_xavier",
    "loss_depth30_he",
    "bn_epochs_speedup",
    "bn_high_lr_val_accuracy",
    "no_bn_high_lr_val_accuracy",
    "silenced50_relu_minus_tanh_accuracy_drop",
    "relufication_accuracy_change",
    "relufication_sparsity_gain",
}
MIN_SEEDS = 5


def _nb(path: Path):
    return nbformat.read(path, as_version=4)


def test_every_course_notebook_exists():
    assert ASSIGNMENTS[:2] == ["00_welcome", "01_relu"]
    assert set(REQUIRED_CLAIMS) <= set(ASSIGNMENTS), "a notebook of the claims ledger is missing"


def test_every_checks_module_declares_exercises():
    import importlib
    import pkgutil

    import relu_course.checks as checks

    for info in pkgutil.iter_modules(checks.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"relu_course.checks.{info.name}")
            assert isinstance(getattr(module, "EXERCISES", None), list), (
                f"relu_course/checks/{info.name}.py: declare its exercises, "
                "EXERCISES = [Exercise(...)] (see relu_course/checks/_registry.py)"
            )


def test_registry_and_notebooks_agree():
    """Every graded exercise of a solution notebook is in the registry (with the same points,
    declared for that notebook), and every registered exercise is graded by its notebook."""
    graded = {}
    for assignment in ASSIGNMENTS:
        for cell in _nb(solution_notebook(assignment, ROOT)).cells:
            if is_autograded_test(cell):
                name = exercise_name(grade_id(cell))
                graded[name] = (assignment, nbgrader_meta(cell).get("points"))
    registered = {n: (e.notebook, e.points) for n, e in registry().items()}
    missing = sorted(set(graded) - set(registered))
    assert not missing, f"graded in a notebook but not in the registry: {missing}"
    orphans = sorted(set(registered) - set(graded))
    assert not orphans, f"registered but graded by no notebook: {orphans}"
    different = {n: (graded[n], registered[n]) for n in graded if graded[n] != registered[n]}
    assert not different, f"(notebook, points) in notebook vs registry: {different}"


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request) -> str:
    return request.param


# ------------------------------------------------------------------ structure
def test_source_is_canonical(assignment):
    """No outputs, no execution counts, the course kernel, stable ids (run `relu-course format`)."""
    path = solution_notebook(assignment, ROOT)
    nb = _nb(path)
    nbformat.validate(nb)
    assert nb == canonical(nb), f"{path} is not canonical: run `relu-course format {assignment}`"


def test_common_outline(assignment):
    nb = _nb(solution_notebook(assignment, ROOT))
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# {assignment[:2]} — "), "title: '# NN — Title'"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("## Learning objectives", "## Setup", "## Summary", "## Further reading"):
        assert re.search(rf"^{re.escape(heading)}", text, re.M), f"missing {heading!r}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0].source
    assert setup.startswith("from relu_course.notebook import setup_notebook")
    assert f'setup_notebook("{assignment}"' in setup
    before_setup = setup.split("setup_notebook(", 2)
    assert "import tensorflow" not in before_setup[0] and "import keras" not in before_setup[0]
    for cell in code:
        assert "import *" not in cell.source, "no star imports"
        assert "sys.path" not in cell.source, "no sys.path edits"


def test_grade_ids_unique_and_markers_balanced(assignment):
    nb = _nb(solution_notebook(assignment, ROOT))
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"
    for cell in nb.cells:
        m = nbgrader_meta(cell)
        if m:
            assert m.get("schema_version") == 3
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", m["grade_id"]), m["grade_id"]
        for marker in ("SOLUTION", "HIDDEN TESTS"):
            begins = cell.source.count(f"### BEGIN {marker}")
            ends = cell.source.count(f"### END {marker}")
            assert begins == ends <= 1, f"unbalanced {marker} markers in {m.get('grade_id')}"
        if "### BEGIN SOLUTION" in cell.source:
            assert m.get("solution"), "solution markers outside a solution cell"
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert is_autograded_test(cell), "hidden tests outside a test cell"


def test_each_exercise_has_answer_then_visible_and_hidden_tests(assignment):
    nb = _nb(solution_notebook(assignment, ROOT))
    expected = [n for n, e in registry().items() if e.notebook == assignment]
    answers = [i for i, c in enumerate(nb.cells) if is_answer(c)]
    names = [grade_id(nb.cells[i]) for i in answers]
    assert sorted(names) == sorted(expected), "answer cells must match the registry's exercises"
    for i in answers:
        name = grade_id(nb.cells[i])
        source = nb.cells[i].source
        assert re.search(rf"^(def|class) {name}\b", source, re.M), f"{name}: signature kept"
        assert '"""' in source.split("### BEGIN SOLUTION")[0], f"{name}: docstring kept"
        # the next graded cell after the answer is its test cell
        following = next(c for c in nb.cells[i + 1 :] if nbgrader_meta(c))
        assert is_autograded_test(following), (
            f"{name}: the answer must be followed by its test cell"
        )
        test_meta = nbgrader_meta(following)
        assert test_meta["grade_id"] == f"test_{name}"
        assert test_meta.get("locked") and test_meta.get("points", 0) > 0
        assert following.source.startswith('"""'), "test cells open with a one-line docstring"
        assert f"check_{name}({name})" in following.source, "the visible self-check"
        assert "### BEGIN HIDDEN TESTS" in following.source, f"{name}: hidden tests"


def test_written_questions_have_mark_schemes(assignment):
    nb = _nb(solution_notebook(assignment, ROOT))
    for cell in nb.cells:
        m = nbgrader_meta(cell)
        if cell.cell_type == "markdown" and m.get("grade"):
            assert m.get("solution") and m.get("points", 0) > 0
            assert m["grade_id"].startswith("written_")
            assert "Mark scheme" in cell.source, f"{m['grade_id']}: add a mark scheme"


def test_release_has_no_outputs_and_no_solutions(assignment):
    nb = _nb(release_notebook(assignment, ROOT))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None
        assert "### BEGIN SOLUTION" not in cell.source
        assert "### BEGIN HIDDEN TESTS" not in cell.source
    answers = [c for c in nb.cells if is_answer(c)]
    assert all("raise NotImplementedError()" in c.source for c in answers)


# ------------------------------------------------------------------ release in sync
def _visible(folder: Path) -> list[Path]:
    """A folder's entries without hidden ones (JupyterLab's .ipynb_checkpoints, editors')."""
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


def test_release_folder_holds_exactly_the_assignments():
    released = sorted(p.name for p in _visible(ROOT / "notebooks") if p.is_dir())
    assert released == ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        files = sorted(p.name for p in _visible(ROOT / "notebooks" / assignment))
        assert files == [f"{assignment}.ipynb"], f"only the notebook is released: {files}"


def test_opening_a_notebook_in_jupyterlab_keeps_the_suite_green(tmp_path):
    """JupyterLab writes .ipynb_checkpoints next to an opened notebook: never an assignment."""
    from relu_course.layout import assignments

    for folder in ("solutions", "notebooks"):
        (tmp_path / folder / "01_x").mkdir(parents=True)
        (tmp_path / folder / "01_x" / "01_x.ipynb").write_text("{}")
        hidden = tmp_path / folder / ".ipynb_checkpoints"
        hidden.mkdir()
        (hidden / ".ipynb_checkpoints.ipynb").write_text("{}")
    assert assignments(tmp_path) == ["01_x"]
    assert [p.name for p in _visible(tmp_path / "notebooks")] == ["01_x"]


def test_release_in_sync_with_solutions(tmp_path):
    """Regenerating notebooks/ with nbgrader reproduces the committed files byte for byte."""
    from relu_course.release import generate_release

    generate_release(ROOT, into=tmp_path)
    for assignment in ASSIGNMENTS:
        fresh = tmp_path / assignment / f"{assignment}.ipynb"
        committed = release_notebook(assignment, ROOT)
        assert filecmp.cmp(fresh, committed, shallow=False), (
            f"{committed} differs from what nbgrader generates: run `relu-course release`"
        )


def test_non_notebook_files_never_reach_the_release(tmp_path):
    """A jupytext pairing or data file in solutions/ must not leak into the release."""
    import shutil

    from relu_course.release import generate_release

    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / "00_welcome", course / "solutions" / "00_welcome")
    leak = course / "solutions" / "00_welcome"
    (leak / "00_welcome.py").write_text("def add_one(x):\n    return x + 1  # SOLUTION\n")
    (leak / "notes.md").write_text("answers")
    generate_release(course)
    released = sorted(p.name for p in (course / "notebooks" / "00_welcome").iterdir())
    assert released == ["00_welcome.ipynb"]


# ------------------------------------------------------------------ execution
def _execution_config():
    """nbgrader's Execute defaults (30 s per cell, 4 s IOPub wait) are for small cells; on a
    loaded 2-core CI machine a training cell can take longer, as in nbval's 300 s limit."""
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = 300
    config.Execute.iopub_timeout = 30
    return config


_EXECUTION = _execution_config()


@pytest.mark.slow
def test_solution_passes_all_tests_and_claims_hold(assignment, tmp_path, monkeypatch):
    """nbgrader's Validator (not the CLI, which exits 0 on failure) with hidden tests; every
    ledger claim recorded while it runs must hold, and REQUIRED_CLAIMS' ids must be there."""
    from nbgrader.validator import Validator

    claims_file = tmp_path / "claims.jsonl"
    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(claims_file))
    result = Validator(config=_EXECUTION).validate(str(solution_notebook(assignment, ROOT)))
    assert result == {}, json.dumps(result, indent=1)[:4000]
    claims = read_claims(claims_file)
    failing = [c for c in claims if not c["holds"]]
    assert not failing, f"claims that do not hold: {failing}"
    assert all(c["notebook"] == assignment for c in claims)
    missing = REQUIRED_CLAIMS.get(assignment, set()) - {c["id"] for c in claims}
    assert not missing, f"required claims not recorded: {sorted(missing)}"
    unseeded = [
        c["id"]
        for c in claims
        if (c["id"] in SEEDED_CLAIMS or c.get("seeds") is not None)
        and ((c.get("seeds") or 0) < MIN_SEEDS or not c.get("ci"))
    ]
    assert not unseeded, f"claims from training need >= {MIN_SEEDS} seeds and a ci: {unseeded}"
    silent = [c["id"] for c in claims if not states_refutation(c.get("description"))]
    assert not silent, f"claims that do not say what result would refute them: {silent}"


@pytest.mark.slow
def test_student_stubs_fail_every_test(assignment):
    """Validator(invert=True) returns {} only when every test cell of the release fails."""
    from nbgrader.validator import Validator

    result = Validator(invert=True, config=_EXECUTION).validate(
        str(release_notebook(assignment, ROOT))
    )
    assert result == {}, json.dumps(result, indent=1)[:4000]
