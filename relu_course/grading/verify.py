"""Re-verification of awarded exercises outside the learner's kernel.

nbgrader runs the tests in the learner's own kernel, where an answer cell can replace
``np.testing.assert_allclose``, a ``relu_course`` check, or make ``==`` always true. So for
every exercise nbgrader awarded points, a separate clean process (``_verify_child``) runs
only the release's code and the learner's *answer* cells, then:

* **probes** (exercises with a registered spec): calls the learner's function on inputs
  chosen here, saves the raw results (``.npy``, no pickle) and this process compares them
  with references computed here, where no learner code ever runs;
* **source tests** (every other exercise): runs the source test cell (visible and hidden
  tests) after the release's own set-up and demo cells;
* in both cases reports library functions the answer cells replaced (``numpy``,
  ``numpy.testing``, ``tensorflow``, ``keras``, ``relu_course.checks``, builtins) and
  set-up names they rebound (``check_add_one = ...``).

An exercise keeps its points only when nbgrader and this verification both pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relu_course.activations import leaky_relu, sigmoid_grad, tanh_grad
from relu_course.grading.cells import exercise_name

__all__ = ["PROBES", "Probe", "Verification", "verify_submission"]


@dataclass
class Probe:
    """One call of the learner's function: ``code`` (an expression over ``f``, the learner's
    object, and ``x``, the input) runs in the clean process; ``expected`` stays here."""

    code: str
    x: np.ndarray
    expected: np.ndarray
    atol: float = 0.0
    same_dtype: bool = True


def _add_one(rng) -> list[Probe]:
    i = int(rng.integers(-(10**6), 10**6))
    r = float(rng.normal() * 100)
    a = rng.normal(size=(int(rng.integers(2, 5)), 3))
    n = rng.integers(-50, 50, size=(4,)).astype(np.int64)
    return [
        Probe("float(f(int(x)))", np.array(i), np.array(float(i + 1)), same_dtype=False),
        Probe("float(f(float(x)))", np.array(r), np.array(r + 1), atol=1e-9, same_dtype=False),
        Probe("f(x.copy())", a, a + 1, atol=1e-12),
        Probe("f(x.copy())", n, n + 1),
        Probe("(lambda c: (f(c), c)[1])(x.copy())", a, a),  # the input is left unchanged
    ]


def _relu_np(rng) -> list[Probe]:
    x32 = rng.normal(size=(3, 5)).astype(np.float32)
    x32[0, :2] = 0.0
    x64 = rng.normal(size=(7,)) * 10
    xi = rng.integers(-9, 9, size=(2, 3, 2)).astype(np.int64)
    return [
        Probe("f(x.copy())", x, np.maximum(x, np.zeros((), x.dtype))) for x in (x32, x64, xi)
    ] + [Probe("(lambda c: (f(c), c)[1])(x.copy())", x32, x32)]


def _relu_tf(rng) -> list[Probe]:
    x32 = rng.normal(size=(4, 3)).astype(np.float32)
    x64 = rng.normal(size=(5,)) * 3
    probes = [
        Probe("f(tf.constant(x)).numpy()", x, np.maximum(x, 0).astype(x.dtype)) for x in (x32, x64)
    ]
    probes.append(Probe("tf.function(f)(tf.constant(x)).numpy()", x32, np.maximum(x32, 0)))
    return probes


def _relu_grad(rng) -> list[Probe]:
    x32 = rng.normal(size=(4, 4)).astype(np.float32)
    x32[1, :] = 0.0
    x64 = np.concatenate([rng.normal(size=5), [0.0, -0.0]])
    return [Probe("f(x.copy())", x, (x > 0).astype(x.dtype)) for x in (x32, x64)]


def _hat_network(rng) -> list[Probe]:
    x = rng.uniform(-5, 5, size=(64, 1)).astype(np.float32)
    return [
        Probe(
            "np.asarray(f()(x), dtype=np.float64)",
            x,
            np.maximum(0.0, 1.0 - np.abs(x)),
            atol=1e-4,
            same_dtype=False,
        )
    ]


def _unchanged(x: np.ndarray) -> Probe:
    """The learner's function must leave its (first) input as it was."""
    return Probe("(lambda c: (f(c), c)[1])(x.copy())", x, x.copy())


def _elementwise(reference: Callable, atol: float = 1e-12):
    def probes(rng) -> list[Probe]:
        x64 = rng.normal(scale=3, size=(4, 5))
        x64[0, 0] = 0.0
        x32 = rng.normal(scale=3, size=(7,)).astype(np.float32)
        return [
            Probe("f(x.copy())", x64, reference(x64), atol=atol),
            Probe("f(x.copy())", x32, reference(x32), atol=1e-6),
            _unchanged(x64),
        ]

    return probes


def _measures():
    """The reference measures (relu_course.probes loads TensorFlow: only when needed)."""
    from relu_course import probes

    return probes


def _relu_like_activations(rng) -> np.ndarray:
    a = np.maximum(rng.normal(size=(12, 6)), 0.0)
    a[:, 2] = 0.0  # a dead unit
    return a


