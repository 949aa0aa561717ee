"""Integrity re-verification with reference probes for the array exercises of 02–06: the
solutions pass, and wrong answers fail outside the learner's kernel (where monkeypatched
assertions or checks cannot help them)."""

from __future__ import annotations

import copy

import nbformat
import pytest

from relu_course.course import solution_notebook
from relu_course.grading.verify import PROBES, verify_submission

WRONG = {
    "02_vanishing_gradients": {
        "sigmoid_grad": "def sigmoid_grad(x):\n    return 1 / (1 + np.exp(-x))\n",
        "tanh_grad": "def tanh_grad(x):\n    return 1 - np.tanh(x)\n",
    },
    "03_sparsity": {
        "activation_sparsity": "def activation_sparsity(a):\n"
        "    return float(np.mean(np.abs(np.asarray(a)) < 1e-2))\n",
        "hoyer_sparsity": "def hoyer_sparsity(v):\n"
        "    v = np.asarray(v, float)\n"
        "    return float(np.sqrt(v.size) - np.abs(v).sum() / np.linalg.norm(v))\n",
    },
    "04_dead_neurons": {
        "dead_units": "def dead_units(a):\n    return np.all(np.asarray(a) == 0, axis=1)\n",
        "leaky_relu": "def leaky_relu(x, negative_slope=0.3):\n"
        "    return tf.where(x > 0, x, negative_slope * x)\n",
    },
    "05_he_init": {
        "he_std": "def he_std(fan_in):\n    return float(np.sqrt(1.0 / fan_in))\n",
    },
    "06_batch_norm": {
        "update_moving_average": "def update_moving_average(moving, batch_value, momentum=0.99):\n"
        "    return (1 - momentum) * moving + momentum * batch_value\n",
        "batchnorm_forward": "def batchnorm_forward(x, gamma, beta, eps=1e-3):\n"
        "    return (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) * gamma + beta\n",
    },
}


def test_every_listed_exercise_has_a_probe():
    for exercises in WRONG.values():
        assert set(exercises) <= set(PROBES)


@pytest.mark.parametrize("assignment", sorted(WRONG))
def test_solutions_pass_and_wrong_answers_fail(assignment):
    path = solution_notebook(assignment)
    source = nbformat.read(path, as_version=4)
    exercises = set(WRONG[assignment])
    right = verify_submission(path, source, source, exercises, seed=1)
    assert right.failures == dict.fromkeys(exercises), right.failures

    wrong = copy.deepcopy(source)
    for cell in wrong.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in exercises and cell.cell_type == "code":
            cell.source = WRONG[assignment][grade_id]
    verdict = verify_submission(path, wrong, source, exercises, seed=2)
    assert all(verdict.failures[e] for e in exercises), verdict.failures
