"""Checks for notebook 03 (sparsity): activation_sparsity, relu_activations, hoyer_sparsity,
skippable_macs."""

from __future__ import annotations

import contextlib
import numbers
import warnings

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Exercise, ModelSpec, Probe

__all__ = [
    "check_activation_sparsity",
    "check_hoyer_sparsity",
    "check_relu_activations",
    "check_skippable_macs",
]


def _expect_number(check: Check, got, on: str, what: str = "a Python float") -> float:
    """A real number (Python or NumPy scalar, not a tensor, array or bool); returns a float."""
    if got is None:
        check.fail(f"{check.name} returned None", on=on, hint="did you forget `return`?")
    if isinstance(got, bool | np.bool_):
        check.fail(f"{check.name} returned a boolean", on=on, got=got, hint=f"return {what}")
    if isinstance(got, numbers.Real):
        return float(got)
    if isinstance(got, np.ndarray) and got.shape == ():
        return float(got)
    check.fail(
        f"{check.name} returned {type(got).__module__}.{type(got).__name__}, not a number",
        on=on,
        got=got,
        hint="convert a one-number result with float(...)",
    )


@contextlib.contextmanager
def _quiet_keras():
    """Keras warns (UserWarning, on stderr) when a probe model built from ``model.inputs``
    gets a bare tensor; harmless here, and a test cell must not write to stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# ---------------------------------------------------------------- activation_sparsity
def _activation_arrays(rng: np.random.Generator):
    """ReLU-like arrays with exact zeros, tiny positives, and (some) negatives, several shapes."""
    import tensorflow as tf

    shapes = [
        (int(rng.integers(50, 200)),),
        (int(rng.integers(5, 30)), int(rng.integers(5, 30))),
        (3, int(rng.integers(2, 6)), int(rng.integers(2, 6))),
    ]
    for i, shape in enumerate(shapes):
        a = np.maximum(rng.normal(size=shape), 0)
        n = a.size
        tiny = rng.choice(n, size=max(2, n // 8), replace=False)
        a.ravel()[tiny] = rng.choice([1e-7, 1e-12, 1e-30, 5e-4], size=tiny.size)
        if i != 1:  # leaky-style negatives too: they are not zeros
            neg = rng.choice(n, size=max(2, n // 6), replace=False)
            a.ravel()[neg] = -rng.uniform(1e-3, 1.0, size=neg.size)
        a.ravel()[0] = 0.0
        dtype = ("float32", "float64", "float32")[i]
        yield a.astype(dtype), f"a NumPy array {describe(a.astype(dtype))}"
    t = tf.nn.relu(tf.constant(rng.normal(size=(8, 16)).astype(np.float32)))
    yield t, f"a tf.Tensor of shape {tuple(t.shape)} (a ReLU output)"
    yield np.zeros((4, 5), np.float32), "an all-zero array of shape (4, 5)"
    yield np.ones((6,), np.float64) * 0.25, "a constant array of 0.25s, shape (6,)"


def _sparsity_hints(values: np.ndarray, expected: float, got: float) -> list[str]:
    """Every misconception that explains ``got``; the generic advice when none does."""
    hints = []
    if np.isclose(got, 100 * expected) and expected > 0:
        hints.append("this is a percentage; return a fraction between 0 and 1")
    if np.isclose(got, 1 - expected):
        hints.append("this is the fraction of non-zeros")
    if np.isclose(got, float(np.mean(values <= 0))):
        hints.append("negative values were counted too: count only entries that are exactly 0")
    if any(
        np.isclose(got, float(np.mean(np.abs(values) < eps)))
        or np.isclose(got, float(np.mean(np.isclose(values, 0, atol=eps))))
        for eps in (1e-3, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12)
    ):
        hints.append(
            "tiny non-zero values (1e-7, 1e-30) were counted as zeros: a skipped "
            "multiplication needs an exact 0"
        )
    if np.isclose(got, float(np.sum(values == 0))) and values.size > 1:
        hints.append("this is the number of zeros; divide it by the number of entries (a.size)")
    return hints or ["divide the number of exact zeros by the total number of entries (a.size)"]


def _distinct_texts(expected: float, got: float) -> tuple[str, str]:
    """The two numbers printed with just enough digits to differ (≥ 6 significant)."""
    for digits in range(6, 18):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            return a, b
    return repr(expected), repr(got)


def _fraction_text(value: float, size: int, other: float) -> str:
    exp_text, _ = _distinct_texts(value, other)
    count = value * size
    if abs(count - round(count)) < 1e-6 * max(1.0, abs(count)):
        return f"{exp_text} ({round(count)} of {size} entries)"
    return exp_text


def check_activation_sparsity(activation_sparsity) -> None:
    """The fraction (0–1) of entries that are exactly 0, for arrays and tensors of any shape.

    A result is accepted when it lies within half a count of the exact fraction (less than
    0.5 / a.size away): every answer that counts a different number of zeros is off by at
    least 1 / a.size, while a correct float32 computation (a float32 mean, a float32
    division) is off by rounding only.
    """
    check = Check("activation_sparsity", activation_sparsity)
    ambiguous = None  # a failure whose misconception two diagnoses explain equally well
    for _ in check.devices():
        for a, on in _activation_arrays(check.rng):
            values = np.asarray(a)
            zeros = int(np.count_nonzero(values == 0))
            expected = zeros / values.size
            got = _expect_number(check, check.call(a, on=on), on)
            if np.isfinite(got) and abs(got - expected) < 0.5 / values.size:
                continue
            hints = _sparsity_hints(values, expected, got)
            _, got_text = _distinct_texts(expected, got)
            failure = {
                "on": on,
                "expected": _fraction_text(expected, values.size, got),
                "got": got_text,
                "hint": " — or — ".join(hints),
            }
            if len(hints) == 1:
                check.fail("activation_sparsity gives a wrong fraction", **failure)
            ambiguous = ambiguous or failure  # look for an input that tells them apart
    if ambiguous:
        check.fail("activation_sparsity gives a wrong fraction", **ambiguous)
    check.passed("arrays and tensors, negatives and tiny values are not zeros")


# ---------------------------------------------------------------- relu_activations
def _probe_models(rng: np.random.Generator):
    """Random Keras models mixing Dense(relu), Dense + ReLU layer, Activation('relu') with
    layers that are not ReLUs (tanh, LeakyReLU, linear Dense, Dropout)."""
    import keras
    from keras import layers

    dim = int(rng.integers(3, 9))

    def w():
        return int(rng.integers(4, 12))

    def init():
        return keras.initializers.GlorotUniform(seed=int(rng.integers(2**31)))

    sequential = keras.Sequential(
        [
            keras.Input((dim,)),
            layers.Dense(w(), activation="relu", kernel_initializer=init(), name="hidden_a"),
            layers.Dense(w(), activation="tanh", kernel_initializer=init(), name="squash"),
            layers.Dense(w(), kernel_initializer=init(), name="pre"),
            layers.ReLU(name="relu_layer"),
            layers.Dropout(0.3, name="drop"),
            layers.Dense(w(), kernel_initializer=init(), name="pre_leaky"),
            layers.LeakyReLU(negative_slope=0.1, name="leaky"),
            layers.Dense(
                w(), kernel_initializer=init(), bias_initializer="random_normal", name="pre_act"
            ),
            layers.Activation("relu", name="act_relu"),
            layers.Dense(3, kernel_initializer=init(), name="out"),
        ]
    )
    yield (
        sequential,
        dim,
        (
            "a Sequential model: Dense(relu) → Dense(tanh) → Dense → ReLU() → "
            "Dropout → Dense → LeakyReLU → Dense → Activation('relu') → Dense"
        ),
    )
    inputs = keras.Input((dim,))
    h = layers.Dense(w(), kernel_initializer=init(), name="f_dense")(inputs)
    h = layers.ReLU(name="f_relu")(h)
    h = layers.Dense(w(), activation="sigmoid", kernel_initializer=init(), name="f_sigmoid")(h)
    h = layers.Dense(
        w(),
        activation="relu",
        kernel_initializer=init(),
        bias_initializer="random_normal",
        name="f_dense_relu",
    )(h)
    outputs = layers.Dense(2, kernel_initializer=init(), name="f_out")(h)
    yield (
        keras.Model(inputs, outputs),
        dim,
        ("a functional model: Dense → ReLU() → Dense(sigmoid) → Dense(relu) → Dense"),
    )
    from relu_course.models import build_mlp

    depth = int(rng.integers(1, 4))
    yield (
        build_mlp(depth, w(), "relu", input_dim=dim, num_classes=3, kernel_initializer=init),
        dim,
        f"build_mlp({depth}, …, 'relu'): Dense → ReLU() blocks",
    )


def check_relu_activations(relu_activations) -> None:
    """{layer name: ReLU output on x} for every plain ReLU of the model, in model order."""
    from relu_course.probes import relu_outputs

    check = Check("relu_activations", relu_activations)
    for _ in check.devices():
        for model, dim, about in _probe_models(check.rng):
            x = check.rng.normal(size=(int(check.rng.integers(5, 30)), dim)).astype(np.float32)
            on = f"{about}; x of shape {x.shape}"
            with _quiet_keras():
                expected = relu_outputs(model, x)
                got = check.call(model, x, on=on)
            _check_activation_keys(check, model, got, list(expected), on)
            _check_activation_values(check, model, got, expected, on)
    check.passed(
        "Sequential and functional models; Dense(relu), ReLU() and "
        "Activation('relu') found, LeakyReLU/tanh/linear left out, in model order"
    )


def _check_activation_keys(check: Check, model, got, names: list[str], on: str) -> None:
    """A dict keyed by layer name: every plain ReLU layer, nothing else, in model order."""
    if not isinstance(got, dict):
        check.fail(
            f"relu_activations returned {describe(got)}, not a dict",
            on=on,
            hint="return a dict from each ReLU layer's name to its output on x",
        )
    if not all(isinstance(key, str) for key in got):
        check.fail(
            "relu_activations must key its dict by layer name",
            on=on,
            expected=str(names),
            got=str(list(got)),
            hint="use layer.name as the key",
        )
    if list(got) == names:
        return
    all_names = [layer.name for layer in model.layers]
    extra = [k for k in got if k not in names]
    missing = [k for k in names if k not in got]
    if extra and all(k in all_names for k in extra):
        hint = (
            f"{extra} are not plain ReLUs: the docstring lists what counts as a ReLU "
            "(LeakyReLU, tanh and linear layers do not)"
        )
    elif missing and any(hasattr(model.get_layer(k), "units") for k in missing):
        hint = (
            f"{missing} are missing: a Dense(..., activation='relu') layer is a "
            "ReLU too (its activation attribute is keras.activations.relu)"
        )
    elif missing:
        hint = f"{missing} are missing: include every plain ReLU layer"
    elif sorted(got) == sorted(names):
        hint = "the keys are out of order: follow model.layers (input side first)"
    else:
        hint = "key the dict by layer.name"
    check.fail(
        "relu_activations returned the wrong layers",
        on=on,
        expected=str(names),
        got=str(list(got)),
        hint=hint,
    )


def _check_activation_values(check: Check, model, got: dict, expected: dict, on: str) -> None:
    """Each value is a NumPy array: the layer's whole output on x, in inference mode."""
    from relu_course.probes import relu_layers

    for layer in relu_layers(model):
        value = got[layer.name]
        if not isinstance(value, np.ndarray):
            check.fail(
                f"the value for {layer.name!r} is {type(value).__module__}."
                f"{type(value).__name__}, not a NumPy array",
                on=on,
                hint="convert each output with np.asarray(...) or .numpy()",
            )
        want = expected[layer.name]
        if value.shape != want.shape:
            check.fail(
                f"the output of {layer.name!r} has shape {value.shape}, expected {want.shape}",
                on=on,
                hint="return the layer's whole output on the batch x",
            )
        if not np.allclose(value, want, rtol=1e-5, atol=1e-6):
            hint = (
                "these values include negatives: they are the pre-activations (the "
                "input of the ReLU); return the ReLU's output"
                if (value < 0).any()
                else "run the model's own layers on x in inference mode (section 3 shows how "
                "a probe model reads the outputs of inner layers)"
            )
            check.fail(
                f"the output of {layer.name!r} is wrong",
                on=on,
                expected=want,
                got=value,
                hint=hint,
            )


