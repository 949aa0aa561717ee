"""Checks for notebook 02 (vanishing gradients): sigmoid_grad, tanh_grad, layer_gradient_norms."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Exercise, Probe

__all__ = ["check_layer_gradient_norms", "check_sigmoid_grad", "check_tanh_grad"]


@contextlib.contextmanager
def _quiet_numpy():
    """A naive exp overflows to inf for large |x| and still gives the right limit (0): the
    learner is judged on values, so the RuntimeWarning must not reach the test cell's stderr."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _float_inputs(rng: np.random.Generator):
    """Random float32/float64 arrays of several shapes, saturating values and 0 included."""
    shapes = [
        (int(rng.integers(20, 60)),),
        (int(rng.integers(2, 6)), int(rng.integers(2, 6))),
        (2, 3, int(rng.integers(2, 5))),
    ]
    for i, dtype in enumerate(("float32", "float64", "float64")):
        x = rng.normal(scale=4.0, size=shapes[i])
        x.ravel()[0] = 0.0
        if x.size > 3:
            x.ravel()[1] = rng.uniform(15, 35)
            x.ravel()[2] = -rng.uniform(15, 35)
        yield x.astype(dtype)
    yield np.array(rng.normal(), dtype=np.float32)  # 0-d


def _tape_grad(fn, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        y = fn(tensor)
    return tape.gradient(y, tensor).numpy()


def _check_derivative(check: Check, tf_fn, hints) -> None:
    for _ in check.devices():
        for x in _float_inputs(check.rng):
            on = f"x = {describe(x)}"
            expected = _tape_grad(tf_fn, x)
            with _quiet_numpy():
                got = check.expect_array(check.call(x, on=on), on)
            if got.dtype == bool:
                check.fail(
                    f"{check.name} returned booleans",
                    on=on,
                    hint="a derivative is a number, not a mask",
                )
            check.expect_like(got, expected, on)
            tol = 1e-5 if x.dtype == np.float32 else 1e-10
            hint = None
            xs = x.astype(np.float64)
            gs = np.asarray(got, dtype=np.float64)
            for reference, text in hints:
                if gs.size and np.allclose(gs, reference(xs), rtol=1e-4, atol=1e-6):
                    hint = text
                    break
            check.expect_close(got, expected, on, x=x, rtol=tol, atol=tol, hint=hint)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def check_sigmoid_grad(sigmoid_grad) -> None:
    """σ'(x) = σ(x)(1 − σ(x)) elementwise, compared with tf.GradientTape of tf.sigmoid."""
    import tensorflow as tf

    check = Check("sigmoid_grad", sigmoid_grad)
    hints = [
        (_sigmoid, "this is σ(x) itself; its derivative is σ(x)·(1 − σ(x))"),
        (
            lambda x: 1 - _sigmoid(x),
            "this is 1 − σ(x); multiply it by σ(x): σ'(x) = σ(x)·(1 − σ(x))",
        ),
        (lambda x: 1 - np.tanh(x) ** 2, "this is the derivative of tanh, not of the sigmoid"),
        (
            lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2 * 4,
            "the values are 4 times too large: σ'(0) = 1/4",
        ),
    ]
    _check_derivative(check, tf.sigmoid, hints)
    check.passed("agrees with tf.GradientTape on float32/64, saturated inputs included")


def check_tanh_grad(tanh_grad) -> None:
    """tanh'(x) = 1 − tanh(x)² elementwise, compared with tf.GradientTape of tf.tanh."""
    import tensorflow as tf

    check = Check("tanh_grad", tanh_grad)
    hints = [
        (np.tanh, "this is tanh(x) itself; its derivative is 1 − tanh(x)²"),
        (
            lambda x: 1 - np.tanh(x),
            "this is 1 − tanh(x); the derivative squares tanh: 1 − tanh(x)²",
        ),
        (lambda x: 1 - np.abs(np.tanh(x)), "this is 1 − |tanh(x)|; the derivative is 1 − tanh(x)²"),
        (
            lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
            "this is the derivative of the sigmoid, not of tanh",
        ),
    ]
    _check_derivative(check, tf.tanh, hints)
    check.passed("agrees with tf.GradientTape on float32/64, saturated inputs included")


# ---------------------------------------------------------------- layer_gradient_norms
def _random_models(rng: np.random.Generator):
    """Small random Keras classifiers with their inputs: varying depth, width and activation,
    Sequential and functional, one with a LayerNormalization (weights that are no kernel)."""
    import keras

    from relu_course.models import build_mlp

    def init():
        return keras.initializers.GlorotUniform(seed=int(rng.integers(2**31)))

    models = []
    for activation in ("relu", "tanh"):
        depth = int(rng.integers(2, 5))
        width = int(rng.integers(5, 17))
        dim = int(rng.integers(3, 9))
        classes = int(rng.integers(3, 7))
        model = build_mlp(
            depth, width, activation, input_dim=dim, num_classes=classes, kernel_initializer=init
        )
        models.append(
            (
                model,
                f"a {depth}-hidden-layer {activation} MLP (width {width}, "
                f"{dim} inputs, {classes} classes)",
                dim,
                classes,
            )
        )
    dim, classes = int(rng.integers(3, 9)), int(rng.integers(3, 7))
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(
        12, activation="relu", kernel_initializer=init(), bias_initializer="random_normal"
    )(inputs)
    h = keras.layers.LayerNormalization()(h)
    h = keras.layers.Dense(8, activation="tanh", kernel_initializer=init())(h)
    outputs = keras.layers.Dense(classes, kernel_initializer=init())(h)
    models.append(
        (
            keras.Model(inputs, outputs),
            "a functional Dense → LayerNormalization → "
            f"Dense → Dense model ({dim} inputs, {classes} classes)",
            dim,
            classes,
        )
    )
    return models


def _norm_hint(got: np.ndarray, expected: np.ndarray, weights: np.ndarray, batch: int) -> str:
    def close(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-7)

    if len(got) == 2 * len(expected):
        return (
            "twice as many norms as Dense layers: biases are included; keep only each "
            "Dense layer's kernel (layer.kernel)"
        )
    if len(got) != len(expected):
        return (
            "one norm per Dense kernel: select layers with isinstance(layer, "
            "keras.layers.Dense), not every trainable variable"
        )
    if close(got, expected[::-1]):
        return "the order is reversed: list the layers input side first (as model.layers)"
    if close(got, weights):
        return "these are the norms of the weights themselves; take the norm of the gradients"
    if close(got, expected**2):
        return "these are squared norms; the L2 norm is the square root of the sum of squares"
    if close(got, expected * batch):
        return (
            "the values are batch-size times too large: the loss is summed over examples, "
            "use the mean (the default reduction of SparseCategoricalCrossentropy)"
        )
    if close(got, np.sqrt(expected)):
        return "these look like square roots of the norms: use tf.norm(g) (or np.linalg.norm)"
    return (
        "differentiate the mean SparseCategoricalCrossentropy(from_logits=True) of "
        "model(x) w.r.t. each Dense kernel: the model outputs logits, so do not apply a "
        "softmax and do not use from_logits=False"
    )


def check_layer_gradient_norms(layer_gradient_norms) -> None:
    """‖∂(mean sparse CE from logits)/∂W‖ per Dense kernel, input side first, vs a reference."""
    from relu_course.probes import dense_layers, gradient_norms

    check = Check("layer_gradient_norms", layer_gradient_norms)
    for _ in check.devices():
        for model, about, dim, classes in _random_models(check.rng):
            batch = int(check.rng.integers(5, 40))
            x = check.rng.normal(size=(batch, dim)).astype(np.float32)
            y = check.rng.integers(0, classes, size=batch).astype(np.int32)
            on = f"{about}, x of shape {x.shape}, y of shape {y.shape}"
            expected = gradient_norms(model, x, y)
            got = check.call(model, x, y, on=on)  # also fails if the weights change
            if not isinstance(got, np.ndarray):
                if isinstance(got, list | tuple):
                    check.fail(
                        f"layer_gradient_norms returned a {type(got).__name__}, not a NumPy array",
                        on=on,
                        got=got,
                        hint="wrap the result: np.array([...])",
                    )
                check.expect_array(got, on)
            got = np.asarray(got)
            if not np.issubdtype(got.dtype, np.floating):
                check.fail(
                    f"layer_gradient_norms returned dtype {got.dtype}, expected floats",
                    on=on,
                    got=got,
                    hint="norms are real numbers: float(tf.norm(g))",
                )
            if got.ndim != 1:
                check.fail(
                    f"layer_gradient_norms returned shape {got.shape}, expected "
                    f"({len(expected)},): one number per Dense layer",
                    on=on,
                    got=got,
                    hint="return one norm per Dense kernel, not the gradients themselves",
                )
            weights = np.array(
                [np.linalg.norm(layer.kernel.numpy()) for layer in dense_layers(model)]
            )
            hint = _norm_hint(got, expected, weights, batch)
            if got.shape != expected.shape:
                check.fail(
                    f"layer_gradient_norms returned {len(got)} norms for a model with "
                    f"{len(expected)} Dense layers",
                    on=on,
                    expected=expected,
                    got=got,
                    hint=hint,
                )
            check.expect_close(got, expected, on, rtol=1e-4, atol=1e-7, hint=hint)
    check.passed(
        "matches tf.GradientTape norms on 3 random models (ReLU, tanh, functional "
        "with a LayerNormalization)"
    )


# ------------------------------------------------------------------ grading probes
def _elementwise_probes(reference):
    def probes(rng: np.random.Generator) -> list[Probe]:
        x64 = rng.normal(scale=3, size=(4, 5))
        x64[0, 0] = 0.0
        x32 = rng.normal(scale=3, size=(7,)).astype(np.float32)
        return [
            Probe(args=(x64,), expected=reference(x64), atol=1e-12),
            Probe(args=(x32,), expected=reference(x32), atol=1e-6),
            Probe(args=(x64,), mode="input_after", expected=x64.copy()),
        ]

    return probes


def probes_sigmoid_grad(rng: np.random.Generator) -> list[Probe]:
    from relu_course.activations import sigmoid_grad

    return _elementwise_probes(sigmoid_grad)(rng)


def probes_tanh_grad(rng: np.random.Generator) -> list[Probe]:
    from relu_course.activations import tanh_grad

    return _elementwise_probes(tanh_grad)(rng)


EXERCISES = [
    Exercise(
        "sigmoid_grad", notebook="02_vanishing_gradients", points=2, probes=probes_sigmoid_grad
    ),
    Exercise("tanh_grad", notebook="02_vanishing_gradients", points=2, probes=probes_tanh_grad),
    Exercise("layer_gradient_norms", notebook="02_vanishing_gradients", points=3, probes=None),
]
