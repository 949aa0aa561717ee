"""The machinery every ``check_<exercise>`` shares.

A check calls the learner's candidate on fresh random inputs (a new seed every run, so a
hard-coded answer cannot pass), on every visible TensorFlow device with TF32 off, under a
time limit, and verifies that the candidate left its inputs alone. A failure message ends
with the seed of its inputs; ``RELU_COURSE_CHECK_SEED=<seed>`` replays exactly those inputs
(the test suite fixes it per session and prints it in its header). Every failure raises
:class:`CheckFailed` (an ``AssertionError``) whose message says, in plain words, what is
wrong, on which input, what was expected, what came back, and a hint.
"""

from __future__ import annotations

import copy
import numbers
import os
import secrets
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np

__all__ = ["Check", "CheckFailed", "SEED_ENV", "check_seed", "describe"]

# Seconds per candidate call: generous for a first tf.function trace or a small fit.
DEFAULT_TIME_LIMIT = float(os.environ.get("RELU_COURSE_CHECK_TIME_LIMIT", "30"))
SEED_ENV = "RELU_COURSE_CHECK_SEED"


def check_seed() -> int:
    """The seed of a check's inputs: ``$RELU_COURSE_CHECK_SEED`` when set (to replay a
    failure), else a fresh random one."""
    value = os.environ.get(SEED_ENV, "").strip()
    if value:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{SEED_ENV} must be an integer, got {value!r}") from None
    return secrets.randbits(32)


class CheckFailed(AssertionError):
    """A self-check found a problem; the message is meant for the learner."""


class _TimeLimit(BaseException):
    """Raised inside a looping candidate; a BaseException so ``except Exception`` can't eat it."""


def describe(value: Any, limit: int = 8) -> str:
    """A short, readable description of a value for a failure message."""
    try:
        import tensorflow as tf

        if isinstance(value, tf.Tensor | tf.Variable):
            kind = "tf.Variable" if isinstance(value, tf.Variable) else "tf.Tensor"
            return f"{kind} {describe(np.asarray(value), limit)}"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
        if arr.size <= limit:
            body = np.array2string(arr, precision=4, separator=", ", threshold=limit)
        else:
            flat = ", ".join(
                np.format_float_positional(v, precision=4)
                if np.issubdtype(arr.dtype, np.floating)
                else str(v)
                for v in arr.ravel()[:4]
            )
            body = f"[{flat}, ...]"
        return f"{body} (dtype {arr.dtype}, shape {arr.shape})"
    if isinstance(value, list | tuple) and len(value) > limit:
        return f"{type(value).__name__} of length {len(value)}: {repr(value[:limit])[:-1]}, ...]"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _learner_line(tb) -> str:
    """'line N: code' of the deepest frame that is the learner's, not a library's."""
    found = ""
    for frame in traceback.extract_tb(tb):
        name = frame.filename.replace("\\", "/")
        if "site-packages" in name or "/lib/python" in name or "/relu_course/" in name:
            continue
        code = (frame.line or "").strip()
        found = f" (line {frame.lineno}: `{code}`)" if code else f" (line {frame.lineno})"
    return found


def _model_weights(value) -> list[np.ndarray] | None:
    """Copies of a Keras model's weights, or None for anything that is not a model."""
    if type(value).__module__.startswith("keras") and hasattr(value, "get_weights"):
        return [np.array(w, copy=True) for w in value.get_weights()]
    return None


def _snapshot(values: tuple) -> list:
    return [copy.deepcopy(v) if isinstance(v, np.ndarray | list | dict) else None for v in values]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.inexact))
        )
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic containers: assume unchanged
        return True