# ---------------------------------------------------------------- hoyer_sparsity
def _hoyer(v: np.ndarray) -> float:
    from relu_course.probes import hoyer

    return hoyer(v)


def check_hoyer_sparsity(hoyer_sparsity) -> None:
    """(√n − ‖v‖₁/‖v‖₂)/(√n − 1): 0 for constant vectors, 1 for one-hot, vs a reference."""
    check = Check("hoyer_sparsity", hoyer_sparsity)
    rng = check.rng
    n = int(rng.integers(5, 200))
    one_hot = np.zeros(n)
    one_hot[rng.integers(n)] = rng.uniform(0.5, 3)
    relu_like = np.maximum(rng.normal(size=int(rng.integers(20, 300))), 0)
    relu_like[0] = 1.0
    cases = [
        (np.full(n, rng.uniform(0.1, 5.0)), "a constant vector"),
        (one_hot, "a one-hot vector"),
        (-one_hot, "a negative one-hot vector"),
        (relu_like.astype(np.float32), "a ReLU output (half zeros), float32"),
        (rng.normal(size=int(rng.integers(20, 300))), "a Gaussian vector (negatives included)"),
        (np.exp(rng.normal(scale=3, size=int(rng.integers(20, 100)))), "a heavy-tailed vector"),
        (np.array([rng.uniform(1, 2), 0.0]), "a 2-entry vector [a, 0]"),
    ]
    for _ in check.devices():
        for v, about in cases:
            on = f"{about}: {describe(v)}"
            expected = _hoyer(v)
            got = _expect_number(check, check.call(v, on=on), on)
            if np.isclose(got, expected, rtol=1e-5, atol=1e-6):
                continue
            vv = np.asarray(v, dtype=np.float64)
            root = np.sqrt(vv.size)
            ratio = np.abs(vv).sum() / np.linalg.norm(vv)
            if np.isclose(got, root - ratio, rtol=1e-5, atol=1e-6):
                hint = "divide by (√n − 1) so that the result runs from 0 to 1"
            elif np.isclose(got, 1 - expected, rtol=1e-5, atol=1e-6):
                hint = "this is 1 − Hoyer: a one-hot vector must give 1, a constant vector 0"
            elif (vv < 0).any():
                hint = "use absolute values in the L1 norm: ‖v‖₁ = Σ|vᵢ|"
            else:
                hint = (
                    "compare with the docstring's formula term by term: √n, the ratio of the "
                    "L1 norm (sum of absolute values) to the L2 norm, and the division by "
                    "(√n − 1)"
                )
            check.fail(
                "hoyer_sparsity gives a wrong value",
                on=on,
                expected=f"{expected:.6g}",
                got=f"{got:.6g}",
                hint=hint,
            )
    check.passed("0 for constant, 1 for one-hot, matches the formula on random vectors")


