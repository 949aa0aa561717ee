"""One record per exercise, declared next to its check, and the probes that re-verify it.

Every checks module (``relu_course/checks/<topic>.py``) ends with::

    EXERCISES = [
        Exercise("relu_np", notebook="01_relu", points=2, probes=probes_relu_np),
        ...
    ]

and :func:`relu_course.checks.registry` collects them (no other list to edit). The record
says which notebook grades the exercise, for how many points, and how the grader re-verifies
it outside the learner's kernel: ``probes(rng)`` returns :class:`Probe` objects, which are
*data* — the arguments to pass (arrays, tensors, scalars, a Keras model built from a
:class:`ModelSpec`), a named **mode** saying what to do with the learner's object, and the
expected result — never code strings. The clean process (``relu_course.grading``) calls
the learner's object as the mode says and saves the raw results as plain arrays; the
grader compares them with ``expected`` (or ``judge``) in its own process, where no learner
code runs.

Modes:

* ``"return"``: ``f(*args, **kwargs)`` → the result (optionally through ``tf.function``
  when ``wrap="tf.function"``);
* ``"input_after"``: calls ``f(*args, **kwargs)`` and returns ``args[input_index]`` after
  the call (it must be unchanged);
* ``"call_result"``: ``f(*args, **kwargs)(*call_args)`` — a model factory called on an
  input (``hat_network()(x)``), an initializer class called on a shape
  (``HeNormalInit(seed=3)((64, 32))``), a layer class called on a batch;
* ``"layers_output"``: ``f(*args, **kwargs)`` returns Keras layers; they are stacked after
  an ``Input`` of ``layer_input``'s feature size, given ``weights`` (``set_weights`` order),
  and run on ``layer_input`` with ``training``;
* ``"callback_epochs"``: ``f(*args, **kwargs)`` returns a Keras callback; it is attached
  to the model built from ``model`` and ``on_epoch_end(i)`` is called after setting each
  entry of ``epoch_weights``; the result is the callback's ``history`` attribute.

Results are normalised to nested dicts/sequences of NumPy arrays; dict keys become strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Arg", "Exercise", "ModelSpec", "Probe", "compare_structures", "MODES", "ARG_KINDS"]

MODES = ("return", "input_after", "call_result", "layers_output", "callback_epochs")
ARG_KINDS = ("array", "tensor", "scalar", "shape", "model", "function", "tuple")
# Functions a probe may pass to the learner's code (``Arg("module:name", "function")``): only
# the grader's own modules, imported by the verifier *before* any learner code runs.
FUNCTION_MODULES = ("relu_course.checks._probe_functions",)


@dataclass(frozen=True)
class ModelSpec:
    """A small Keras MLP the verifier builds: ``Input(input_dim)`` then ``Dense(units,
    activation)`` per entry of ``layers``, with ``weights`` in ``model.set_weights`` order
    (kernel, bias per layer); layer names ``names`` (default ``dense_0``, ``dense_1``, ...)."""

    input_dim: int
    layers: tuple[tuple[int, str], ...]
    weights: tuple[np.ndarray, ...]
    names: tuple[str, ...] | None = None

    def layer_names(self) -> tuple[str, ...]:
        return self.names or tuple(f"dense_{i}" for i in range(len(self.layers)))

    def build(self):
        """The Keras model (the grader's references use the same builder)."""
        import keras

        inputs = keras.Input(shape=(self.input_dim,))
        h = inputs
        for (units, activation), name in zip(self.layers, self.layer_names(), strict=True):
            h = keras.layers.Dense(units, activation=activation, name=name)(h)
        model = keras.Model(inputs, h)
        model.set_weights([np.asarray(w, np.float32) for w in self.weights])
        return model


@dataclass(frozen=True)
class Arg:
    """One argument for the learner's callable: ``kind`` says how the verifier passes
    ``value``: ``"array"`` a fresh NumPy copy, ``"tensor"`` ``tf.constant``, ``"scalar"`` a
    Python number/str/bool/None, ``"shape"`` a tuple of ints, ``"model"`` a Keras model built
    from a :class:`ModelSpec`, ``"function"`` a function of the grader's own modules named
    ``"module:name"`` (see :data:`FUNCTION_MODULES`), ``"tuple"`` a tuple of such arguments
    (e.g. a cache ``(x, W, b, z)``). Scalars may be any JSON value (a list of record dicts)."""

    value: Any
    kind: str = "array"

    def __post_init__(self):
        if self.kind not in ARG_KINDS:
            raise ValueError(f"unknown argument kind {self.kind!r}")
        if self.kind == "model" and not isinstance(self.value, ModelSpec):
            raise TypeError("a 'model' argument needs a ModelSpec")
        if self.kind == "function":
            module, _, name = str(self.value).partition(":")
            if module not in FUNCTION_MODULES or not name.isidentifier():
                raise ValueError(f"function arguments come from {FUNCTION_MODULES}: {self.value!r}")
        if self.kind == "tuple":
            object.__setattr__(self, "value", tuple(_as_arg(v) for v in self.value))


def _as_arg(value) -> Arg:
    if isinstance(value, Arg):
        return value
    if isinstance(value, ModelSpec):
        return Arg(value, "model")
    if isinstance(value, np.ndarray):
        return Arg(value, "array")
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return Arg(value, "shape")
    if isinstance(value, tuple):
        return Arg(value, "tuple")
    return Arg(value, "scalar")


@dataclass
class Probe:
    """One call of the learner's object on grader-chosen inputs, and what must come back.

    Plain NumPy arrays, numbers and :class:`ModelSpec` may be given for ``args``/``kwargs``
    (arrays as ``"array"``, tuples of ints as ``"shape"``, numbers as ``"scalar"``); wrap in
    :class:`Arg` for ``"tensor"``. ``expected`` is an array, a number, or a dict/tuple/list
    of them (the learner's result is normalised the same way: a sequence of plain numbers
    becomes one 1-D array, a sequence holding arrays stays a list); comparison: same structure, shapes, dtypes (``same_dtype``) and values within
    ``atol``/``rtol``. ``judge(result) -> str | None`` replaces that comparison for
    statistical properties (runs in the grader's process on the plain result).
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    mode: str = "return"
    expected: Any = None
    judge: Callable[[Any], str | None] | None = None
    atol: float = 0.0
    rtol: float = 0.0
    same_dtype: bool = True
    wrap: str | None = None
    call_args: tuple = ()
    input_index: int = 0
    layer_input: np.ndarray | None = None
    weights: tuple[np.ndarray, ...] | None = None
    training: bool = False
    model: ModelSpec | None = None
    epoch_weights: tuple[tuple[np.ndarray, ...], ...] = ()
    about: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown probe mode {self.mode!r}; one of {MODES}")
        if self.wrap not in (None, "tf.function"):
            raise ValueError(f"unknown wrap {self.wrap!r}")
        self.args = tuple(_as_arg(a) for a in self.args)
        self.kwargs = {str(k): _as_arg(v) for k, v in self.kwargs.items()}
        self.call_args = tuple(_as_arg(a) for a in self.call_args)
        if self.expected is None and self.judge is None:
            raise ValueError("a probe needs `expected` or `judge`")
        if self.mode == "layers_output" and self.layer_input is None:
            raise ValueError("mode 'layers_output' needs layer_input")
        if self.mode == "callback_epochs" and (self.model is None or not self.epoch_weights):
            raise ValueError("mode 'callback_epochs' needs model and epoch_weights")
        if self.mode == "input_after" and not 0 <= self.input_index < len(self.args):
            raise ValueError("input_index must name one of args")


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: its name (the answer cell's grade id; the test cell is
    ``test_<name>``), the notebook (nbgrader assignment) that grades it, its points, and
    ``probes(rng) -> list[Probe]`` for the grader's re-verification (``None`` only while an
    exercise still lacks probes: the grader then re-runs its source tests, a weaker check)."""

    name: str
    notebook: str
    points: float
    probes: Callable[[np.random.Generator], list[Probe]] | None
    module: str = ""  # filled in by the registry: the checks module that declares it

    @property
    def test_id(self) -> str:
        return f"test_{self.name}"

    @property
    def check_name(self) -> str:
        return f"check_{self.name}"


def _leaf_problem(expected, got, atol: float, rtol: float, same_dtype: bool) -> str | None:
    expected = np.asarray(expected)
    if not isinstance(got, np.ndarray):
        return f"returned a {type(got).__name__} where an array or number was expected"
    if got.shape != expected.shape:
        return f"wrong shape {got.shape} (expected {expected.shape})"
    if expected.dtype.kind in "US":
        same = got.dtype.kind in "US" and np.array_equal(got.astype(str), expected.astype(str))
        return None if same else "wrong labels"
    if same_dtype and got.dtype != expected.dtype:
        return f"wrong dtype {got.dtype} (expected {expected.dtype})"
    if expected.dtype == np.bool_:
        if got.dtype != np.bool_ and not np.issubdtype(got.dtype, np.integer):
            return f"non-boolean result ({got.dtype})"
        return None if np.array_equal(got.astype(bool), expected) else "wrong values"
    if not (np.issubdtype(got.dtype, np.number) or got.dtype == np.bool_):
        return f"non-numeric result ({got.dtype})"
    g, e = got.astype(np.float64), expected.astype(np.float64)
    if not np.allclose(g, e, atol=atol, rtol=rtol, equal_nan=False):
        return "wrong values"
    return None


def _is_frame(value) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def frame_to_plain(frame) -> dict:
    """A pandas DataFrame as the plain result the verifier writes: ``{"__index__": labels,
    "__columns__": names, <column>: values...}``."""
    plain = {
        "__index__": np.asarray([str(i) for i in frame.index]),
        "__columns__": np.asarray([str(c) for c in frame.columns]),
    }
    for column in frame.columns:
        plain[str(column)] = np.asarray(frame[column].to_numpy())
    return plain


def compare_structures(
    expected, got, *, atol: float = 0.0, rtol: float = 0.0, same_dtype: bool = True
) -> str | None:
    """``None`` when ``got`` (a plain result: arrays in dicts/lists) matches ``expected``;
    else a short reason (it names no expected value)."""
    if _is_frame(expected):
        expected = frame_to_plain(expected)
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"returned a {type(got).__name__} where a dict was expected"
        want = {str(k) for k in expected}
        if set(got) != want:
            return f"wrong keys {sorted(got)} (expected {sorted(want)})"
        for key, value in expected.items():
            problem = compare_structures(
                value, got[str(key)], atol=atol, rtol=rtol, same_dtype=same_dtype
            )
            if problem:
                return f"[{key!r}]: {problem}"
        return None
    if isinstance(expected, tuple | list):
        if not isinstance(got, list):
            return f"returned a single value where {len(expected)} values were expected"
        if len(got) != len(expected):
            return f"returned {len(got)} values (expected {len(expected)})"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = compare_structures(e, g, atol=atol, rtol=rtol, same_dtype=same_dtype)
            if problem:
                return f"[{i}]: {problem}"
        return None
    return _leaf_problem(expected, got, atol, rtol, same_dtype)
