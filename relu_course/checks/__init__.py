"""Self-checks for every exercise: ``check_<exercise>(candidate)``.

Pass the learner's function or class itself (``check_relu_np(relu_np)``). A check returns
quietly after printing one success line, or raises :class:`CheckFailed` (an
``AssertionError``) whose message says what is wrong, on which input, and a hint.

Each notebook's checks live in their own module (``relu_course/checks/<topic>.py``), which
also declares its exercises (``EXERCISES = [Exercise(...)]``, see
:mod:`relu_course.checks._registry`). :func:`registry` collects them from every module of
this package, so adding an exercise means editing one module. Check modules import only
NumPy at module level, so ``import relu_course.checks`` stays cheap; TensorFlow loads when a
check runs.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from relu_course.checks._framework import CheckFailed
from relu_course.checks._registry import Exercise

__all__ = ["CheckFailed", "EXERCISES", "Exercise", "registry"]


@functools.cache
def registry() -> dict[str, Exercise]:
    """Every exercise of the course, keyed by name, in curriculum order (by notebook, then
    as declared in its module)."""
    found: dict[str, Exercise] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        # a module without EXERCISES (helpers in the making) adds nothing; the test suite
        # fails on it (tests/test_notebooks.py::test_every_checks_module_declares_exercises)
        for exercise in getattr(module, "EXERCISES", ()):
            if not isinstance(exercise, Exercise):
                raise TypeError(f"relu_course.checks.{info.name}.EXERCISES: {exercise!r}")
            if exercise.name in found:
                raise ValueError(
                    f"exercise {exercise.name!r} declared twice "
                    f"({found[exercise.name].module} and {info.name})"
                )
            if not callable(getattr(module, exercise.check_name, None)):
                raise ValueError(f"relu_course.checks.{info.name} has no {exercise.check_name}")
            found[exercise.name] = Exercise(
                exercise.name, exercise.notebook, exercise.points, exercise.probes, info.name
            )
    order = sorted(found.values(), key=lambda e: e.notebook)  # stable: keeps module order
    return {e.name: e for e in order}


def __getattr__(attr: str):
    if attr == "EXERCISES":
        return registry()
    if attr.startswith("check_"):
        exercise = registry().get(attr[6:])
        if exercise is not None:
            module = importlib.import_module(f"{__name__}.{exercise.module}")
            return getattr(module, attr)
    raise AttributeError(f"module 'relu_course.checks' has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(e.check_name for e in registry().values())})
