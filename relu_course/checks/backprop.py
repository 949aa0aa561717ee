"""Checks for notebook 01's gradient checking and manual backprop exercises:
numerical_gradient, relative_error, dense_relu_forward, dense_relu_backward.

References: analytic derivatives of random smooth functions, the exact centred difference
of a cubic, ``tf.GradientTape`` through ``tf.nn.relu(x @ W + b)`` (ReLU′(0) = 0), and
``relu_course.backprop.numerical_gradient`` away from the kinks.
"""

from __future__ import annotations

import numpy as np

from relu_course.backprop import numerical_gradient as reference_numerical_gradient
from relu_course.backprop import relative_error as reference_relative_error
from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Arg, Exercise, Probe

__all__ = [
    "check_dense_relu_backward",
    "check_dense_relu_forward",
    "check_numerical_gradient",
    "check_relative_error",
]


# --------------------------------------------------------------------- numerical_gradient
def _smooth_function(rng: np.random.Generator, shape):
    """A random smooth scalar function of an array and its exact gradient."""
    a = rng.normal(size=shape)
    c = rng.uniform(0.5, 2.0)

    def f(v):
        v = np.asarray(v, dtype=np.float64)
        return float(np.sum(a * np.sin(c * v) + 0.5 * v**3))

    def grad(v):
        return a * c * np.cos(c * v) + 1.5 * v**2

    return f, grad


def _roundtrip_breaks(x: np.ndarray, h: float) -> bool:
    """Whether x + h − h (or x + h − 2h + h) fails to give back x for some entry."""
    once = (x + h) - h
    twice = ((x + h) - 2 * h) + h
    return bool(np.any(once != x) or np.any(twice != x))


def _gradient_inputs(rng: np.random.Generator):
    """float64 arrays of several shapes, each with an entry whose x + h − h ≠ x."""
    for shape in [(int(rng.integers(4, 9)),), (int(rng.integers(2, 4)), 3), (2, 2, 2)]:
        while True:
            x = rng.normal(scale=1.5, size=shape)
            if _roundtrip_breaks(x, 1e-5) and _roundtrip_breaks(x, 1e-2):
                yield x
                break


def _call_gradient(check: Check, f, x: np.ndarray, h: float | None, on: str) -> np.ndarray:
    """Run the candidate on (f, x[, h]); report an x that was not put back exactly."""
    before = x.copy()
    args = (f, x) if h is None else (f, x, h)
    # x goes in through a closure: perturbing it in place is allowed, so the framework's
    # generic "modified its input" guard must not fire; restoration is checked just below
    got = check.call(on=on, target=lambda: check.candidate(*args))
    if x.shape != before.shape or not np.array_equal(x, before):
        changed = np.flatnonzero(x.ravel() != before.ravel())
        i = int(changed[0]) if changed.size else 0
        drift = abs(float(x.ravel()[i]) - float(before.ravel()[i]))
        check.fail(
            "numerical_gradient did not restore x: after the call x differs from before "
            f"({changed.size} entries changed, e.g. entry {i} by {drift:.3g})",
            on=on,
            expected=before,
            got=x,
            hint="save each entry before perturbing it and assign the saved value back "
            "afterwards; adding h and subtracting it again does not always round back to "
            "the same float"
            if drift < (h or 1e-5) / 100
            else "after evaluating f at x + h and x − h, put the original entry back",
        )
    got = check.expect_array(got, on)
    if got.shape != x.shape:
        check.fail(
            f"numerical_gradient returned shape {got.shape}, expected {x.shape} (x's shape)",
            on=on,
            hint="one partial derivative per entry of x: perturb every entry, whatever "
            "the number of dimensions, and return them in x's shape",
        )
    return got


