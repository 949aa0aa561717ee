"""Checks for notebook 02 (vanishing gradients): sigmoid_grad, tanh_grad, layer_gradient_norms,
layer_error_norms."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Exercise, ModelSpec, Probe

__all__ = [
    "check_layer_error_norms",
    "check_layer_gradient_norms",
    "check_sigmoid_grad",
    "check_tanh_grad",
]


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
            if hint is None and gs.size > 1 and np.ptp(gs) == 0:
                hint = (
                    "your values are the same for every x: a derivative changes with x "
                    "(see the docstring's formula)"
                )
            check.expect_close(
                got,
                expected,
                on,
                x=x,
                rtol=tol,
                atol=tol,
                hint=hint or "compare with the docstring's formula, term by term",
            )


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def check_sigmoid_grad(sigmoid_grad) -> None:
    """σ'(x) = σ(x)(1 − σ(x)) elementwise, compared with tf.GradientTape of tf.sigmoid."""
    import tensorflow as tf

    check = Check("sigmoid_grad", sigmoid_grad)
    hints = [
        (_sigmoid, "this is σ(x) itself, not its derivative (the docstring writes σ' with σ)"),
        (
            lambda x: 1 - _sigmoid(x),
            "this is 1 − σ(x): one factor of the docstring's derivative is missing",
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
        (np.tanh, "this is tanh(x) itself, not its derivative (the docstring writes it with tanh)"),
        (
            lambda x: 1 - np.tanh(x),
            "this is 1 − tanh(x): check the power of tanh in the docstring's formula",
        ),
        (
            lambda x: 1 - np.abs(np.tanh(x)),
            "this is 1 − |tanh(x)|: the docstring's formula squares tanh instead",
        ),
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
            "one norm per Dense kernel: only the kernels of Dense layers, not every trainable "
            "variable (no biases, no normalisation weights)"
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
        return (
            "these look like square roots of the norms: the L2 norm is the root of the sum "
            "of squares, taken once"
        )
    return (
        "differentiate the docstring's loss (the mean sparse cross-entropy of the logits) "
        "with respect to each Dense kernel: the model outputs logits, so do not apply a "
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
                        hint="return a NumPy array with one norm per Dense layer, not a list",
                    )
                check.expect_array(got, on)
            got = np.asarray(got)
            if not np.issubdtype(got.dtype, np.floating):
                check.fail(
                    f"layer_gradient_norms returned dtype {got.dtype}, expected floats",
                    on=on,
                    got=got,
                    hint="norms are real numbers: return them as floats",
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


# ---------------------------------------------------------------- layer_error_norms
_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")


def _error_variants(model, x, y) -> dict[str, np.ndarray]:
    """The reference ‖∂L/∂z_l‖ (``"expected"``) and what common misconceptions compute
    instead, all from forward passes like the reference's (a chain of layers, inference
    mode). ``z_l`` is each Dense layer's pre-activation, before its own activation."""
    import keras
    import tensorflow as tf

    from relu_course.probes import gradient_and_error_norms

    x = tf.constant(x)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]

    def forward(logits_transform=None):
        pre, after, kernels, biases = [], [], [], []
        h = x
        open_block = False  # a Dense layer's activation output not yet closed
        for layer in layers:
            if isinstance(layer, keras.layers.Dense):
                z = tf.matmul(h, layer.kernel)
                if layer.bias is not None:
                    z = z + layer.bias
                    biases.append(layer.bias)
                else:
                    biases.append(None)
                pre.append(z)
                kernels.append(layer.kernel)
                h = layer.activation(z)
                after.append(h)
                open_block = True
            else:
                h = layer(h, training=False)
                if open_block and type(layer).__name__ in _ACTIVATION_LAYERS:
                    after[-1] = h  # ∂L/∂a is taken at the activation layer's output
                else:
                    open_block = False
        return (h if logits_transform is None else logits_transform(h)), pre, after

    def norms(values):
        return np.array([float(tf.norm(v)) for v in values], dtype=np.float64)

    sce = tf.nn.sparse_softmax_cross_entropy_with_logits
    variants = {}
    with tf.GradientTape(persistent=True) as tape:
        logits, pre, after = forward()
        mean_loss = tf.reduce_mean(sce(y, logits))
        sum_loss = tf.reduce_sum(sce(y, logits))
        probs_as_logits = tf.reduce_mean(sce(y, tf.nn.softmax(logits)))
        clipped = tf.clip_by_value(logits, 1e-7, 1 - 1e-7)  # logits read as probabilities
        as_probabilities = tf.reduce_mean(-tf.math.log(tf.gather(clipped, y, axis=1, batch_dims=1)))
    errors = tape.gradient(mean_loss, pre)
    variants["expected"] = norms(errors)
    variants["activation outputs"] = norms(tape.gradient(mean_loss, after))
    variants["summed loss"] = norms(tape.gradient(sum_loss, pre))
    variants["softmax twice"] = norms(tape.gradient(probs_as_logits, pre))
    variants["from_logits=False"] = norms(tape.gradient(as_probabilities, pre))
    variants["per-example mean"] = np.array(
        [float(tf.reduce_mean(tf.norm(e, axis=1))) for e in errors], dtype=np.float64
    )
    variants["bias gradients"] = norms([tf.reduce_sum(e, axis=0) for e in errors])
    variants["squared"] = variants["expected"] ** 2
    variants["reversed"] = variants["expected"][::-1]
    variants["kernel gradients"] = gradient_and_error_norms(model, x, y)[0]
    del tape
    return variants


_ERROR_HINTS = {
    "reversed": "the order is reversed: list the Dense layers input side first",
    "activation outputs": (
        "these are norms of ∂L/∂a, the gradient at each activation's *output*; the "
        "back-propagated error is ∂L/∂z at the *pre-activation* z = a_prev·W + b, before "
        "the activation (it differs from ∂L/∂a by the factor f'(z)); for a Dense layer "
        "with its own activation, compute z from its kernel and bias yourself"
    ),
    "summed loss": (
        "the values are batch-size times too large: the loss is summed over examples; "
        "use the mean (the default reduction of SparseCategoricalCrossentropy)"
    ),
    "softmax twice": (
        "a softmax is applied to outputs that the loss treats as logits: the model outputs "
        "logits, and from_logits=True already applies the softmax"
    ),
    "from_logits=False": (
        "the loss reads the model's outputs as probabilities: the model outputs logits, "
        "so use from_logits=True and no softmax"
    ),
    "per-example mean": (
        "this averages the per-example norms; take one L2 norm over the whole "
        "(batch, units) error matrix of each layer"
    ),
    "bias gradients": (
        "these are norms of ∂L/∂b, the error summed over the batch; take the norm of the "
        "error itself, one row per example (shape (batch, units))"
    ),
    "squared": "these are squared norms; the L2 norm is the square root of the sum of squares",
    "kernel gradients": (
        "these are the weight-gradient norms ‖∂L/∂W‖ (layer_gradient_norms); the error is "
        "the gradient with respect to the pre-activation z, not the kernel"
    ),
}


def _error_models(rng: np.random.Generator):
    """Random chains: build_mlp MLPs (separate activation layers), a Sequential with Dense
    layers that carry their own activation plus Dropout and LayerNormalization, and a
    functional chain as the grader builds (fused activations, random biases)."""
    import keras

    from relu_course.models import build_mlp

    def init():
        return keras.initializers.GlorotUniform(seed=int(rng.integers(2**31)))

    def biases():
        return keras.initializers.RandomNormal(stddev=0.3, seed=int(rng.integers(2**31)))

    out = []
    for activation in ("relu", "tanh"):
        depth, width = int(rng.integers(2, 5)), int(rng.integers(5, 17))
        dim, classes = int(rng.integers(3, 9)), int(rng.integers(3, 7))
        model = build_mlp(
            depth, width, activation, input_dim=dim, num_classes=classes, kernel_initializer=init
        )
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                layer.bias.assign(rng.normal(scale=0.3, size=layer.bias.shape).astype("float32"))
        out.append(
            (
                model,
                f"a {depth}-hidden-layer {activation} MLP from build_mlp (width {width})",
                dim,
                classes,
            )
        )
    dim, classes = int(rng.integers(3, 9)), int(rng.integers(3, 7))
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(11, "relu", kernel_initializer=init(), bias_initializer=biases()),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(9, "sigmoid", kernel_initializer=init(), bias_initializer=biases()),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(classes, kernel_initializer=init(), bias_initializer=biases()),
        ]
    )
    out.append(
        (
            model,
            "a Sequential: Dense(relu) → Dropout → Dense(sigmoid) → LayerNormalization → "
            "Dense (activations inside the Dense layers)",
            dim,
            classes,
        )
    )
    dim, classes = int(rng.integers(3, 9)), int(rng.integers(3, 7))
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(10, "tanh", kernel_initializer=init(), bias_initializer=biases())(inputs)
    h = keras.layers.Dense(7, "elu", kernel_initializer=init(), bias_initializer=biases())(h)
    outputs = keras.layers.Dense(classes, kernel_initializer=init(), bias_initializer=biases())(h)
    out.append(
        (
            keras.Model(inputs, outputs),
            "a functional chain Dense(tanh) → Dense(elu) → Dense",
            dim,
            classes,
        )
    )
    return out