# ---------------------------------------------------------------- skippable_macs
def _mac_models(rng: np.random.Generator):
    import keras
    from keras import layers

    def w():
        return int(rng.integers(3, 15))

    def init():
        return keras.initializers.GlorotUniform(seed=int(rng.integers(2**31)))

    dim = int(rng.integers(4, 12))
    yield (
        keras.Sequential(
            [
                keras.Input((dim,)),
                layers.Dense(w(), activation="relu", kernel_initializer=init()),
                layers.Dense(w(), activation="relu", kernel_initializer=init()),
                layers.Dense(int(rng.integers(2, 5)), kernel_initializer=init()),
            ]
        ),
        dim,
        "a Sequential Dense(relu) → Dense(relu) → Dense model",
    )
    dim = int(rng.integers(4, 12))
    inputs = keras.Input((dim,))
    h = layers.Dense(w(), kernel_initializer=init(), bias_initializer="random_normal")(inputs)
    h = layers.ReLU()(h)
    h = layers.Dense(w(), activation="tanh", kernel_initializer=init())(h)
    h = layers.Dense(w(), kernel_initializer=init())(h)
    h = layers.ReLU()(h)
    outputs = layers.Dense(3, kernel_initializer=init())(h)
    yield (
        keras.Model(inputs, outputs),
        dim,
        ("a functional Dense → ReLU() → Dense(tanh) → Dense → ReLU() → Dense model"),
    )