def _difference_variants(f, x: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """What common wrong versions of the centred difference return, for naming them."""
    x = np.array(x, dtype=np.float64)
    forward, backward, centred = (np.zeros_like(x) for _ in range(3))
    base = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        forward[i] = (up - base) / h
        backward[i] = (base - down) / h
        centred[i] = (up - down) / (2 * h)
    h32 = np.float32(h)
    low_precision = np.zeros_like(x)
    x32 = x.astype(np.float32)
    for i in np.ndindex(x.shape):
        old = x32[i]
        x32[i] = old + h32
        up = f(x32)
        x32[i] = old - h32
        down = f(x32)
        x32[i] = old
        low_precision[i] = (up - down) / (2 * h)
    return {
        "this is a one-sided (forward) difference, whose error is proportional to h; the "
        "docstring's centred difference cancels that term": forward,
        "this is a one-sided (backward) difference, whose error is proportional to h; the "
        "docstring's centred difference cancels that term": backward,
        "the two evaluations are 2h apart, so divide their difference by 2h, not h": 2 * centred,
        "the two evaluations are 2h apart, not 4h: the result is half what it should be": (
            centred / 2
        ),
        "keep x in float64: in float32, x + 1e-5 rounds to a step that is not h": low_precision,
    }


def _gradient_hint(f, x: np.ndarray, got: np.ndarray, h: float) -> str:
    """Name the misconception behind a wrong numerical gradient."""
    for hint, values in _difference_variants(f, x, h).items():
        if np.allclose(got, values, rtol=1e-6, atol=1e-9):
            return hint
    return (
        "perturb one entry at a time by ±h (the others stay as they are) and take the "
        "docstring's centred difference for that entry"
    )


def _expect_gradient(check: Check, got, want, on: str, rtol: float, atol: float, case) -> None:
    """Like ``Check.expect_close`` but shows 10 significant digits, so that two numbers
    shown as a mismatch always look different (centred and one-sided differences agree to
    5-6 digits). ``case`` is (f, x, h), for naming the misconception."""
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        check.fail(
            "numerical_gradient returned NaN or infinity",
            on=on,
            got=got,
            hint="f returns a finite float here: look for a division by zero (is h used?)",
        )
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0]) if got.ndim else ()
        check.fail(
            f"numerical_gradient is off at index {i} ({int(bad.sum())} of {bad.size} entries)",
            on=on,
            expected=f"{float(want[i]):.10g}",
            got=f"{float(got[i]):.10g}",
            hint=_gradient_hint(case[0], case[1], got, case[2]),
        )


def check_numerical_gradient(numerical_gradient) -> None:
    """Centred differences of a scalar function at a float64 array; x restored exactly."""
    check = Check("numerical_gradient", numerical_gradient)
    rng = check.rng
    for x in _gradient_inputs(rng):
        f, grad = _smooth_function(rng, x.shape)
        on = f"f(x) = sum(a·sin(c·x) + x³/2) with random a, c; x = {describe(x)}"
        got = _call_gradient(check, f, x, None, on)
        exact = grad(x)
        if got.dtype != np.float64:
            check.fail(
                f"numerical_gradient returned dtype {got.dtype}, expected float64",
                on=on,
                hint="with h = 1e-5 the differences need float64: build the result array "
                "in float64, whatever dtype x has",
            )
        _expect_gradient(check, got, exact, on, 1e-6, 1e-8, (f, x, 1e-5))
    # The step must be the h passed in: for a cubic the centred difference is exactly
    # 3x² + h², a one-sided one 3x² + 3xh + h².
    x = next(_gradient_inputs(rng))

    def cube(v):
        return float(np.sum(np.asarray(v, dtype=np.float64) ** 3))

    for h in (1e-2, 1e-3):
        on = f"f(x) = sum(x³), h = {h:g}, x = {describe(x)}"
        got = _call_gradient(check, cube, x, h, on)
        expected = 3 * x**2 + h**2
        default = 3 * x**2 + 1e-10  # what the fixed step 1e-5 would give
        off = np.max(np.abs(got - expected))
        if off > 1e-7 * np.max(np.abs(expected)) and np.max(np.abs(got - default)) < off / 10:
            check.fail(
                f"numerical_gradient ignored h = {h:g}: the result is what h = 1e-5 gives",
                on=on,
                expected=f"3x² + h² (e.g. {expected.ravel()[0]:.8g})",
                got=f"{got.ravel()[0]:.8g}",
                hint="use the parameter h for the step, not a fixed constant",
            )
        _expect_gradient(check, got, expected, on, 1e-7, 1e-9, (cube, x, h))
    check.passed("centred differences on 1-, 2- and 3-d arrays, the h given, x restored")


