"""Check for notebook 00 (welcome): the warm-up exercise ``add_one``."""

from __future__ import annotations

import numbers

import numpy as np

from relu_course.checks._framework import Check
from relu_course.checks._registry import Exercise, Probe

__all__ = ["EXERCISES", "check_add_one", "probes_add_one"]


def _add_one_hint(x, got) -> str:
    if got is None:
        return "add_one returned None: did you forget the `return` statement?"
    if isinstance(got, str):
        return "the result is text: add the number one to x, not the character '1'"
    if isinstance(got, numbers.Number):
        return f"your result is x + {got - x:.4g}: add exactly one"
    return "add_one returns a number for a number: x plus one"


def check_add_one(add_one) -> None:
    """``add_one(x)`` returns x + 1 for Python numbers and NumPy arrays, leaving x unchanged."""
    check = Check("add_one", add_one)
    integer = int(check.rng.integers(-1000, 1000))
    real = float(check.rng.normal() * 100)
    array = check.rng.normal(size=(int(check.rng.integers(2, 6)), 3)).astype(np.float32)
    for x in (integer, real):
        got = check.call(x)
        if not isinstance(got, numbers.Number) or abs(got - (x + 1)) > 1e-9 * max(1.0, abs(x)):
            check.fail(
                "add_one gives a wrong result",
                on=f"x = {x!r}",
                expected=x + 1,
                got=got,
                hint=_add_one_hint(x, got),
            )
    on = f"x = a float32 array of shape {array.shape}"
    got = check.expect_array(check.call(array, on=on), on)
    check.expect_like(got, array + 1, on)
    check.expect_close(got, array + 1, on, x=array, hint="add one to every element of the array")
    check.passed("numbers and arrays, inputs left unchanged")


def probes_add_one(rng: np.random.Generator) -> list[Probe]:
    i = int(rng.integers(-(10**6), 10**6))
    r = float(rng.normal() * 100)
    a = rng.normal(size=(int(rng.integers(2, 5)), 3))
    n = rng.integers(-50, 50, size=(4,)).astype(np.int64)
    return [
        Probe(args=(i,), expected=np.array(float(i + 1)), same_dtype=False),
        Probe(args=(r,), expected=np.array(r + 1), atol=1e-9, same_dtype=False),
        Probe(args=(a,), expected=a + 1, atol=1e-12),
        Probe(args=(n,), expected=n + 1),
        Probe(args=(a,), mode="input_after", expected=a.copy()),
    ]


EXERCISES = [Exercise("add_one", notebook="00_welcome", points=1, probes=probes_add_one)]