def check_skippable_macs(skippable_macs) -> None:
    """(total, skippable) MACs of all Dense layers on x; skippable = multiplied input exactly 0."""
    from relu_course.sparsity import dense_layer_inputs
    from relu_course.sparsity import skippable_macs as reference

    check = Check("skippable_macs", skippable_macs)
    for _ in check.devices():
        for model, dim, about in _mac_models(check.rng):
            batch = int(check.rng.integers(3, 30))
            x = check.rng.normal(size=(batch, dim)).astype(np.float32)
            x[check.rng.random(x.shape) < 0.3] = 0.0  # the model input has zeros too
            on = f"{about}; x of shape {x.shape} with {int((x == 0).sum())} zeros"
            with _quiet_keras():
                total, skippable = reference(model, x)
                got = check.call(model, x, on=on)
            if not isinstance(got, tuple) or len(got) != 2:
                check.fail(
                    f"skippable_macs returned {describe(got)}, not a (total, skippable) tuple",
                    on=on,
                    hint="return the pair (total, skippable) that the docstring names",
                )
            values = []
            for label, value in zip(("total", "skippable"), got, strict=True):
                if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                    check.fail(
                        f"the {label} count is {describe(value)}, not an integer",
                        on=on,
                        hint="counts are whole numbers: convert with int(...)",
                    )
                values.append(int(value))
            got_total, got_skippable = values
            layers_and_inputs = dense_layer_inputs(model, x)
            no_input = sum(int((a == 0).sum()) * layer.units for layer, a in layers_and_inputs[1:])
            no_width = sum(int((a == 0).sum()) for _, a in layers_and_inputs)
            weight_zeros = sum(
                int((layer.kernel.numpy() == 0).sum()) * len(a) for layer, a in layers_and_inputs
            )
            if got_total != total:
                no_batch = sum(a.shape[-1] * layer.units for layer, a in layers_and_inputs)
                hint = (
                    "the total ignores the batch: every example costs fan_in × units MACs "
                    "per Dense layer"
                    if got_total == no_batch
                    else "total = Σ over Dense layers of batch × fan_in × units"
                )
                check.fail(
                    "skippable_macs gives a wrong total",
                    on=on,
                    expected=str(total),
                    got=str(got_total),
                    hint=hint,
                )
            if got_skippable != skippable:
                if got_skippable == no_input:
                    hint = (
                        "the zeros of the model input were not counted: the first Dense "
                        "layer skips a MAC for every zero in x too"
                    )
                elif got_skippable == no_width:
                    hint = (
                        "each zero input value saves `units` MACs (it multiplies one weight "
                        "per output unit): multiply the zero count by layer.units"
                    )
                elif got_skippable == weight_zeros:
                    hint = (
                        "zero weights were counted; a MAC is skippable when the input it "
                        "multiplies is 0 (a ReLU zero or a zero in x)"
                    )
                else:
                    hint = (
                        "for each Dense layer: (number of exact zeros in its input on the "
                        "batch) × layer.units"
                    )
                check.fail(
                    "skippable_macs gives a wrong skippable count",
                    on=on,
                    expected=str(skippable),
                    got=str(got_skippable),
                    hint=hint,
                )
    check.passed("Sequential and functional models, zeros in x and in ReLU outputs")