# --------------------------------------------------------------------- relative_error
def _relative_error_pairs(rng: np.random.Generator):
    """(a, b) pairs that separate the common variants of the formula."""
    shape = (int(rng.integers(3, 7)), int(rng.integers(2, 5)))
    a = rng.normal(size=shape)
    b = a + rng.normal(scale=1e-3, size=shape) * np.abs(a)
    yield a, b  # close arrays: the everyday case
    a = rng.normal(size=7)
    b = a.copy()
    b[int(rng.integers(7))] *= rng.uniform(1.5, 3.0)  # one entry far off: max, not mean
    yield a, b
    a = rng.normal(size=5)
    a[:2] = 0.0
    b = a.copy()
    b[2] += rng.uniform(0.1, 1.0)
    yield a, b  # zeros in both at the same places: the floor avoids 0/0
    a = np.zeros(4)
    b = np.zeros(4)
    b[1] = rng.uniform(1e-13, 1e-11)  # both nearly 0: the floor 1e-8 keeps the error small
    yield a, b
    a = rng.normal(size=(2, 3)) * 10.0 ** rng.integers(-3, 4)
    yield a, -a  # opposite signs: |a − b| / (|a| + |b|) = 1
    yield a, a.copy()  # identical: 0


def _relative_error_variants():
    """Common wrong versions of the formula, each with the hint that names its mistake."""

    def floor(total):
        return np.maximum(1e-8, total)

    return {
        "the denominator needs the docstring's floor, so that two zeros give 0, not NaN, "
        "and two tiny numbers do not look far apart": lambda a, b: np.max(
            np.abs(a - b) / (np.abs(a) + np.abs(b))
        ),
        "take the maximum over elements, not the mean": lambda a, b: np.mean(
            np.abs(a - b) / floor(np.abs(a) + np.abs(b))
        ),
        "divide by |a| + |b|, not by max(|a|, |b|)": lambda a, b: np.max(
            np.abs(a - b) / floor(np.maximum(np.abs(a), np.abs(b)))
        ),
        "divide by |a| + |b| (both arrays), not by |a| alone": lambda a, b: np.max(
            np.abs(a - b) / floor(np.abs(a))
        ),
        "a relative error divides |a − b| by the sizes of a and b": lambda a, b: np.max(
            np.abs(a - b)
        ),
        "take |a − b| elementwise: a signed difference can be negative": lambda a, b: np.max(
            (a - b) / floor(np.abs(a) + np.abs(b))
        ),
        "the floor is a maximum with the docstring's constant, not a constant added to "
        "|a| + |b|": lambda a, b: np.max(np.abs(a - b) / (np.abs(a) + np.abs(b) + 1e-8)),
    }


def _same(got: float, value: float) -> bool:
    if not np.isfinite(got) or not np.isfinite(value):
        return not np.isfinite(got) and not np.isfinite(value)
    return bool(np.isclose(got, value, rtol=1e-9, atol=0))