def _error_hint(got: np.ndarray, variants: dict[str, np.ndarray]) -> str:
    expected = variants["expected"]

    def close(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-9)

    if len(got) == len(expected) - 1 and close(got, expected[:-1]):
        return (
            "the output layer is missing: the logits layer is a Dense layer too, and its "
            "error ∂L/∂logits is where back-propagation starts"
        )
    if len(got) != len(expected):
        return (
            "one norm per Dense layer (hidden layers and the logits layer), not one per "
            "layer of every kind or per variable"
        )
    matches = [
        name
        for name, value in variants.items()
        if name != "expected" and close(got, value) and not close(value, expected)
    ]
    if matches:
        return " — or — ".join(_ERROR_HINTS[name] for name in matches)
    return (
        "differentiate the mean SparseCategoricalCrossentropy(from_logits=True) of the "
        "logits with respect to each Dense layer's pre-activation z (computed inside the "
        "tape, inference mode), then take each error matrix's L2 norm"
    )


def check_layer_error_norms(layer_error_norms) -> None:
    """‖∂(mean sparse CE from logits)/∂z‖ at each Dense pre-activation, input side first,
    against tf.GradientTape on the pre-activations, with named misconceptions."""
    check = Check("layer_error_norms", layer_error_norms)
    for _ in check.devices():
        for model, about, dim, classes in _error_models(check.rng):
            batch = int(check.rng.integers(6, 40))
            x = check.rng.normal(size=(batch, dim)).astype(np.float32)
            y = check.rng.integers(0, classes, size=batch).astype(np.int32)
            on = f"{about}, {dim} inputs, {classes} classes, x of shape {x.shape}"
            variants = _error_variants(model, x, y)
            expected = variants["expected"]
            got = check.call(model, x, y, on=on)  # also fails if the weights change
            if isinstance(got, list | tuple):
                check.fail(
                    f"layer_error_norms returned a {type(got).__name__}, not a NumPy array",
                    on=on,
                    got=got,
                    hint="return a NumPy array with one norm per Dense layer, not a list",
                )
            got = check.expect_array(got, on)
            if not np.issubdtype(got.dtype, np.floating):
                check.fail(
                    f"layer_error_norms returned dtype {got.dtype}, expected floats",
                    on=on,
                    got=got,
                    hint="norms are real numbers: return them as floats",
                )
            if got.ndim != 1:
                check.fail(
                    f"layer_error_norms returned shape {got.shape}, expected "
                    f"({len(expected)},): one number per Dense layer",
                    on=on,
                    got=got,
                    hint="return one norm per Dense layer, not the errors themselves",
                )
            hint = _error_hint(got, variants)
            if got.shape != expected.shape:
                check.fail(
                    f"layer_error_norms returned {len(got)} norms for a model with "
                    f"{len(expected)} Dense layers",
                    on=on,
                    expected=expected,
                    got=got,
                    hint=hint,
                )
            check.expect_close(got, expected, on, rtol=1e-4, atol=1e-9, hint=hint)
    check.passed(
        "matches tf.GradientTape on the pre-activations of 4 random chains (build_mlp "
        "ReLU and tanh, Dense layers with their own activations, Dropout, LayerNormalization)"
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


def _grader_models(rng: np.random.Generator) -> list[tuple[ModelSpec, np.ndarray, np.ndarray]]:
    """Two small chains as the grader builds them (Dense layers with their own activation,
    random weights and biases) with inputs and labels."""
    out = []
    for hidden in (((9, "relu"), (7, "tanh")), ((8, "sigmoid"), (8, "relu"), (6, "elu"))):
        dim, classes, batch = int(rng.integers(3, 8)), int(rng.integers(3, 6)), 17
        layers = (*hidden, (classes, "linear"))
        sizes = [dim] + [units for units, _ in layers]
        weights = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            weights.append(rng.normal(scale=np.sqrt(2 / fan_in), size=(fan_in, fan_out)))
            weights.append(rng.normal(scale=0.2, size=fan_out))
        spec = ModelSpec(dim, layers, tuple(np.asarray(w, np.float32) for w in weights))
        x = rng.normal(size=(batch, dim)).astype(np.float32)
        y = rng.integers(0, classes, size=batch).astype(np.int32)
        out.append((spec, x, y))
    return out


def probes_layer_gradient_norms(rng: np.random.Generator) -> list[Probe]:
    from relu_course.probes import gradient_norms

    return [
        Probe(
            args=(spec, x, y),
            expected=gradient_norms(spec.build(), x, y),
            rtol=1e-4,
            atol=1e-8,
            same_dtype=False,
        )
        for spec, x, y in _grader_models(rng)
    ]


def probes_layer_error_norms(rng: np.random.Generator) -> list[Probe]:
    from relu_course.probes import error_norms

    return [
        Probe(
            args=(spec, x, y),
            expected=error_norms(spec.build(), x, y),
            rtol=1e-4,
            atol=1e-9,
            same_dtype=False,
        )
        for spec, x, y in _grader_models(rng)
    ]


EXERCISES = [
    Exercise(
        "sigmoid_grad", notebook="02_vanishing_gradients", points=2, probes=probes_sigmoid_grad
    ),
    Exercise("tanh_grad", notebook="02_vanishing_gradients", points=2, probes=probes_tanh_grad),
    Exercise(
        "layer_gradient_norms",
        notebook="02_vanishing_gradients",
        points=3,
        probes=probes_layer_gradient_norms,
    ),
    Exercise(
        "layer_error_norms",
        notebook="02_vanishing_gradients",
        points=3,
        probes=probes_layer_error_norms,
    ),
]
