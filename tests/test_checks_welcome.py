"""The warm-up check of notebook 00 accepts correct variants and names the wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from relu_course.checks import check_add_one


def _in_place(x):
    if isinstance(x, np.ndarray):
        x += 1
        return x
    return x + 1


CORRECT = {
    "plus": lambda x: x + 1,
    "add": lambda x: np.add(x, 1) if isinstance(x, np.ndarray) else x + 1,
    "sum_of_ones": lambda x: x + np.ones_like(x) if isinstance(x, np.ndarray) else x + 1,
}

WRONG = {
    "plus_two": (lambda x: x + 2, "wrong result"),
    "in_place": (_in_place, "in place"),
    "returns_none": (lambda x: None, "wrong result"),
    "list_for_arrays": (
        lambda x: [v + 1 for v in x] if isinstance(x, np.ndarray) else x + 1,
        "not a numpy array",
    ),
    "float64_cast": (
        lambda x: np.asarray(x, dtype=np.float64) + 1 if isinstance(x, np.ndarray) else x + 1,
        "dtype",
    ),
    "string": (lambda x: f"{x}1", "wrong result"),
}


@pytest.mark.parametrize("name", CORRECT)
def test_add_one_accepts(name):
    check_add_one(CORRECT[name])


@pytest.mark.parametrize("name", WRONG)
def test_add_one_rejects(name, rejected):
    candidate, fragment = WRONG[name]
    rejected(check_add_one, candidate, fragment)
