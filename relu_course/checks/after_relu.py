"""Checks for notebook 08 (after ReLU): gelu, silu, SwiGLU."""

from __future__ import annotations

import math

import numpy as np

from relu_course.checks._framework import Check, CheckFailed, describe
from relu_course.checks._registry import Arg, Exercise, Probe

__all__ = ["check_SwiGLU", "check_gelu", "check_silu"]

# Tolerances against a float64 reference. The exact and tanh forms of GELU differ by up to
# ≈ 4.7e-4, so these are about twenty times tighter than that gap, yet a float32
# computation (rounding ≈ 6e-8 relative) passes easily. The float64 ones leave room for a
# constant or slope rounded to float32 (tf.nn.silu rounds beta so).
_TOLERANCE = {"float32": (1e-5, 2e-6), "float64": (1e-6, 1e-7)}  # (rtol, atol)


def _digits(a: float, b: float) -> tuple[str, str]:
    """Two numbers printed with just enough significant digits to look different."""
    for digits in range(6, 18):
        left, right = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if left != right:
            return left, right
    return repr(a), repr(b)


def _expect_close(
    check: Check,
    got,
    expected,
    on: str,
    *,
    x=None,
    rtol: float,
    atol: float,
    what: str | None = None,
    hint: str | None = None,
) -> None:
    """Like ``Check.expect_close``, but the message prints expected and got with enough
    digits to differ (a float64 tolerance of 1e-6 is finer than 6 digits)."""
    got64 = np.asarray(got, dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got64.shape != want.shape or not np.all(np.isfinite(got64) | ~np.isfinite(want)):
        check.expect_close(got, expected, on, x=x, rtol=rtol, atol=atol, what=what, hint=hint)
    bad = ~np.isclose(got64, want, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if got64.ndim else ()
    at = ""
    if x is not None:
        xv = np.asarray(x)[index] if np.ndim(x) else np.asarray(x)
        at = f" at x = {np.format_float_positional(float(xv), precision=6)}"
    want_text, got_text = _digits(float(want[index]), float(got64[index]))
    check.fail(
        what
        or f"{check.name} gives a wrong value{at} (index {index}; {int(bad.sum())} of "
        f"{bad.size} values differ)",
        on=on,
        expected=want_text,
        got=got_text,
        hint=hint,
    )


def _quiet_retracing():
    """TF logs a 'retracing' warning on stderr for many tf.function traces (nbgrader counts
    stderr as a failure): silence it while a check runs."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    return logger, level


def _elementwise_inputs(rng: np.random.Generator, dtype: str, scale: float = 2.5):
    """Random values of a random shape, plus points where the GELU forms differ most (|x| ≈
    2.7 and ≈ 1.3), 0, and both tails."""
    shape = [(int(rng.integers(20, 40)),), (int(rng.integers(3, 6)), int(rng.integers(5, 9)))][
        int(rng.integers(2))
    ]
    x = rng.normal(scale=scale, size=shape)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=7, replace=False)
    flat[picks] = [
        0.0,
        -rng.uniform(2.5, 2.9),
        rng.uniform(2.5, 2.9),
        -rng.uniform(1.1, 1.5),
        rng.uniform(6.0, 9.0),
        -rng.uniform(6.0, 9.0),
        rng.uniform(-0.05, 0.05),
    ]
    return x.astype(dtype)


def _dtype_hint() -> str:
    return (
        "keep the input's dtype: use Python floats (math.sqrt, math.pi) as constants, which "
        "TensorFlow converts to the input's dtype, rather than tf.constant / tf.sqrt of a "
        "literal (float32) or .astype casts"
    )


def _call_elementwise(check: Check, tensor, kwargs: dict, on: str):
    """Call the candidate eagerly; a float32 constant mixed into float64 maths gets a hint."""
    try:
        return check.call(tensor, on=on, **kwargs)
    except CheckFailed as error:
        text = str(error).splitlines()[0]  # the error itself, not the input's description
        mixed = ("double" in text and "float" in text) or ("float64" in text and "float32" in text)
        if mixed and "raised" in text and tensor.dtype.name == "float64":
            check.fail(
                f"{check.name} fails on a float64 input: a float32 constant meets float64 values",
                on=on,
                hint=_dtype_hint(),
            )
        raise


def _check_elementwise(
    check: Check,
    candidate,
    x: np.ndarray,
    kwargs: dict,
    on: str,
    reference,
    gradient,
    hint,
) -> None:
    """Values (eager and inside tf.function), dtype, shape and gradient of an elementwise
    activation against float64 references."""
    import tensorflow as tf

    dtype = x.dtype.name
    rtol, atol = _TOLERANCE[dtype]
    tensor = tf.constant(x)
    got = check.expect_tensor(_call_elementwise(check, tensor, kwargs, on), on)
    if got.dtype != tensor.dtype:
        check.fail(
            f"{check.name} returned dtype {got.dtype.name} for a {dtype} input",
            on=on,
            hint=_dtype_hint(),
        )
    expected = reference(x)
    check.expect_like(got.numpy(), expected, on)
    _expect_close(
        check, got.numpy(), expected, on, x=x, rtol=rtol, atol=atol, hint=hint(x, got.numpy())
    )
    graph = tf.function(lambda t, kw=kwargs: candidate(t, **kw), autograph=False)
    try:
        traced = check.call(tensor, on=on, target=graph, stub=False)
    except AssertionError as error:
        check.fail(
            f"{check.name} works eagerly but fails inside tf.function: "
            + str(error).splitlines()[0].removeprefix(f"{check.name} ").rstrip("."),
            on=on,
            hint="use TensorFlow ops only (tf.math has them all): no NumPy functions and no "
            ".numpy() inside the function",
        )
    _expect_close(
        check,
        np.asarray(traced),
        expected,
        on,
        rtol=rtol,
        atol=atol,
        what=f"{check.name} gives different values inside tf.function",
        hint="use TensorFlow ops only, with no Python-side branching on tensor values",
    )
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        y = candidate(tensor, **kwargs)
    grad = tape.gradient(y, tensor)
    if grad is None:
        check.fail(
            f"no gradient flows through {check.name}",
            on=on,
            hint="build the output from x with TensorFlow ops (no NumPy, no tf.constant of "
            "computed values, no tf.stop_gradient) so autodiff can follow it",
        )
    _expect_close(
        check,
        np.asarray(grad),
        gradient(x),
        on,
        x=x,
        rtol=1e-4,
        atol=1e-5,
        what=f"{check.name}'s gradient (from tf.GradientTape) is wrong",
        hint="the values are right but the derivative is not: is part of the formula "
        "computed outside TensorFlow's view (tf.stop_gradient, a constant)?",
    )


# ---------------------------------------------------------------------------- gelu
def _fit_tanh_form(x: np.ndarray, got: np.ndarray) -> tuple[float, float] | None:
    """If ``got`` is 0.5·x·(1 + tanh(k·(x + c·x³))) for some k, c, return (k, c).

    A non-linear least-squares fit on the values themselves (not on arctanh of them, which
    loses the points where a wrong constant saturates tanh), started from the right
    constants and from a few usual slips so that it does not stop in a flat region."""
    from scipy import optimize

    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(got, np.float64).ravel()
    if x.size < 4 or not np.all(np.isfinite(y)):
        return None
    scale = np.maximum(np.abs(y), 1e-3)

    def residual(p: np.ndarray) -> np.ndarray:
        k, kc = p
        return (0.5 * x * (1.0 + np.tanh(k * x + kc * x**3)) - y) / scale

    best = None
    k0 = math.sqrt(2.0 / math.pi)
    for k_start, c_start in ((k0, 0.044715), (k0, 0.44715), (k0, 0.0), (1.0, 0.1)):
        try:
            fit = optimize.least_squares(residual, [k_start, k_start * c_start], method="lm")
        except (ValueError, RuntimeError):  # pragma: no cover - numerical failure
            continue
        if best is None or fit.cost < best.cost:
            best = fit
    if best is None:
        return None
    k, kc = best.x
    fitted = 0.5 * x * (1.0 + np.tanh(k * x + kc * x**3))
    if k == 0 or not np.allclose(fitted, y, rtol=1e-4, atol=1e-5):
        return None
    return float(k), float(kc / k)


def _scale_hint(scale: float) -> str:
    return (
        f"your tanh form scales its argument by ≈ {scale:.4g}, not by the factor in front of "
        "(x + 0.044715·x³) in the docstring's formula: compute that factor from its "
        "definition (mind how the root and π are grouped)"
    )


def _gelu_hint(approximate: bool):
    from scipy import special

    from relu_course.after_relu import SQRT_2_OVER_PI, gelu_np

    def hint(x: np.ndarray, got: np.ndarray) -> str:
        z = x.astype(np.float64)
        got = np.asarray(got, np.float64)
        rtol, atol = _TOLERANCE[x.dtype.name]

        def same(values) -> bool:
            return np.allclose(got, values, rtol=max(rtol, 1e-5), atol=max(atol, 2e-6))

        phi = 0.5 * special.erfc(-z / math.sqrt(2.0))
        if same(gelu_np(z, approximate=not approximate)):
            return (
                "this is the exact form x·Φ(x) although approximate=True asked for the tanh "
                "approximation: use the approximate argument"
                if approximate
                else "this is the tanh approximation although approximate=False (the "
                "default) asks for the exact x·Φ(x) with tf.math.erf: use the argument"
            )
        if same(z * special.expit(z)):
            return (
                "this is x·σ(x) (SiLU): GELU weights x by Φ(x), the standard normal CDF, "
                "not by the logistic sigmoid σ"
            )
        if same(z * special.expit(1.702 * z)):
            return (
                "this is x·σ(1.702·x), a third, coarser approximation of GELU: use the form "
                "the approximate argument asks for"
            )
        if np.allclose(got, np.maximum(z, 0.0), rtol=rtol, atol=atol):
            return (
                "this is ReLU: GELU weights x by Φ(x), a smooth gate, instead of switching it "
                "off below 0 (section 1)"
            )
        if same(2.0 * gelu_np(z, approximate)):
            return (
                "your values are twice GELU's: the factor ½ is missing (compare with the "
                "formula of section 1 and the docstring)"
            )
        if same(0.5 * gelu_np(z, approximate)):
            return "your values are half of GELU's: the factor ½ appears twice"
        if same(z * 0.5 * (1.0 + special.erf(z))):
            return (
                "the argument of erf is not scaled: erf belongs to a normal distribution of "
                "variance ½, so Φ (variance 1) rescales x first (section 1's formula)"
            )
        if same(z * 0.5 * (1.0 + special.erf(z * math.sqrt(2.0)))):
            return (
                "the argument of erf is scaled the wrong way: compare with section 1's "
                "formula for Φ, which shrinks x rather than stretching it"
            )
        if same(0.5 * (1.0 + special.erf(z / math.sqrt(2.0)))):
            return "this is Φ(x) alone: GELU is x·Φ(x), multiply by x"
        if same(z * phi * phi) or same(z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)):
            return (
                "GELU is x·Φ(x) with Φ the standard normal *CDF* (section 1), not its "
                "density or a power of it"
            )
        # the usual wrong scale constants, tested directly (the fit below is ill-conditioned
        # where a too-large scale saturates tanh on most inputs)
        for wrong in (math.sqrt(2.0 * math.pi), 2.0 / math.pi, math.sqrt(1.0 / math.pi), 1.0):
            if same(0.5 * z * (1.0 + np.tanh(wrong * (z + 0.044715 * z**3)))):
                return _scale_hint(wrong)
        fitted = _fit_tanh_form(z, got)
        if fitted is not None:
            k, c = fitted
            if not math.isclose(k, SQRT_2_OVER_PI, rel_tol=1e-3):
                return _scale_hint(k)
            if not approximate:
                return "approximate=False asks for the exact form with tf.math.erf, not tanh"
            return (
                f"your values follow a tanh form whose cubic coefficient is ≈ {c:.4g}: check "
                "the constant in front of x³ against Hendrycks & Gimpel's formula in the "
                "docstring"
            )
        return (
            "GELU is x·Φ(x) with Φ the standard normal CDF, written with erf in section 1 "
            "(approximate=False), or the docstring's tanh form (approximate=True): compare "
            "your formula with them term by term"
        )

    return hint


def check_gelu(gelu) -> None:
    """GELU with TF ops, exact (erf) by default and the tanh form with approximate=True:
    values within ~1e-5 of a float64 reference, dtype kept, tf.function, gradients."""
    from relu_course.after_relu import gelu_grad_np, gelu_np

    check = Check("gelu", gelu)
    logger, level = _quiet_retracing()
    try:
        rng = check.rng
        cases = [
            ({}, "float32"),
            ({"approximate": True}, "float32"),
            ({"approximate": False}, "float64"),
            ({"approximate": True}, "float64"),
            ({"approximate": False}, "float32"),
        ]
        for _ in check.devices():
            for kwargs, dtype in cases:
                approximate = kwargs.get("approximate", False)
                x = _elementwise_inputs(rng, dtype)
                on = f"x = {describe(x)}, " + (
                    f"approximate={approximate}" if kwargs else "default approximate"
                )
                _check_elementwise(
                    check,
                    gelu,
                    x,
                    kwargs,
                    on,
                    reference=lambda v, a=approximate: gelu_np(v, approximate=a),
                    gradient=lambda v, a=approximate: gelu_grad_np(v, approximate=a),
                    hint=_gelu_hint(approximate),
                )
    finally:
        logger.setLevel(level)
    check.passed(
        "exact and tanh forms, float32 and float64, tf.function and gradients, each within "
        "1e-5 of a float64 reference"
    )


# ---------------------------------------------------------------------------- silu
def _silu_hint(beta: float):
    from scipy import special

    def hint(x: np.ndarray, got: np.ndarray) -> str:
        z = x.astype(np.float64)
        got = np.asarray(got, np.float64)

        def same(values) -> bool:
            return np.allclose(got, values, rtol=1e-5, atol=2e-6)

        if beta != 1.0 and same(z * special.expit(z)):
            return (
                f"this is x·σ(x), as if beta were 1, but beta = {beta:.4g}: use the beta argument"
            )
        if same(special.expit(beta * z)):
            return "this is σ(βx) alone: SiLU multiplies x by the gate σ(βx)"
        if beta != 1.0 and same(beta * z * special.expit(z)):
            return "beta belongs inside the sigmoid, σ(βx), not in front of it"
        if beta != 1.0 and same(beta * z * special.expit(beta * z)):
            return "your result is β·x·σ(βx): drop the extra factor β in front"
        if beta != 0.0 and same(z * special.expit(z / beta)):
            return "beta multiplies x inside the sigmoid (σ(βx)); it does not divide it"
        if same(z * np.tanh(np.logaddexp(0.0, z))):
            return "this is Mish, x·tanh(softplus(x)): SiLU is x·σ(βx)"
        if same(z * np.tanh(beta * z)):
            return "SiLU uses the logistic sigmoid σ, not tanh"
        return "SiLU / Swish is x·σ(βx) with σ the logistic sigmoid 1/(1 + e⁻ᵗ)"

    return hint


def check_silu(silu) -> None:
    """x·σ(βx) with TF ops: several beta (default 1, 0, large, negative), float32/float64,
    tf.function and gradients against a float64 reference."""
    from relu_course.after_relu import silu_grad_np, silu_np

    check = Check("silu", silu)
    logger, level = _quiet_retracing()
    try:
        rng = check.rng
        cases = [
            (None, "float32"),
            (float(rng.uniform(1.5, 3.0)), "float32"),
            (float(rng.uniform(0.2, 0.8)), "float64"),
            (0.0, "float32"),
            (float(rng.uniform(6.0, 10.0)), "float64"),
            (-float(rng.uniform(0.5, 1.5)), "float32"),
        ]
        for _ in check.devices():
            for beta, dtype in cases:
                kwargs = {} if beta is None else {"beta": beta}
                used = 1.0 if beta is None else beta
                x = _elementwise_inputs(rng, dtype)
                on = f"x = {describe(x)}, " + (
                    "default beta" if beta is None else f"beta = {beta:.4g}"
                )
                _check_elementwise(
                    check,
                    silu,
                    x,
                    kwargs,
                    on,
                    reference=lambda v, b=used: silu_np(v, b),
                    gradient=lambda v, b=used: silu_grad_np(v, b),
                    hint=_silu_hint(used),
                )
    finally:
        logger.setLevel(level)
    check.passed(
        "default beta = 1, beta = 0, large, small and negative beta, float32 and float64, "
        "tf.function and gradients"
    )


# ---------------------------------------------------------------------------- SwiGLU
def _swiglu_hint(x, weights, got) -> str:
    """Name the variant of a gated unit that ``got`` computes, if it is a known one."""
    from scipy import special

    w, v, w2 = (np.asarray(a, np.float64) for a in weights)
    x = np.asarray(x, np.float64)
    a, b = x @ w, x @ v
    got = np.asarray(got, np.float64)
    scale = max(1.0, float(np.max(np.abs(got))))

    def same(values) -> bool:
        return values.shape == got.shape and np.allclose(got, values, rtol=1e-4, atol=1e-4 * scale)

    def silu(t):
        return t * special.expit(t)

    if same((a * silu(b)) @ w2):
        return (
            "the SiLU gate acts on x·V (the second weight) instead of x·W (the first): either "
            "the gate is on the wrong branch, or W and V were created in the wrong order (the "
            "docstring gives both the formula and the order of layer.weights)"
        )
    if same((special.expit(a) * b) @ w2):
        return "the gate uses the logistic sigmoid (that is GLU, Dauphin et al. 2017): SwiGLU's gate is SiLU, t·σ(t)"
    if same((np.maximum(a, 0) * b) @ w2):
        return "the gate uses ReLU (that is ReGLU): SwiGLU's gate is SiLU, t·σ(t)"
    from relu_course.after_relu import gelu_np

    if same((gelu_np(a) * b) @ w2) or same((gelu_np(a, approximate=True) * b) @ w2):
        return "the gate uses GELU (that is GEGLU): SwiGLU's gate is SiLU, t·σ(t)"
    if same((silu(a) * silu(b)) @ w2):
        return "only the x·W branch goes through SiLU; the x·V branch stays linear"
    if same(silu(a) @ w2) or same(silu(a * b) @ w2):
        return (
            "the value branch x·V is missing from the product: multiply the two branches "
            "elementwise after the gate"
        )
    if same((silu(a) + b) @ w2):
        return "the branches are combined by an elementwise product (⊙), not a sum"
    if same(silu((silu(a) * b) @ w2)) or same(silu((a * b) @ w2)):
        return "no activation after W₂: the layer's output is linear in the gated hidden units"
    return (
        "compare call() with the docstring's formula term by term: the gate on the x·W "
        "branch, the elementwise product with x·V, then W₂, and no biases"
    )


def _describe_weights(layer) -> str:
    return "[" + ", ".join(f"{w.name} {tuple(w.shape)}" for w in layer.weights) + "]"


def _make(check: Check, SwiGLU, hidden: int, out: int, on: str):
    layer = check.call(hidden, out, on=on)
    import keras

    if not isinstance(layer, keras.layers.Layer):
        check.fail(f"SwiGLU({hidden}, {out}) did not create a keras Layer", on=on)
    return layer


def _check_weights(check: Check, layer, d: int, hidden: int, out: int, on: str) -> list:
    want = [(d, hidden), (d, hidden), (hidden, out)]
    shapes = [tuple(int(s) for s in w.shape) for w in layer.weights]
    if any(len(s) == 1 for s in shapes):
        check.fail(
            "SwiGLU has bias vectors",
            on=on,
            expected="3 weight matrices [W, V, W₂]",
            got=_describe_weights(layer),
            hint="Shazeer's (2020) SwiGLU feed-forward layers have no biases: add only the "
            "three matrices (Dense(..., use_bias=False) if you use Dense sublayers)",
        )
    if len(shapes) != 3:
        check.fail(
            f"SwiGLU has {len(shapes)} weights, expected 3",
            on=on,
            expected=f"[W {want[0]}, V {want[1]}, W₂ {want[2]}]",
            got=_describe_weights(layer),
            hint="the layer holds exactly W and V (input → hidden) and W₂ (hidden → output)",
        )
    if shapes != want:
        if sorted(shapes) == sorted(want):
            hint = (
                "the shapes are right but the order is not: create the weights in the order "
                "W, V, W₂ (layer.weights lists them in creation order)"
            )
        elif shapes == [(hidden, d), (hidden, d), (out, hidden)]:
            hint = "Keras multiplies x (batch, d) by kernels of shape (d, units): transpose them"
        else:
            hint = (
                "W and V map the input's last dimension (read it from input_shape in build) "
                "to hidden_units; W₂ maps hidden_units to output_units"
            )
        check.fail(
            "SwiGLU's weights have the wrong shapes",
            on=on,
            expected=f"[W {want[0]}, V {want[1]}, W₂ {want[2]}]",
            got=_describe_weights(layer),
            hint=hint,
        )
    if len(layer.trainable_weights) != 3:
        check.fail(
            f"only {len(layer.trainable_weights)} of SwiGLU's 3 weights are trainable",
            on=on,
            hint="create W, V and W₂ with add_weight(..., trainable=True) (the default)",
        )
    return [np.asarray(w.numpy()) for w in layer.weights]


def check_SwiGLU(SwiGLU) -> None:  # noqa: N802 - the exercise's name
    """A Keras layer (silu(x·W) ⊙ (x·V))·W₂ with weights [W, V, W₂], no biases: shapes,
    values for random weights, fresh random init, gradients, tf.function, in a model."""
    import warnings

    # Keras warns on stderr about sublayers built implicitly (nbgrader would score the
    # test cell as failed for a correct layer): the check judges results, not style.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _check_swiglu(SwiGLU)


def _check_swiglu(SwiGLU) -> None:  # noqa: N803 - the exercise's name
    """A Keras layer (silu(x·W) ⊙ (x·V))·W₂ with weights [W, V, W₂], no biases: shapes,
    values for random weights, fresh random init, gradients, tf.function, in a model."""
    import keras

    check = Check("SwiGLU", SwiGLU, is_class=True)
    if not issubclass(SwiGLU, keras.layers.Layer):
        check.fail(
            "SwiGLU is not a keras.layers.Layer subclass",
            hint="keep the base class of the cell's class line (a Keras layer) and hand the "
            "keyword arguments on to the parent's __init__, as every Keras layer does",
        )
    rng = check.rng
    logger, level = _quiet_retracing()
    try:
        for _ in check.devices():
            for _case in range(2):
                d = int(rng.integers(5, 10))
                hidden = int(rng.integers(11, 17))
                out = int(rng.integers(2, 5))
                batch = int(rng.integers(6, 12))
                layer = _check_fresh_layer(check, SwiGLU, rng, d, hidden, out, batch)
                _check_set_weights(check, layer, rng, d, hidden, out, batch)
            _check_in_a_model(check, SwiGLU, rng, first_layer=layer)
    finally:
        logger.setLevel(level)
    check.passed(
        "weights [W, V, W₂] without biases, outputs for own and random weights, tf.function, "
        "gradients to all three, in a Sequential model with the right parameter count"
    )


def _check_fresh_layer(check: Check, SwiGLU, rng, d: int, hidden: int, out: int, batch: int):  # noqa: N803
    """A new layer's first call: output shape, its weights (count, shapes, order, random
    and independent initial values), and output from those weights. Returns the layer."""
    import tensorflow as tf

    from relu_course.after_relu import swiglu_np

    x = rng.normal(size=(batch, d)).astype(np.float32)
    on = f"SwiGLU({hidden}, {out}) on x = {describe(x)}"
    layer = _make(check, SwiGLU, hidden, out, on)
    first = check.call(tf.constant(x), on=on, target=lambda t, lay=layer: lay(t), stub=False)
    first = check.expect_tensor(first, on)
    if tuple(first.shape) != (batch, out):
        check.fail(
            f"SwiGLU returned shape {tuple(first.shape)}, expected {(batch, out)}",
            on=on,
            hint="(batch, d) · W → (batch, hidden); the gated product times W₂ → "
            "(batch, output_units)",
        )
    initial = _check_weights(check, layer, d, hidden, out, on)
    if any(np.all(w == 0) for w in initial) or np.array_equal(initial[0], initial[1]):
        check.fail(
            "SwiGLU's initial weights are all zero, or W and V start identical",
            on=on,
            hint="initialise every matrix randomly and independently, as the docstring "
            "says: zero or identical weights stay symmetric and cannot learn different units",
        )
    _expect_close(
        check,
        first.numpy(),
        swiglu_np(x, *initial),
        on,
        rtol=1e-4,
        atol=1e-5,
        what="SwiGLU's output does not match (silu(x·W) ⊙ (x·V))·W₂ computed from its own weights",
        hint=_swiglu_hint(x, initial, first.numpy()),
    )
    return layer


def _check_set_weights(check: Check, layer, rng, d: int, hidden: int, out: int, batch: int):
    """Weights of a larger scale set with set_weights (they reach SiLU's negative region):
    outputs, the same values inside tf.function, and a gradient to every weight."""
    import tensorflow as tf

    from relu_course.after_relu import swiglu_np

    weights = [
        rng.normal(scale=1.0, size=(d, hidden)),
        rng.normal(scale=1.0, size=(d, hidden)),
        rng.normal(scale=0.5, size=(hidden, out)),
    ]
    layer.set_weights([w.astype(np.float32) for w in weights])
    x2 = rng.normal(size=(batch, d)).astype(np.float32)
    on2 = f"SwiGLU({hidden}, {out}) with random weights set, x = {describe(x2)}"
    got = check.call(tf.constant(x2), on=on2, target=lambda t, lay=layer: lay(t))
    got = np.asarray(check.expect_tensor(got, on2))
    want = swiglu_np(x2, *[w.astype(np.float32) for w in weights])
    atol = 1e-5 * max(1.0, float(np.max(np.abs(want))))
    _expect_close(
        check,
        got,
        want,
        on2,
        rtol=1e-4,
        atol=atol,
        what="SwiGLU gives wrong outputs for weights set with set_weights",
        hint=_swiglu_hint(x2, weights, got),
    )
    graph = tf.function(lambda t, lay=layer: lay(t), autograph=False)
    try:
        traced = check.call(tf.constant(x2), on=on2, target=graph, stub=False)
    except AssertionError as error:
        check.fail(
            "SwiGLU works eagerly but fails inside tf.function: "
            + str(error).splitlines()[0].removeprefix("SwiGLU ").rstrip("."),
            on=on2,
            hint="use TensorFlow or keras.ops operations in call(), no NumPy and no .numpy()",
        )
    _expect_close(
        check,
        np.asarray(traced),
        want,
        on2,
        rtol=1e-4,
        atol=atol,
        what="SwiGLU gives different values inside tf.function",
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(tf.constant(x2))))
    grads = tape.gradient(loss, layer.trainable_weights)
    if any(g is None or not np.any(np.asarray(g)) for g in grads):
        check.fail(
            "no gradient reaches some of SwiGLU's weights",
            on=on2,
            hint="compute call() from x and the three weights with TensorFlow ops, so that "
            "autodiff reaches W, V and W₂",
        )


def _check_in_a_model(check: Check, SwiGLU, rng, first_layer) -> None:  # noqa: N803
    """A second instance, for another input size, inside keras.Sequential: its own weights
    (not shared with ``first_layer``) and the model's parameter count."""
    import keras

    from relu_course.after_relu import swiglu_parameter_count

    d2 = int(rng.integers(12, 20))
    hidden2, out2 = int(rng.integers(5, 9)), int(rng.integers(3, 6))
    on = f"keras.Sequential([keras.Input(({d2},)), SwiGLU({hidden2}, {out2})])"
    second = _make(check, SwiGLU, hidden2, out2, on)
    model = check.call(
        on=on,
        stub=False,
        target=lambda d=d2, lay=second: keras.Sequential([keras.Input((d,)), lay]),
    )
    _check_weights(check, second, d2, hidden2, out2, on)
    if any(w1 is w2 for w1 in first_layer.weights for w2 in second.weights):
        check.fail(
            "two SwiGLU layers share weights",
            on=on,
            hint="create the weights per instance, in build() (self.add_weight)",
        )
    expected_params = swiglu_parameter_count(d2, hidden2, out2)
    if model.count_params() != expected_params:
        check.fail(
            "the model's parameter count is wrong",
            on=on,
            expected=str(expected_params),
            got=str(model.count_params()),
            hint="the layer holds W, V (d × hidden) and W₂ (hidden × output), nothing more",
        )


# ------------------------------------------------------------------ grading probes
def probes_gelu(rng: np.random.Generator) -> list[Probe]:
    from relu_course.after_relu import gelu_np

    x = rng.normal(scale=2.5, size=(4, 6)).astype(np.float32)
    x[0, :3] = [-2.7, 2.7, 0.0]
    rtol, atol = _TOLERANCE["float32"]
    common = dict(rtol=rtol, atol=atol, same_dtype=True)
    return [
        Probe(args=(Arg(x, "tensor"),), expected=gelu_np(x), **common),
        Probe(args=(Arg(x, "tensor"),), kwargs={"approximate": True},
              expected=gelu_np(x, approximate=True), **common),
        Probe(args=(Arg(x, "tensor"),), kwargs={"approximate": False}, wrap="tf.function",
              expected=gelu_np(x), **common),
    ]  # fmt: skip


def probes_silu(rng: np.random.Generator) -> list[Probe]:
    from relu_course.after_relu import silu_np

    x = rng.normal(scale=2.5, size=(4, 6)).astype(np.float32)
    beta = float(rng.uniform(0.3, 3.0))
    rtol, atol = _TOLERANCE["float32"]
    common = dict(rtol=rtol, atol=atol, same_dtype=True)
    return [
        Probe(args=(Arg(x, "tensor"),), expected=silu_np(x), **common),
        Probe(args=(Arg(x, "tensor"),), kwargs={"beta": beta}, expected=silu_np(x, beta),
              **common),
        Probe(args=(Arg(x, "tensor"),), kwargs={"beta": beta}, wrap="tf.function",
              expected=silu_np(x, beta), **common),
    ]  # fmt: skip


def probes_SwiGLU(rng: np.random.Generator) -> list[Probe]:  # noqa: N802
    from relu_course.after_relu import swiglu_np

    d, hidden, out = 7, 11, 3
    x = rng.normal(size=(9, d)).astype(np.float32)
    weights = (
        rng.normal(size=(d, hidden)).astype(np.float32),
        rng.normal(size=(d, hidden)).astype(np.float32),
        rng.normal(scale=0.5, size=(hidden, out)).astype(np.float32),
    )
    return [
        Probe(
            args=(hidden, out),
            mode="layers_output",
            layer_input=x,
            weights=weights,
            expected=swiglu_np(x, *weights),
            rtol=1e-4,
            atol=1e-4,
            same_dtype=False,
            about="SwiGLU(11, 3) with weights [W, V, W₂] set, on a random batch",
        )
    ]


EXERCISES = [
    Exercise("gelu", notebook="08_after_relu", points=2, probes=probes_gelu),
    Exercise("silu", notebook="08_after_relu", points=2, probes=probes_silu),
    Exercise("SwiGLU", notebook="08_after_relu", points=3, probes=probes_SwiGLU),
]