# ------------------------------------------------------------------ grading probes
def _relu_like_activations(rng: np.random.Generator) -> np.ndarray:
    a = np.maximum(rng.normal(size=(12, 6)), 0.0)
    a[:, 2] = 0.0  # a dead unit
    return a


def probes_activation_sparsity(rng: np.random.Generator) -> list[Probe]:
    a = _relu_like_activations(rng)
    a[0, 0] = -1e-3  # negative values are not zeros
    return [
        Probe(args=(a,), expected=np.asarray(np.mean(a == 0)), atol=1e-6, same_dtype=False),
        Probe(args=(a,), mode="input_after", expected=a.copy()),
    ]


def probes_hoyer_sparsity(rng: np.random.Generator) -> list[Probe]:
    from relu_course.probes import hoyer

    v = np.abs(rng.normal(size=(int(rng.integers(5, 30)),)))
    one_hot = np.eye(8)[int(rng.integers(0, 8))]
    return [
        Probe(args=(x,), expected=np.asarray(hoyer(x)), atol=1e-6, same_dtype=False)
        for x in (v, one_hot)
    ] + [Probe(args=(v,), mode="input_after", expected=v.copy())]


def _grader_model(rng: np.random.Generator, layers) -> ModelSpec:
    """A ModelSpec chain with random weights and biases (biases spread so that some ReLU
    outputs are exactly 0 and some are not), named ``layer_0``…"""
    dim = int(rng.integers(3, 9))
    sizes = [dim] + [units for units, _ in layers]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(rng.normal(scale=np.sqrt(2 / fan_in), size=(fan_in, fan_out)))
        weights.append(rng.normal(scale=0.3, size=fan_out))
    return ModelSpec(
        dim,
        tuple(layers),
        tuple(np.asarray(w, np.float32) for w in weights),
        names=tuple(f"layer_{i}" for i in range(len(layers))),
    )