def _relative_error_hint(a: np.ndarray, b: np.ndarray, got: float, swapped: float) -> str:
    """The variant that explains both ``got`` = f(a, b) and ``swapped`` = f(b, a)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        for hint, variant in _relative_error_variants().items():
            if _same(got, float(variant(a, b))) and _same(swapped, float(variant(b, a))):
                return hint
    return "compare with the docstring's formula term by term: numerator, floor, maximum"


def check_relative_error(relative_error) -> None:
    """max |a − b| / max(1e-8, |a| + |b|), returned as a float."""
    check = Check("relative_error", relative_error)
    for a, b in _relative_error_pairs(check.rng):
        on = f"a = {describe(a)}, b = {describe(b)}"
        got = check.call(a, b, on=on)
        if isinstance(got, np.ndarray) and got.ndim > 0:
            check.fail(
                f"relative_error returned an array of shape {got.shape}, not one number",
                on=on,
                hint="reduce over all elements to a single float: the worst (largest) one",
            )
        try:
            value = float(got)
        except (TypeError, ValueError):
            check._wrong_type(got, on, "a float", "return a single number, e.g. float(...)")
        expected = reference_relative_error(a, b)
        swapped = check.call(b, a, on=f"the same arrays swapped: {on}")
        try:
            swapped_value = float(swapped)
        except (TypeError, ValueError):
            swapped_value = float("nan")
        if not (np.isfinite(value) and np.isclose(value, expected, rtol=1e-9, atol=1e-300)):
            check.fail(
                "relative_error gives a wrong value",
                on=on,
                expected=f"{expected:.10g}",
                got=f"{value:.10g}",
                hint=_relative_error_hint(a, b, value, swapped_value),
            )
        if swapped_value != value:
            check.fail(
                "relative_error(a, b) differs from relative_error(b, a)",
                on=on,
                expected=f"{expected:.10g} both ways",
                got=f"{value:.10g} and {swapped_value:.10g}",
                hint="the formula is symmetric in a and b; "
                + _relative_error_hint(a, b, value, swapped_value),
            )
    check.passed("close, far, zero, tiny, opposite and identical arrays")


# --------------------------------------------------------------------- dense + ReLU
def _dense_inputs(rng: np.random.Generator, dtype=np.float64, kink_free: bool = False):
    """x (n, d), W (d, m), b (m,) with n, d, m all different (a transpose cannot fit)."""
    n, d, m = rng.choice(np.arange(2, 9), size=3, replace=False)
    while True:
        x = rng.normal(size=(n, d))
        W = rng.normal(size=(d, m)) / np.sqrt(d)
        b = rng.normal(scale=0.5, size=m)
        z = x @ W + b
        if (z > 0).any() and (z < 0).any() and (not kink_free or np.min(np.abs(z)) > 1e-3):
            return x.astype(dtype), W.astype(dtype), b.astype(dtype)


def _kinked_inputs(rng: np.random.Generator):
    """Small integers, so that z = x @ W + b has exact zeros (TensorFlow's ReLU′(0) = 0)."""
    n, d, m = rng.choice(np.arange(3, 9), size=3, replace=False)
    while True:
        x = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
        W = rng.integers(-2, 3, size=(d, m)).astype(np.float64)
        b = rng.integers(-1, 2, size=m).astype(np.float64)
        z = x @ W + b
        if np.mean(z == 0) > 0.1 and (z > 0).any() and (z < 0).any():
            return x, W, b


def _tape(x, W, b, dout):
    import tensorflow as tf

    tensors = [tf.constant(v) for v in (x, W, b)]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        z = tensors[0] @ tensors[1] + tensors[2]
        out = tf.nn.relu(z)
        loss = tf.reduce_sum(out * tf.constant(dout))
    return out.numpy(), z.numpy(), [g.numpy() for g in tape.gradient(loss, tensors)]


def _forward_hint(x, W, b, got) -> str:
    z = x @ W + b
    if np.allclose(got, z):
        return "apply ReLU: out = relu(z), and keep z itself in the cache"
    if np.allclose(got, np.maximum(x @ W, 0)):
        return "add the bias b before the ReLU"
    if np.allclose(got, np.maximum(x @ W, 0) + b):
        return "add the bias before the ReLU, not after it"
    negative = z < 0
    if negative.any() and np.all(got[negative] != 0):
        return (
            "negative pre-activations must become exactly 0 (ReLU), not be scaled (that is a "
            "leaky ReLU)"
        )
    return "compare with the docstring: ReLU of the affine map, with the shapes it gives"


def check_dense_relu_forward(dense_relu_forward) -> None:
    """relu(x @ W + b) and the cache (x, W, b, z), compared with TensorFlow."""
    check = Check("dense_relu_forward", dense_relu_forward)
    for _ in check.devices():
        for dtype in (np.float64, np.float32):
            x, W, b = _dense_inputs(check.rng, dtype)
            on = f"x {x.shape}, W {W.shape}, b {b.shape}, dtype {np.dtype(dtype).name}"
            result = check.call(x, W, b, on=on)
            if not isinstance(result, tuple) or len(result) != 2:
                check.fail(
                    f"dense_relu_forward returned {describe(result)}, not a pair (out, cache)",
                    on=on,
                    hint="return the pair (out, cache) that the docstring describes",
                )
            out, cache = result
            expected_out, expected_z, _ = _tape(x, W, b, np.zeros((len(x), W.shape[1]), dtype))
            out = check.expect_array(out, on)
            if out.shape != expected_out.shape:
                check.fail(
                    f"out has shape {out.shape}, expected {expected_out.shape} = (n, m)",
                    on=on,
                    hint="x @ W multiplies (n, d) by (d, m); W @ x or x @ W.T has the wrong shape",
                )
            rtol = 1e-10 if dtype == np.float64 else 1e-5
            check.expect_close(
                out,
                expected_out,
                on,
                rtol=rtol,
                atol=rtol,
                what="out differs from relu(x @ W + b)",
                hint=_forward_hint(x, W, b, out),
            )
            if not isinstance(cache, tuple) or len(cache) != 4:
                check.fail(
                    f"the cache is {describe(cache)}, expected a tuple of 4 arrays (x, W, b, z)",
                    on=on,
                    hint="the backward pass needs the inputs and the pre-activation: "
                    "cache = (x, W, b, z)",
                )
            for name, got, want in zip("xWb", cache[:3], (x, W, b), strict=True):
                if not (isinstance(got, np.ndarray) and got.shape == want.shape) or not (
                    np.array_equal(got, want)
                ):
                    check.fail(
                        f"cache entry {'xWb'.index(name)} should be {name} itself",
                        on=on,
                        got=got,
                        hint="keep the order (x, W, b, z): the backward pass unpacks it so",
                    )
            z = check.expect_array(cache[3], on)
            if z.shape != expected_z.shape or not np.allclose(z, expected_z, rtol=rtol, atol=rtol):
                check.fail(
                    "cache entry 3 should be z = x @ W + b, the input of the ReLU",
                    on=on,
                    hint="store the pre-activation z, not relu(z): where z < 0 the "
                    "backward pass must know the unit was off"
                    if z.shape == expected_z.shape and np.allclose(z, np.maximum(expected_z, 0))
                    else "z = x @ W + b, computed before the ReLU",
                )
    check.passed("float64 and float32, out and cache (x, W, b, z) as TensorFlow computes them")


def _backward_hint(name: str, got, dout, cache, prime0: dict) -> str:
    """Name the misconception behind a wrong dx, dW or db."""
    x, W, _, z = cache
    index = "dx dW db".split().index(name)
    variants = {
        "gradient 1 at 0: at exactly z = 0 TensorFlow's ReLU derivative is 0 — mask with "
        "z > 0, not z >= 0": prime0["one"],
        "the mask must come from the forward input z (where the unit was active), not "
        "from the sign of the upstream gradient dout": prime0["upstream"],
        "apply the ReLU mask: the gradient only flows through units with z > 0": prime0["none"],
    }
    for hint, grads in variants.items():
        if np.shape(got) == np.shape(grads[index]) and np.allclose(got, grads[index]):
            return hint
    dz = dout * (z > 0)
    if name == "db":
        if np.size(got) == z.shape[1] and np.ndim(got) == 2:
            return "db has b's shape (m,): sum over the batch axis without keepdims"
        if np.shape(got) == dz.shape:
            return "db has b's shape (m,): sum dz over the batch axis"
        if np.allclose(got, dz.mean(axis=0)):
            return (
                "b is added to every example, so its gradient is the sum of dz over the "
                "batch, not the mean"
            )
    if name == "dW" and np.shape(got) == (W.shape[1], W.shape[0]):
        return "dW must have W's shape (d, m): yours is transposed; which product of x and dz has that shape?"
    if name == "dx" and np.shape(got) != x.shape:
        return "dx must have x's shape (n, d): which product of dz (n, m) with W (d, m) gives that shape?"
    return (
        f"{name}: follow the chain rule backwards, first through the ReLU (its derivative is "
        "in the docstring), then through the affine map z = x @ W + b"
    )


def _backward_variants(dout, cache):
    """Reference gradients under three wrong masks, for naming a misconception."""
    x, W, _, z = cache

    def grads(dz):
        return dz @ W.T, x.T @ dz, dz.sum(axis=0)

    return {
        "one": grads(dout * (z >= 0)),
        "upstream": grads(dout * (dout > 0)),
        "none": grads(dout),
    }


def _check_backward_once(check: Check, dout, cache, expected, on: str, rtol: float) -> None:
    snapshot = [np.array(v, copy=True) for v in (dout, *cache)]
    result = check.call(dout, cache, on=on)
    for before, after, name in zip(snapshot, (dout, *cache), ("dout", *"xWbz"), strict=True):
        if not np.array_equal(before, after):
            check.fail(
                f"dense_relu_backward modified {name} in place",
                on=on,
                hint="build new arrays instead of assigning into "
                "dout or the cache: the caller may need them again",
            )
    if not isinstance(result, tuple | list) or len(result) != 3:
        check.fail(
            f"dense_relu_backward returned {describe(result)}, not three arrays (dx, dW, db)",
            on=on,
            hint="return the three gradients as the tuple the docstring names",
        )
    shapes = {"dx": cache[0].shape, "dW": cache[1].shape, "db": cache[2].shape}
    got_shapes = [np.shape(r) for r in result]
    if sorted(map(str, got_shapes)) == sorted(map(str, shapes.values())) and got_shapes != list(
        shapes.values()
    ):
        check.fail(
            f"dense_relu_backward returned arrays of shapes {got_shapes}, expected "
            f"{list(shapes.values())}",
            on=on,
            hint="return them in the order (dx, dW, db)",
        )
    variants = _backward_variants(dout, cache)
    for (name, shape), got, want in zip(shapes.items(), result, expected, strict=True):
        got = check.expect_array(got, on)
        if got.shape != shape:
            check.fail(
                f"{name} has shape {got.shape}, expected {shape}",
                on=on,
                hint=_backward_hint(name, got, dout, cache, variants),
            )
        if not np.allclose(got, want, rtol=rtol, atol=rtol):
            bad = ~np.isclose(got, want, rtol=rtol, atol=rtol)
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            check.fail(
                f"{name} is wrong at index {i} ({int(bad.sum())} of {bad.size} values differ)",
                on=on,
                expected=f"{want[i]:.8g}",
                got=f"{got[i]:.8g}",
                hint=_backward_hint(name, got, dout, cache, variants),
            )


def check_dense_relu_backward(dense_relu_backward) -> None:
    """(dx, dW, db) against tf.GradientTape (exact zeros in z included) and the numerical
    gradient (away from the kinks)."""
    check = Check("dense_relu_backward", dense_relu_backward)
    rng = check.rng
    for _ in check.devices():
        # 1. exact zeros in z: TensorFlow's convention ReLU'(0) = 0 decides
        x, W, b = _kinked_inputs(rng)
        dout = rng.normal(size=(len(x), W.shape[1]))
        _, z, expected = _tape(x, W, b, dout)
        on = (
            f"x {x.shape}, W {W.shape}, b {b.shape} (small integers: {int(np.sum(z == 0))} "
            f"entries of z are exactly 0), dout random normal {dout.shape}"
        )
        _check_backward_once(check, dout, (x, W, b, z), expected, on, 1e-10)
        # 2. random floats, z away from 0: GradientTape and the numerical gradient agree
        for dtype, rtol in ((np.float64, 1e-9), (np.float32, 1e-4)):
            x, W, b = _dense_inputs(rng, dtype, kink_free=True)
            dout = rng.normal(size=(len(x), W.shape[1])).astype(dtype)
            _, z, expected = _tape(x, W, b, dout)
            if dtype == np.float64:

                def loss(_, x=x, W=W, b=b, dout=dout):
                    return float(np.sum(np.maximum(x @ W + b, 0) * dout))

                numeric = [reference_numerical_gradient(loss, v) for v in (x, W, b)]
                assert all(  # the two references must agree before they judge anyone
                    reference_relative_error(n, e) < 1e-6
                    for n, e in zip(numeric, expected, strict=True)
                )
            on = (
                f"x {x.shape}, W {W.shape}, b {b.shape}, dout {dout.shape}, "
                f"dtype {np.dtype(dtype).name}, no z within 1e-3 of 0"
            )
            _check_backward_once(check, dout, (x, W, b, z.astype(dtype)), expected, on, rtol)
    check.passed(
        "agrees with tf.GradientTape (exact zeros in z included) and with the numerical "
        "gradient away from the kinks"
    )


# ------------------------------------------------------------------ grading probes
def probes_relative_error(rng: np.random.Generator) -> list[Probe]:
    return [
        Probe(args=(a, b), expected=np.float64(reference_relative_error(a, b)), rtol=1e-9)
        for a, b in _relative_error_pairs(rng)
    ]


def probes_dense_relu_forward(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for x, W, b in (_dense_inputs(rng), _kinked_inputs(rng)):
        z = x @ W + b
        probes.append(
            Probe(args=(x, W, b), expected=(np.maximum(z, 0), (x, W, b, z)), rtol=1e-10, atol=1e-12)
        )
    return probes


def probes_numerical_gradient(rng: np.random.Generator) -> list[Probe]:
    """A grader function with a known gradient (``_probe_functions.smooth_scalar``): the
    default step against the exact gradient, h = 1e-2 against the centred difference with
    that step (a one-sided or fixed-step version misses it), and x restored."""
    from relu_course.checks import _probe_functions

    f = Arg("relu_course.checks._probe_functions:smooth_scalar", "function")
    probes = []
    for shape in [(5,), (3, 2)]:
        x = rng.normal(size=shape)
        probes.append(
            Probe(
                args=(f, x),
                expected=_probe_functions.smooth_scalar_gradient(x),
                rtol=1e-6,
                atol=1e-8,
            )
        )
    x = rng.normal(size=(4,))
    centred = reference_numerical_gradient(_probe_functions.smooth_scalar, x.copy(), h=1e-2)
    probes.append(Probe(args=(f, x, 1e-2), expected=centred, rtol=1e-7, atol=1e-9))
    while not _roundtrip_breaks(x, 1e-5):
        x = rng.normal(size=(4,))
    probes.append(Probe(args=(f, x), mode="input_after", input_index=1, expected=x.copy()))
    return probes


def probes_dense_relu_backward(rng: np.random.Generator) -> list[Probe]:
    """Caches with exact zeros in z (ReLU′(0) = 0) and kink-free random ones."""
    probes = []
    for x, W, b in (_kinked_inputs(rng), _dense_inputs(rng, kink_free=True)):
        z = x @ W + b
        dout = rng.normal(size=z.shape)
        dz = dout * (z > 0)
        probes.append(
            Probe(
                args=(dout, Arg((x, W, b, z), "tuple")),
                expected=(dz @ W.T, x.T @ dz, dz.sum(axis=0)),
                rtol=1e-10,
                atol=1e-12,
            )
        )
    return probes


EXERCISES = [
    Exercise("numerical_gradient", notebook="01_relu", points=2, probes=probes_numerical_gradient),
    Exercise("relative_error", notebook="01_relu", points=1, probes=probes_relative_error),
    Exercise("dense_relu_forward", notebook="01_relu", points=2, probes=probes_dense_relu_forward),
    Exercise(
        "dense_relu_backward", notebook="01_relu", points=3, probes=probes_dense_relu_backward
    ),
]