class Check:
    """One run of one exercise's check; create it first thing in ``check_<name>``.

    ``Check("relu_np", candidate)`` verifies that the candidate is callable; then
    ``call`` runs it, ``fail`` reports a problem, ``passed`` prints the success line.
    """

    def __init__(
        self,
        name: str,
        candidate: Any,
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        is_class: bool = False,
    ):
        self.name = name
        self.candidate = candidate
        self.time_limit = time_limit
        self.device: str | None = None
        self.device_count = 1
        self.seed = check_seed()  # fresh unless replaying: a hard-coded answer cannot pass
        self.rng = np.random.default_rng(self.seed)
        if is_class and not isinstance(candidate, type):
            self.fail(
                f"check_{name} expects the class {name} itself, not {describe(candidate)}",
                hint=f"call check_{name}({name}), without parentheses after {name}",
            )
        if not callable(candidate):
            self.fail(
                f"check_{name} expects your function {name} itself, but got {describe(candidate)}",
                hint=f"call check_{name}({name}) — pass the function, don't call it",
            )

    # -- reporting ---------------------------------------------------------------------
    def fail(
        self,
        problem: str,
        *,
        on: str | None = None,
        expected: Any = None,
        got: Any = None,
        hint: str | None = None,
        show: bool = True,
    ) -> NoReturn:
        """Raise :class:`CheckFailed` with a message built from the parts given."""
        where = f" [on {self.device}]" if self.device and self.device_count > 1 else ""
        lines = [f"{problem}{where}."]
        if on:
            lines.append(f"  input:    {on}")
        if show and expected is not None:
            lines.append(
                f"  expected: {expected if isinstance(expected, str) else describe(expected)}"
            )
        if show and got is not None:
            lines.append(f"  got:      {got if isinstance(got, str) else describe(got)}")
        if hint:
            lines.append(f"  hint: {hint}")
        lines.append(f"  (inputs from seed {self.seed}: {SEED_ENV}={self.seed} replays them)")
        raise CheckFailed("\n".join(lines)) from None

    def passed(self, summary: str) -> None:
        devices = f" on {self.device_count} device{'s' if self.device_count > 1 else ''}"
        print(f"✓ {self.name} passed: {summary}{devices}.")

    # -- running the candidate ---------------------------------------------------------
    def devices(self) -> Iterator[str]:
        """Iterate over every visible TF device, running the loop body on it with TF32 off."""
        import tensorflow as tf

        from relu_course.runtime import no_tf32, visible_devices

        names = visible_devices()
        self.device_count = len(names)
        try:
            for name in names:
                self.device = name.replace("/device:", "")
                with tf.device(name), no_tf32():
                    yield name
        finally:
            self.device = None

    def call(
        self,
        *args: Any,
        on: str | None = None,
        target: Callable | None = None,
        stub: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Call the candidate (or ``target``) under the time limit; report problems clearly.

        ``on`` describes the input for messages. The candidate must not modify any NumPy
        array, list or dict it receives. ``stub=False`` stops a ``NotImplementedError``
        being read as "not implemented yet" (TensorFlow raises it for symbolic tensors).
        """
        function = self.candidate if target is None else target
        on = on or ", ".join(describe(a) for a in args)
        before = _snapshot(args)
        weights_before = [_model_weights(a) for a in args]
        try:
            result = _run_limited(function, args, kwargs, self.time_limit)
        except _TimeLimit:
            self.fail(
                f"{self.name} did not finish within {self.time_limit:g} s",
                on=on,
                hint="look for a loop that never ends (a `while` whose condition never "
                "changes), or work on whole arrays instead of looping over elements",
            )
        except NotImplementedError as error:
            if stub and not str(error):
                self.fail(
                    f"{self.name} is not implemented yet",
                    hint="replace `raise NotImplementedError()` in its cell with your code, "
                    "run that cell, then run this check again",
                )
            self._raised(error, on)
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - any learner error becomes a message
            self._raised(error, on)
        for i, (arg, old) in enumerate(zip(args, before, strict=True)):
            if old is not None and not _same(arg, old):
                self.fail(
                    f"{self.name} modified its input (argument {i + 1}) in place",
                    on=on,
                    expected=old,
                    got=arg,
                    hint="work on a copy, or use operations that return a new array "
                    "instead of assigning into the input",
                )
        for arg, weights in zip(args, weights_before, strict=True):
            if weights is not None and any(
                not np.array_equal(a, b) for a, b in zip(weights, arg.get_weights(), strict=True)
            ):
                self.fail(
                    f"{self.name} changed the model's weights",
                    on=on,
                    hint="only run the model (or a probe model) on the inputs: no fit(), "
                    "no optimizer step, no set_weights",
                )
        return result

    def _raised(self, error: Exception, on: str) -> NoReturn:
        text = str(error).strip()
        first = text.splitlines()[0].rstrip(".") if text else "(no message)"
        self.fail(
            f"{self.name} raised {type(error).__name__}: {first}{_learner_line(error.__traceback__)}",
            on=on,
            hint="run your function on this input yourself to see the full error",
        )

    # -- common expectations -------------------------------------------------------------
    def expect_array(self, result: Any, on: str) -> np.ndarray:
        """The result must be a NumPy array (or NumPy scalar); returns it as an ndarray."""
        if isinstance(result, np.ndarray | np.generic):
            return np.asarray(result)
        self._wrong_type(
            result,
            on,
            "a NumPy array",
            "build the result with NumPy operations, which return NumPy arrays",
        )

    def expect_float(self, result: Any, on: str, hint: str) -> float:
        """The result must be one real number (a Python or NumPy scalar, or a one-element
        array); returns it as a float. ``hint`` says how to return one."""
        if isinstance(result, np.ndarray) and result.size == 1:
            result = result.reshape(())[()]
        if isinstance(result, bool) or not isinstance(result, numbers.Real):
            self.fail(f"{self.name} returned {describe(result)}, not a float", on=on, hint=hint)
        return float(result)

    def expect_tensor(self, result: Any, on: str) -> Any:
        import tensorflow as tf

        if isinstance(result, tf.Tensor):
            return result
        self._wrong_type(
            result,
            on,
            "a tf.Tensor",
            "use TensorFlow operations throughout: they return tf.Tensors",
        )

    def _wrong_type(self, result: Any, on: str, wanted: str, hint: str) -> NoReturn:
        if result is None:
            self.fail(
                f"{self.name} returned None", on=on, hint="did you forget the `return` statement?"
            )
        self.fail(
            f"{self.name} returned {type(result).__module__}.{type(result).__name__}, not {wanted}",
            on=on,
            got=result,
            hint=hint,
        )

    def expect_like(
        self, got: np.ndarray, expected: np.ndarray, on: str, *, dtype: bool = True
    ) -> None:
        """Same shape, and (optionally) same dtype, as the reference."""
        if got.shape != expected.shape:
            self.fail(
                f"{self.name} returned an array of shape {got.shape}, expected {expected.shape}",
                on=on,
                hint="an elementwise function returns the same shape as its input",
            )
        if dtype and got.dtype != expected.dtype:
            self.fail(
                f"{self.name} returned dtype {got.dtype}, expected {expected.dtype}",
                on=on,
                hint="keep the input's dtype: mixing in Python floats, np.float64 "
                "constants or .astype(float) changes it",
            )

    def expect_close(
        self,
        got: np.ndarray,
        expected: np.ndarray,
        on: str,
        *,
        x: Any = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,
        what: str | None = None,
        hint: str | None = None,
    ) -> None:
        """Values match the reference; the message names the first element that differs."""
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(expected, dtype=np.float64)
        if got.shape != want.shape:
            self.fail(f"{self.name} returned shape {got.shape}, expected {want.shape}", on=on)
        if not np.all(np.isfinite(got) | ~np.isfinite(want)):
            self.fail(
                f"{self.name} returned NaN or infinity where the answer is finite",
                on=on,
                expected=expected,
                got=got,
                hint="look for a division by zero or an overflowing exp",
            )
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
        if not bad.any():
            return
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
        at = ""
        if x is not None:
            xv = np.asarray(x)[index] if np.ndim(x) else np.asarray(x)
            at = f" at x = {np.format_float_positional(float(xv), precision=6)}"
        self.fail(
            what
            or f"{self.name} gives a wrong value{at} (index {index}; {int(bad.sum())} of "
            f"{bad.size} values differ)",
            on=on,
            expected=f"{want[index]:.6g}",
            got=f"{got[index]:.6g}",
            hint=hint,
        )


def _run_limited(function: Callable, args: tuple, kwargs: dict, seconds: float) -> Any:
    """Call ``function`` and interrupt it after ``seconds`` by raising :class:`_TimeLimit`.

    In the main thread (where a Jupyter kernel runs cells) SIGALRM interrupts a looping
    candidate cleanly. A time limit already armed around the check (a grader's per-cell
    ``signal.alarm``) is kept: the shorter of the two fires first, the outer one is handed
    to its own handler, and on return the outer timer is re-armed with what is left of it.
    Elsewhere (no signals there) the call runs in a daemon thread and is abandoned after
    the limit: the check still reports instead of hanging, though the loop keeps a core
    busy until the kernel restarts.
    """
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL)
        outer_first = 0.0 < outer_left < seconds
        fired = {"outer": False}
        started = time.monotonic()

        def on_alarm(signum, frame):
            if outer_first and callable(previous):
                fired["outer"] = True
                signal.signal(signal.SIGALRM, previous)
                return previous(signum, frame)  # the outer deadline: its handler decides
            raise _TimeLimit()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, outer_left if outer_first else seconds)
        try:
            return function(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer_left > 0 and not fired["outer"]:
                left = outer_left - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)

    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True, name="relu-course-candidate")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TimeLimit()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