def probes_relu_activations(rng: np.random.Generator) -> list[Probe]:
    from relu_course.probes import relu_outputs

    probes = []
    for layers in (
        ((9, "relu"), (7, "tanh"), (8, "relu"), (3, "linear")),
        ((6, "sigmoid"), (5, "relu"), (4, "elu"), (2, "linear")),
        ((5, "tanh"), (2, "linear")),  # no ReLU at all: an empty dict
    ):
        spec = _grader_model(rng, layers)
        x = rng.normal(size=(int(rng.integers(5, 20)), spec.input_dim)).astype(np.float32)
        with _quiet_keras():
            expected = relu_outputs(spec.build(), x)
        probes.append(
            Probe(
                args=(spec, x),
                expected=expected,
                rtol=1e-5,
                atol=1e-6,
                same_dtype=False,
                about=f"{len(expected)} ReLU layers among {len(layers)} Dense layers",
            )
        )
    return probes


def probes_skippable_macs(rng: np.random.Generator) -> list[Probe]:
    from relu_course.sparsity import skippable_macs

    probes = []
    for layers in (
        ((9, "relu"), (7, "relu"), (3, "linear")),
        ((6, "tanh"), (5, "relu"), (2, "linear")),
    ):
        spec = _grader_model(rng, layers)
        x = rng.normal(size=(int(rng.integers(3, 15)), spec.input_dim)).astype(np.float32)
        x[rng.random(x.shape) < 0.3] = 0.0  # zeros of the model input count too
        with _quiet_keras():
            expected = np.asarray(skippable_macs(spec.build(), x), dtype=np.int64)
        probes.append(
            Probe(
                args=(spec, x),
                expected=expected,
                same_dtype=False,
                about=f"(total, skippable) on a batch of {len(x)} with zeros in x",
            )
        )
    return probes


EXERCISES = [
    Exercise(
        "activation_sparsity", notebook="03_sparsity", points=2, probes=probes_activation_sparsity
    ),
    Exercise("relu_activations", notebook="03_sparsity", points=3, probes=probes_relu_activations),
    Exercise("hoyer_sparsity", notebook="03_sparsity", points=2, probes=probes_hoyer_sparsity),
    Exercise("skippable_macs", notebook="03_sparsity", points=3, probes=probes_skippable_macs),
]