def _activation_sparsity(rng) -> list[Probe]:
    a = _relu_like_activations(rng)
    a[0, 0] = -1e-3  # negative values are not zeros
    return [
        Probe(
            "np.asarray(float(f(x.copy())))",
            a,
            np.asarray(_measures().zero_fraction(a)),
            atol=1e-12,
            same_dtype=False,
        ),
        _unchanged(a),
    ]


def _hoyer_sparsity(rng) -> list[Probe]:
    v = np.abs(rng.normal(size=(int(rng.integers(5, 30)),)))
    one_hot = np.eye(8)[int(rng.integers(0, 8))]
    return [
        Probe(
            "np.asarray(float(f(x.copy())))",
            x,
            np.asarray(_measures().hoyer(x)),
            atol=1e-9,
            same_dtype=False,
        )
        for x in (v, one_hot)
    ] + [_unchanged(v)]


def _dead_units(rng) -> list[Probe]:
    a = _relu_like_activations(rng)
    return [
        Probe(
            "np.asarray(f(x.copy()), dtype=bool)",
            a,
            _measures().dead_unit_mask(a),
            same_dtype=False,
        ),
        _unchanged(a),
    ]


def _leaky_relu(rng) -> list[Probe]:
    x = rng.normal(scale=3, size=(3, 4)).astype(np.float32)
    return [
        Probe("np.asarray(f(tf.constant(x)))", x, leaky_relu(x, 0.01), atol=1e-6),
        Probe(
            "np.asarray(f(tf.constant(x), negative_slope=0.2))", x, leaky_relu(x, 0.2), atol=1e-6
        ),
    ]


def _he_std(rng) -> list[Probe]:
    return [
        Probe(
            "np.asarray(float(f(int(x))))",
            np.array(n),
            np.asarray(np.sqrt(2.0 / n)),
            atol=1e-12,
            same_dtype=False,
        )
        for n in (int(rng.integers(1, 20)), int(rng.integers(100, 5000)))
    ]


def _update_moving_average(rng) -> list[Probe]:
    pair = rng.normal(size=(2, 6))  # row 0: moving value, row 1: batch value
    momentum = float(rng.uniform(0.5, 0.99))
    return [
        Probe(
            f"f(x[0].copy(), x[1].copy(), momentum={momentum!r})",
            pair,
            momentum * pair[0] + (1 - momentum) * pair[1],
            atol=1e-12,
        ),
        Probe("f(x[0].copy(), x[1].copy())", pair, 0.99 * pair[0] + 0.01 * pair[1], atol=1e-12),
        Probe("(lambda m: (f(m, x[1].copy()), m)[1])(x[0].copy())", pair, pair[0].copy()),
    ]


def _batchnorm_forward(rng) -> list[Probe]:
    n, d = int(rng.integers(8, 20)), int(rng.integers(2, 6))
    data = rng.normal(loc=2.0, scale=3.0, size=(n, d))
    data[:, 0] = 5.0 + 1e-3 * rng.normal(size=n)  # variance near eps: where eps goes matters
    gamma, beta = rng.uniform(0.5, 2.0, size=d), rng.normal(size=d)
    packed = np.vstack([data, gamma, beta])  # rows: the batch, then gamma, then beta

    def reference(eps: float) -> np.ndarray:
        return (data - data.mean(0)) / np.sqrt(data.var(0) + eps) * gamma + beta

    return [
        Probe("f(x[:-2].copy(), x[-2].copy(), x[-1].copy())", packed, reference(1e-3), atol=1e-9),
        Probe(
            "f(x[:-2].copy(), x[-2].copy(), x[-1].copy(), eps=1e-5)",
            packed,
            reference(1e-5),
            atol=1e-9,
        ),
    ]


# Exercises whose answers are compared with references outside the learner's process. Others
# are verified by re-running their source tests in the clean process.
PROBES: dict[str, Callable[[np.random.Generator], list[Probe]]] = {
    "add_one": _add_one,
    "relu_np": _relu_np,
    "relu_tf": _relu_tf,
    "relu_grad": _relu_grad,
    "hat_network": _hat_network,
    "sigmoid_grad": _elementwise(sigmoid_grad),
    "tanh_grad": _elementwise(tanh_grad),
    "activation_sparsity": _activation_sparsity,
    "hoyer_sparsity": _hoyer_sparsity,
    "dead_units": _dead_units,
    "leaky_relu": _leaky_relu,
    "he_std": _he_std,
    "update_moving_average": _update_moving_average,
    "batchnorm_forward": _batchnorm_forward,
}


@dataclass
class Verification:
    """Per exercise: ``None`` when verified, else why not. ``notes``: tampering seen."""

    failures: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _is_answer(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) and cell.cell_type == "code"


def _is_test(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def _without_shell_lines(source: str) -> str:
    # `!relu-course doctor` and friends report on the machine; they define nothing.
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))
    )


