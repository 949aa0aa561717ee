"""Integrity re-verification with the probes declared next to each check: for every
exercise that has probes, the solution passes and a named wrong answer fails outside the
learner's kernel (where monkeypatched assertions or checks cannot help it).

Wrong answers come from one table per topic: ``PROBE_MISCONCEPTIONS`` (exercise → answer
cell source) in ``tests/test_checks_<topic>.py``, next to that topic's check catalogue, plus
the table below for the exercises of the first probe set. A test says which exercise with
probes has no wrong answer to try.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import nbformat
import pytest

from relu_course.checks import registry
from relu_course.grading.verify import verify_submission
from relu_course.layout import solution_notebook

HERE = Path(__file__).parent

WRONG = {
    "add_one": "def add_one(x):\n    return x + 1.0 if not hasattr(x, 'shape') else x\n",
    "relu_np": "def relu_np(x):\n    return np.clip(x, 0, 6)\n",
    "relu_tf": "def relu_tf(x):\n    return tf.abs(x)\n",
    "relu_grad": "def relu_grad(x):\n    return (x >= 0).astype(x.dtype)\n",
    "hat_network": "def hat_network():\n"
    "    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])\n"
    "    return model\n",
    "sigmoid_grad": "def sigmoid_grad(x):\n    return 1 / (1 + np.exp(-x))\n",
    "tanh_grad": "def tanh_grad(x):\n    return 1 - np.tanh(x)\n",
    "activation_sparsity": "def activation_sparsity(a):\n"
    "    return float(np.mean(np.abs(np.asarray(a)) < 1e-2))\n",
    "hoyer_sparsity": "def hoyer_sparsity(v):\n"
    "    v = np.asarray(v, float)\n"
    "    return float(np.sqrt(v.size) - np.abs(v).sum() / np.linalg.norm(v))\n",
    "dead_units": "def dead_units(a):\n    return np.all(np.asarray(a) <= 0, axis=0)\n",
    "leaky_relu": "def leaky_relu(x, negative_slope=0.3):\n"
    "    return tf.where(x > 0, x, negative_slope * x)\n",
    "he_std": "def he_std(fan_in):\n    return float(np.sqrt(1.0 / fan_in))\n",
    "update_moving_average": "def update_moving_average(moving, batch_value, momentum=0.99):\n"
    "    return (1 - momentum) * moving + momentum * batch_value\n",
    "batchnorm_forward": "def batchnorm_forward(x, gamma, beta, eps=1e-3):\n"
    "    return (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) * gamma + beta\n",
}


def _catalogue_tables() -> dict[str, str]:
    """``PROBE_MISCONCEPTIONS`` of every tests/test_checks_*.py (loaded by path)."""
    found: dict[str, str] = {}
    for path in sorted(HERE.glob("test_checks_*.py")):
        text = path.read_text(encoding="utf-8")
        if "PROBE_MISCONCEPTIONS" not in text:
            continue
        spec = importlib.util.spec_from_file_location(f"_probe_table_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.update(getattr(module, "PROBE_MISCONCEPTIONS", {}))
    return found


MISCONCEPTIONS = {**WRONG, **_catalogue_tables()}
PROBED = {name: e for name, e in registry().items() if e.probes is not None}


def test_every_exercise_with_probes_has_a_wrong_answer_to_reject():
    missing = sorted(set(PROBED) - set(MISCONCEPTIONS))
    assert not missing, (
        f"add a wrong answer for {missing} to PROBE_MISCONCEPTIONS in its tests/test_checks_*.py"
    )
    unknown = sorted(set(MISCONCEPTIONS) - set(registry()))
    assert not unknown, f"wrong answers for exercises the registry lacks: {unknown}"


def _by_notebook() -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for name, exercise in PROBED.items():
        grouped.setdefault(exercise.notebook, set()).add(name)
    return grouped


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(_by_notebook()))
def test_solutions_pass_and_wrong_answers_fail(assignment):
    path = solution_notebook(assignment)
    source = nbformat.read(path, as_version=4)
    exercises = _by_notebook()[assignment]
    right = verify_submission(path, source, source, exercises, seed=1)
    assert right.failures == dict.fromkeys(exercises), right.failures

    wrong = copy.deepcopy(source)
    tried = {e for e in exercises if e in MISCONCEPTIONS}
    for cell in wrong.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in tried and cell.cell_type == "code":
            cell.source = MISCONCEPTIONS[grade_id]
    verdict = verify_submission(path, wrong, source, tried, seed=2)
    assert all(verdict.failures[e] for e in tried), verdict.failures


# --- exercises re-verified by their source tests: the verifier cannot be steered -------------


def _mini_course(answer: str):
    """A two-cell course (set-up, answer, hidden test) whose exercise has no probes, so the
    verifier runs its source test after the answer: the path the steering attacks target."""
    setup = nbformat.v4.new_code_cell(
        "import numpy as np\nfrom relu_course.activations import relu as reference_relu"
    )
    cell = nbformat.v4.new_code_cell(answer)
    cell.metadata["nbgrader"] = {"grade_id": "mini_relu", "solution": True, "grade": False}
    test = nbformat.v4.new_code_cell(
        "_x = np.array([-2.0, -0.5, 0.0, 1.5])\n"
        "assert np.array_equal(mini_relu(_x), reference_relu(_x))"
    )
    test.metadata["nbgrader"] = {"grade_id": "test_mini_relu", "grade": True, "points": 1}
    nb = nbformat.v4.new_notebook()
    nb.cells = [setup, cell, test]
    return nb


STEERING = {
    "honest": ("def mini_relu(x):\n    return np.maximum(x, 0.0)\n", None),
    "code_swap": (
        "import relu_course.activations\n\n\ndef mini_relu(x):\n    return np.abs(x)\n\n\n"
        "relu_course.activations.relu.__code__ = mini_relu.__code__\n",
        "relu_course.activations.relu.__code__",
    ),
    "input_transformer": (
        "def mini_relu(x):\n    return np.abs(x)\n\n\n"
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n",
        None,
    ),
    "patched_assert_helper": (
        "def mini_relu(x):\n    return np.abs(x)\n\n\n"
        "np.array_equal = lambda *args, **kwargs: True\n",
        "numpy.array_equal",
    ),
    "forged_reply": (
        "import json, os, sys\n\n\ndef mini_relu(x):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None and 'step' not in frame.f_locals:\n"
        "        frame = frame.f_back\n"
        "    if frame is not None:\n"
        "        nonce = frame.f_locals['step']['nonce']\n"
        "        forged = json.dumps({'nonce': nonce, 'error': None}) + '\\n'\n"
        "        for fd in range(3, 64):\n"
        "            try:\n"
        "                os.write(fd, forged.encode())\n"
        "            except OSError:\n"
        "                pass\n"
        "    return np.abs(x)\n",
        "forged",
    ),
}


@pytest.mark.parametrize("case", sorted(STEERING))
def test_source_tests_cannot_be_steered_from_the_answer(case):
    answer, reported = STEERING[case]
    source = _mini_course("def mini_relu(x):\n    return np.maximum(x, 0.0)\n")
    verdict = verify_submission(None, _mini_course(answer), source, {"mini_relu"}, timeout=60)
    if case == "honest":
        assert verdict.failures == {"mini_relu": None}, verdict
        assert verdict.notes == []
        return
    assert verdict.failures["mini_relu"], verdict
    if reported:
        assert any(reported in note for note in verdict.notes), verdict.notes


def test_every_auto_graded_exercise_has_probes():
    """The grader re-verifies every exercise on its own inputs (no fallback to re-running
    source tests in the process that ran the student's code)."""
    missing = sorted(name for name, e in registry().items() if e.probes is None)
    assert not missing, f"exercises without probes: {missing}"
