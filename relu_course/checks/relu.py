"""Checks for notebook 01 (ReLU is max(0, x)): relu_np, relu_tf, relu_grad, hat_network."""

from __future__ import annotations

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Arg, Exercise, Probe

__all__ = ["check_hat_network", "check_relu_grad", "check_relu_np", "check_relu_tf"]


def _signed_inputs(
    rng: np.random.Generator,
    dtypes=("float32", "float64", "float16", "int32"),
    edge_cases: bool = True,
):
    """Random arrays of several shapes and dtypes, each with negatives, positives and exact 0s."""
    shapes = [
        (int(rng.integers(5, 40)),),
        (int(rng.integers(2, 6)), int(rng.integers(2, 6))),
        (2, 3, int(rng.integers(2, 5))),
    ]
    for i, dtype in enumerate(dtypes):
        shape = shapes[i % len(shapes)]
        if dtype.startswith("int"):
            x = rng.integers(-9, 10, size=shape)
        else:
            x = rng.normal(scale=3.0, size=shape)
            x.ravel()[rng.choice(x.size, size=max(1, x.size // 5), replace=False)] = 0.0
        x.ravel()[0] = -abs(x.ravel()[0]) - 1  # at least one negative and one positive
        x.ravel()[-1] = abs(x.ravel()[-1]) + 1
        # and large magnitudes, so a capped (relu6) or thresholded variant cannot slip through
        x.ravel()[1] = rng.uniform(10, 500)
        x.ravel()[-2] = -rng.uniform(10, 500)
        yield x.astype(dtype)
    if edge_cases:
        yield np.array(-2.5, dtype=np.float32)  # a 0-d array
        yield np.zeros((0, 3), dtype=np.float32)  # empty


def _relu_hint(x: np.ndarray, got: np.ndarray) -> str:
    """Name the misconception a wrong ReLU output reveals."""
    x = x.astype(np.float64)
    got = np.asarray(got, dtype=np.float64)
    negative = x < 0
    if np.allclose(got, np.abs(x)):
        return "this is |x|: ReLU sends negative inputs to 0, it does not flip their sign"
    if np.allclose(got, np.minimum(x, 0)):
        return "this is min(0, x): ReLU keeps the positive part, max(0, x)"
    if np.allclose(got, x):
        return "the input came back unchanged: negative values must become 0"
    if negative.any() and np.all(got[negative] != 0):
        slopes = got[negative] / x[negative]
        if np.allclose(slopes, slopes[0]):
            return (
                f"negative inputs give {slopes[0]:.3g}·x, a leaky ReLU; plain ReLU returns "
                "exactly 0 for them"
            )
    positive = x > 0
    if positive.any() and np.allclose(got[~positive], 0):
        top = float(got[positive].max())
        if np.allclose(got, np.clip(x, 0, top)) and top < float(x.max()):
            return (
                f"positive inputs were capped at {top:.3g}: ReLU passes every positive input "
                "unchanged, however large"
            )
        zeroed = positive & (got == 0)
        if zeroed.any():
            cut = float(x[zeroed].max())
            if np.allclose(got, np.where(x > cut, x, 0)):
                return (
                    f"positive inputs up to {cut:.3g} were set to 0: ReLU switches at 0, "
                    "every positive input passes"
                )
    return "ReLU is max(0, x), element by element"


def check_relu_np(relu_np) -> None:
    """Elementwise max(0, x) in NumPy: any shape, same dtype, new array, input untouched."""
    check = Check("relu_np", relu_np)
    for _ in check.devices():
        for x in _signed_inputs(check.rng):
            on = f"x = {describe(x)}"
            got = check.expect_array(check.call(x, on=on), on)
            expected = np.maximum(x, np.zeros((), x.dtype))
            check.expect_like(got, expected, on)
            check.expect_close(
                got,
                expected,
                on,
                x=x,
                rtol=0,
                atol=0,
                hint=_relu_hint(x, got) if got.size else None,
            )
    check.passed("shapes 0-d to 3-d, float16/32/64 and int32, inputs left unchanged")


def check_relu_tf(relu_tf) -> None:
    """max(0, x) with TensorFlow ops: eager and inside tf.function, same dtype as the input."""
    import tensorflow as tf

    check = Check("relu_tf", relu_tf)
    for _ in check.devices():
        graph_version = tf.function(relu_tf)
        for x in _signed_inputs(
            check.rng, dtypes=("float32", "float64", "float16"), edge_cases=False
        ):
            tensor = tf.constant(x)
            on = f"x = {describe(tensor)}"
            expected = tf.nn.relu(tensor).numpy()
            got = check.expect_tensor(check.call(tensor, on=on), on)
            if got.dtype != tensor.dtype:
                check.fail(
                    f"relu_tf returned dtype {got.dtype.name} for a {tensor.dtype.name} input",
                    on=on,
                    hint="every tensor you combine with x must have x's dtype: a constant "
                    "derived from x itself or a Python number (TensorFlow converts it) keeps "
                    "it, a cast to a fixed dtype does not",
                )
            check.expect_like(got.numpy(), expected, on)
            check.expect_close(
                got.numpy(), expected, on, x=x, rtol=0, atol=0, hint=_relu_hint(x, got.numpy())
            )
            try:
                traced = check.call(tensor, on=on, target=graph_version, stub=False)
            except AssertionError as error:
                check.fail(
                    "relu_tf works eagerly but fails inside tf.function: "
                    + str(error).splitlines()[0].removeprefix("relu_tf "),
                    on=on,
                    hint="inside tf.function tensors have no values yet: use TensorFlow "
                    "ops only, no NumPy calls and no .numpy()",
                )
            if not isinstance(traced, tf.Tensor) or traced.dtype != tensor.dtype:
                check.fail(
                    "relu_tf inside tf.function did not return a tensor of the input's dtype",
                    on=on,
                    got=traced,
                )
            check.expect_close(
                traced.numpy(),
                expected,
                on,
                x=x,
                rtol=0,
                atol=0,
                what="relu_tf gives different values inside tf.function",
            )
    check.passed("eager and tf.function, float16/32/64")


def check_relu_grad(relu_grad) -> None:
    """dReLU/dx: 1 where x > 0, 0 elsewhere (0 at exactly 0), compared with tf.GradientTape."""
    import tensorflow as tf

    check = Check("relu_grad", relu_grad)
    for _ in check.devices():
        for x in _signed_inputs(check.rng, dtypes=("float32", "float64", "float16")):
            on = f"x = {describe(x)}"
            tensor = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(tensor)
                y = tf.nn.relu(tensor)
            expected = tape.gradient(y, tensor).numpy()
            got = check.expect_array(check.call(x, on=on), on)
            if got.dtype == bool:
                check.fail(
                    "relu_grad returned booleans",
                    on=on,
                    hint="a derivative is a number: return 0s and 1s in x's dtype, not True/False",
                )
            check.expect_like(got, expected, on)
            check.expect_close(got, expected, on, x=x, rtol=0, atol=0, hint=_grad_hint(x, got))
    check.passed("agrees with tf.GradientTape on float16/32/64, 0 at x = 0")


def _grad_hint(x: np.ndarray, got: np.ndarray) -> str:
    x = x.astype(np.float64)
    got = got.astype(np.float64)
    zero = x == 0
    wrong = got != (x > 0)
    if wrong.any() and np.all(zero[wrong]):
        if np.all(got[wrong] == 1):
            return (
                "your comparison counts x = 0 as positive (x >= 0): at exactly x = 0 "
                "TensorFlow's gradient is 0, and so is ours"
            )
        return (
            f"at exactly x = 0 your derivative is {got[wrong][0]:.3g}: the docstring takes it "
            "as 0 there, as TensorFlow does"
        )
    if np.allclose(got, np.maximum(x, 0)):
        return "this is relu(x) itself; its derivative is 1 where x > 0 and 0 elsewhere"
    if (x < 0).any() and np.any(got[x < 0] != 0):
        return "ReLU is flat for negative inputs, so its derivative is 0 there"
    return "the derivative of max(0, x) is 1 for x > 0 and 0 otherwise"


def check_hat_network(hat_network) -> None:
    """A Dense(3, relu) → Dense(1) model that computes max(0, 1 − |x|) for every real x."""
    import keras
    import tensorflow as tf

    check = Check("hat_network", hat_network)
    model = check.call(on="no arguments")
    if not isinstance(model, keras.Model):
        check.fail(
            f"hat_network returned {describe(model)}, not a keras.Model",
            on="no arguments",
            hint="hat_network returns the Keras model itself (the docstring's two Dense "
            "layers, weights set by hand), not its weights or its outputs",
        )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) != 2:
        check.fail(
            f"the model has {len(dense)} Dense layers, expected 2",
            hint="the docstring's model has exactly two Dense layers: a hidden ReLU layer "
            "and a linear output layer",
        )
    hidden, output = dense
    if hidden.units != 3 or getattr(hidden.activation, "__name__", "") != "relu":
        check.fail(
            f"the hidden layer is Dense({hidden.units}, activation="
            f"{getattr(hidden.activation, '__name__', hidden.activation)!r}), expected "
            "Dense(3, activation='relu')",
            hint="the hat has three kinks and each hidden ReLU unit makes one kink: one "
            "ReLU unit per kink, no more",
        )
    if output.units != 1 or getattr(output.activation, "__name__", "") != "linear":
        check.fail(
            f"the output layer is Dense({output.units}, activation="
            f"{getattr(output.activation, '__name__', output.activation)!r}), expected a "
            "linear Dense(1)",
            hint="the output combines the three ReLUs linearly",
        )
    x = (
        np.concatenate(
            [
                check.rng.uniform(-5, 5, size=200),
                [-5.0, -1.0, -0.5, 0.0, 0.5, 1.0, 5.0],
            ]
        )
        .astype(np.float32)
        .reshape(-1, 1)
    )
    expected = np.maximum(0.0, 1.0 - np.abs(x))
    on = "x = 207 points in [-5, 5], shape (207, 1)"
    for _ in check.devices():
        got = check.call(
            tf.constant(x), on=on, target=lambda t: model(t, training=False), stub=False
        )
        got = np.asarray(got)
        if got.shape != expected.shape:
            check.fail(
                f"the model's output has shape {got.shape}, expected {expected.shape}",
                on=on,
                hint="the model maps a (n, 1) batch to (n, 1)",
            )
        bad = ~np.isclose(got, expected, atol=1e-4, rtol=0)
        if bad.any():
            i = int(np.argwhere(bad)[0][0])
            check.fail(
                f"hat_network(x) is wrong at x = {float(x[i, 0]):.4g} ({int(bad.sum())} of "
                f"{bad.size} points are off)",
                on=on,
                expected=f"{float(expected[i, 0]):.5g}",
                got=f"{float(got[i, 0]):.5g}",
                hint=_hat_hint(hidden, output, x[:, 0], got[:, 0] - expected[:, 0], bad[:, 0]),
            )
    check.passed("max(0, 1 − |x|) on 207 points in [−5, 5]")


def _hat_hint(hidden, output, x: np.ndarray, residual: np.ndarray, bad: np.ndarray) -> str:
    """Teach from the learner's own weights: where their kinks are, and what their slope
    is beyond the outermost kinks (never the weights that would work)."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in hidden.get_weights()[:2])
    out_kernel = np.asarray(output.get_weights()[0], dtype=np.float64)
    w, b, v = kernel[0], bias, out_kernel[:, 0]
    wrong_x = x[bad]
    with np.errstate(divide="ignore", invalid="ignore"):
        kinks = np.sort(-b[w != 0] / w[w != 0]) + 0.0  # + 0.0 turns −0 into 0
    if np.ptp(residual) < 1e-4:
        return (
            "the shape is right but the whole curve is shifted up or down by the same "
            "amount everywhere: look at the output layer's bias"
        )
    # for x → +∞ the units with w > 0 are on (slope v·w each); for x → −∞ those with w < 0
    right_slope = float(np.sum(v * w * (w > 0)))
    left_slope = float(np.sum(v * w * (w < 0)))
    where = ", ".join(f"{k:.3g}" for k in kinks) or "nowhere (every input weight is 0)"
    if np.any(wrong_x > 1) and abs(right_slope) > 1e-6:
        return (
            "outside [−1, 1] the hat stays flat at 0, but your network still rises or falls "
            f"to the right of its last kink (slope {right_slope:.3g}): there every unit with a "
            "positive input weight is on, and their slopes (output weight × input weight) "
            "must add up to 0"
        )
    if np.any(wrong_x < -1) and abs(left_slope) > 1e-6:
        return (
            "outside [−1, 1] the hat stays flat at 0, but your network still rises or falls "
            f"to the left of its first kink (slope {-left_slope:.3g}): there the units with a "
            "negative input weight are on, and their slopes must add up to 0"
        )
    if np.all(np.abs(wrong_x) > 1):
        return (
            "outside [−1, 1] your network is flat but not at 0: check the level it settles "
            "at (the output bias and the units still on there)"
        )
    return (
        "the hat has kinks at −1, 0 and 1: its slope changes from 0 to +1, then to −1, then "
        f"back to 0. Your units put kinks at {where}; unit i has its kink where "
        "w_i·x + b_i = 0, and changes the slope by (output weight) × |w_i| there"
    )


# ------------------------------------------------------------------ grading probes
def probes_relu_np(rng: np.random.Generator) -> list[Probe]:
    x32 = rng.normal(size=(3, 5)).astype(np.float32) * 50
    x32[0, :2] = 0.0
    x64 = rng.normal(size=(7,)) * 10
    xi = rng.integers(-9, 9, size=(2, 3, 2)).astype(np.int64)
    return [
        Probe(args=(x,), expected=np.maximum(x, np.zeros((), x.dtype))) for x in (x32, x64, xi)
    ] + [Probe(args=(x32,), mode="input_after", expected=x32.copy())]


def probes_relu_tf(rng: np.random.Generator) -> list[Probe]:
    x32 = rng.normal(size=(4, 3)).astype(np.float32) * 50
    x64 = rng.normal(size=(5,)) * 3
    probes = [
        Probe(args=(Arg(x, "tensor"),), expected=np.maximum(x, 0).astype(x.dtype))
        for x in (x32, x64)
    ]
    probes.append(
        Probe(args=(Arg(x32, "tensor"),), wrap="tf.function", expected=np.maximum(x32, 0))
    )
    return probes


def probes_relu_grad(rng: np.random.Generator) -> list[Probe]:
    x32 = rng.normal(size=(4, 4)).astype(np.float32)
    x32[1, :] = 0.0
    x64 = np.concatenate([rng.normal(size=5), [0.0, -0.0]])
    return [Probe(args=(x,), expected=(x > 0).astype(x.dtype)) for x in (x32, x64)]


def probes_hat_network(rng: np.random.Generator) -> list[Probe]:
    x = rng.uniform(-5, 5, size=(64, 1)).astype(np.float32)
    return [
        Probe(
            mode="call_result",
            call_args=(x,),
            expected=np.maximum(0.0, 1.0 - np.abs(x)),
            atol=1e-4,
            same_dtype=False,
        )
    ]


EXERCISES = [
    Exercise("relu_np", notebook="01_relu", points=2, probes=probes_relu_np),
    Exercise("relu_tf", notebook="01_relu", points=2, probes=probes_relu_tf),
    Exercise("relu_grad", notebook="01_relu", points=2, probes=probes_relu_grad),
    Exercise("hat_network", notebook="01_relu", points=2, probes=probes_hat_network),
]