def _plan(submitted, source, exercises: set[str]) -> tuple[list, set[str]]:
    """The cells to run: the source's code with the learner's answer cells swapped in.

    Only set-up cells (before the first answer) are needed when every exercise has probes;
    otherwise every non-test cell runs, with the source test cells of the exercises to check.
    """
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in submitted.cells
        if _is_answer(c) and c.metadata["nbgrader"].get("grade_id")
    }
    by_probe = {e for e in exercises if e in PROBES}
    by_test = exercises - by_probe
    cells, seen_answer = [], False
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if _is_answer(cell):
            seen_answer = True
            if cell.cell_type == "code":
                cells.append(("answer", meta["grade_id"], answers.get(meta["grade_id"], "")))
        elif _is_test(cell):
            if exercise_name(meta["grade_id"]) in by_test:
                cells.append(("test", meta["grade_id"], cell.source))
        elif not seen_answer or by_test:
            cells.append(("setup", cell.get("id", "?"), _without_shell_lines(cell.source)))
    return cells, by_probe


def verify_submission(
    notebook: Path,
    submitted,
    source,
    exercises: set[str],
    timeout: int = 60,
    seed: int | None = None,
) -> Verification:
    """Re-verify ``exercises`` of the learner's notebook ``submitted`` (a NotebookNode whose
    file is ``notebook``) against the source notebook ``source`` in a clean process."""
    verdict = Verification()
    if not exercises:
        return verdict
    cells, by_probe = _plan(submitted, source, exercises)
    rng = np.random.default_rng(seed)
    probes = {e: PROBES[e](rng) for e in sorted(by_probe)}
    with tempfile.TemporaryDirectory(prefix="relu-course-verify-") as scratch:
        scratch = Path(scratch)
        out = scratch / "out"
        out.mkdir()
        work = scratch / "work"  # run beside copies of the submission's other files
        work.mkdir()
        for item in Path(notebook).parent.iterdir():
            if item.is_file() and item.suffix != ".ipynb" and item.stat().st_size < 50_000_000:
                (work / item.name).write_bytes(item.read_bytes())
        arrays, specs = {}, []
        for exercise, items in probes.items():
            for i, probe in enumerate(items):
                key = f"{exercise}__{i}"
                arrays[key] = probe.x
                specs.append({"id": key, "exercise": exercise, "code": probe.code})
        np.savez(scratch / "inputs.npz", **arrays)
        job = {
            "cells": cells,
            "probes": specs,
            "inputs": str(scratch / "inputs.npz"),
            "out": str(out),
            "timeout": timeout,
        }
        (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
        budget = timeout * (2 + sum(kind != "setup" for kind, _, _ in cells)) + 60
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "relu_course.grading._verify_child",
                    str(scratch / "job.json"),
                ],
                cwd=work,
                timeout=budget,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={
                    **os.environ,
                    "MPLBACKEND": "Agg",
                    "RELU_COURSE_CHECK_TIME_LIMIT": str(max(5, timeout // 2)),
                },
            )
        except subprocess.TimeoutExpired:
            verdict.notes.append(f"verifier stopped after {budget} s")
        try:
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {"cells": {}, "probes": {}, "replaced": [], "rebound": []}
        if report.get("replaced"):
            verdict.notes.append(
                "answer cells replace library functions: " + ", ".join(report["replaced"][:8])
            )
        if report.get("rebound"):
            verdict.notes.append(
                "answer cells rebind set-up names: " + ", ".join(report["rebound"][:8])
            )
        for exercise in sorted(exercises):
            verdict.failures[exercise] = _judge(exercise, probes.get(exercise), report, out)
        if report.get("replaced") or report.get("rebound"):
            for exercise in verdict.failures:
                verdict.failures[exercise] = verdict.failures[exercise] or (
                    "answer cells replace checks or library functions"
                )
    return verdict


def _judge(exercise: str, probes: list[Probe] | None, report: dict, out: Path) -> str | None:
    if probes is None:
        status = report["cells"].get(f"test_{exercise}", "did not run")
        return None if status is None else f"source tests fail in a clean process ({status})"
    for i, probe in enumerate(probes):
        key = f"{exercise}__{i}"
        if key not in report["probes"]:
            return "verifier did not reach this exercise (time limit?)"
        if report["probes"][key] is not None:
            return f"raised on verifier input: {report['probes'][key]}"
        try:
            got = np.load(out / f"{key}.npy", allow_pickle=False)
        except (OSError, ValueError) as error:
            return f"result unreadable ({type(error).__name__})"
        expected = probe.expected
        if got.shape != expected.shape:
            return f"wrong shape {got.shape} on verifier input (expected {expected.shape})"
        if probe.same_dtype and got.dtype != expected.dtype:
            return f"wrong dtype {got.dtype} on verifier input (expected {expected.dtype})"
        if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
            return f"non-numeric result ({got.dtype}) on verifier input"
        if not np.allclose(
            got.astype(np.float64),
            expected.astype(np.float64),
            atol=probe.atol,
            rtol=1e-6 if probe.atol else 0.0,
        ):
            return "wrong values on verifier input"
    return None
