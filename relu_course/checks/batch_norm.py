"""Checks for notebook 06 (batch normalization): batchnorm_forward, update_moving_average,
bn_relu_block, batchnorm_backward; and the probes the grader re-verifies them with.

The NumPy references (forward, inference, backward) live once, in
:mod:`relu_course.batch_norm`; the checks compare with Keras/TensorFlow as well."""

from __future__ import annotations

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Exercise, Probe

__all__ = [
    "check_batchnorm_backward",
    "check_batchnorm_forward",
    "check_bn_relu_block",
    "check_update_moving_average",
]


def _keras_bn(x, gamma, beta, eps):
    """keras.layers.BatchNormalization(epsilon=eps) in training mode, with gamma and beta set."""
    import keras

    layer = keras.layers.BatchNormalization(epsilon=eps)
    layer.build(x.shape)
    layer.gamma.assign(gamma.astype(np.float32))
    layer.beta.assign(beta.astype(np.float32))
    return np.asarray(layer(x.astype(np.float32), training=True), dtype=np.float64)


def _bn_variants(x, gamma, beta, eps):
    """Named misconceptions of the BN transform, computed in float64."""
    x = x.astype(np.float64)
    mean, var = x.mean(0), x.var(0)
    return {
        "the variance is divided by n − 1 (unbiased); BN (Keras, Ioffe & Szegedy) uses the "
        "biased batch variance, divided by n, as the docstring says": (x - mean)
        / np.sqrt(x.var(0, ddof=1) + eps)
        * gamma
        + beta,
        "eps is added outside the square root; the docstring puts it inside, with the variance": (
            x - mean
        )
        / (np.sqrt(var) + eps)
        * gamma
        + beta,
        "the statistics are taken over the features (axis 1); BN normalises each feature "
        "over the batch, the first axis": (x - x.mean(1, keepdims=True))
        / np.sqrt(x.var(1, keepdims=True) + eps)
        * gamma
        + beta,
        "gamma and beta are swapped: gamma scales (multiplies), beta shifts (adds)": (x - mean)
        / np.sqrt(var + eps)
        * beta
        + gamma,
        "eps looks like PyTorch's default 1e-5; use the eps argument (Keras's default 1e-3)": (
            x - mean
        )
        / np.sqrt(var + 1e-5)
        * gamma
        + beta,
        "this is the normalised x without gamma and beta; scale by gamma and add beta": (x - mean)
        / np.sqrt(var + eps),
        "eps looks ignored (or fixed at 1e-3): use the eps argument you are given": (x - mean)
        / np.sqrt(var + 1e-3)
        * gamma
        + beta,
    }


def _bn_hint(x, gamma, beta, eps, got) -> str:
    for hint, wrong in _bn_variants(x, gamma, beta, eps).items():
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-4, atol=1e-4):
            return hint
    return (
        "training-mode BN standardises each feature with its own batch mean and biased batch "
        "variance (eps inside the square root), then scales by gamma and shifts by beta: "
        "compare your steps with section 1"
    )


def _bn_inputs(rng):
    """(x, gamma, beta, eps) with features of very different scales (some with a variance
    comparable to eps, so where eps goes matters) and shifted means."""
    cases = []
    for eps in (None, float(rng.choice([0.1, 1e-2])), 1e-5):
        batch, features = int(rng.integers(6, 40)), int(rng.integers(3, 12))
        scale = np.exp(rng.uniform(np.log(0.01), np.log(5.0), size=features))
        x = rng.normal(size=(batch, features)) * scale + rng.normal(scale=3.0, size=features)
        gamma = rng.uniform(0.5, 2.0, size=features) * rng.choice([-1, 1], size=features)
        beta = rng.normal(scale=2.0, size=features)
        cases.append((x.astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32), eps))
    return cases


def check_batchnorm_forward(batchnorm_forward) -> None:
    """Training-mode BN over the batch axis, compared with keras.layers.BatchNormalization."""
    check = Check("batchnorm_forward", batchnorm_forward)
    for _ in check.devices():
        for x, gamma, beta, eps in _bn_inputs(check.rng):
            used_eps = 1e-3 if eps is None else eps
            on = f"x = {describe(x)}, gamma = {describe(gamma)}, beta = {describe(beta)}, " + (
                "eps left at its default" if eps is None else f"eps = {eps:g}"
            )
            args = (x, gamma, beta) if eps is None else (x, gamma, beta, eps)
            got = check.expect_array(check.call(*args, on=on), on)
            expected = _keras_bn(x, gamma, beta, used_eps)
            if got.shape != expected.shape:
                check.fail(
                    f"batchnorm_forward returned shape {got.shape}, expected {expected.shape}",
                    on=on,
                    hint="the output has the shape of x; mean and var have one value "
                    "per feature (keepdims or broadcasting)",
                )
            if not np.issubdtype(got.dtype, np.floating):
                check.fail(
                    f"batchnorm_forward returned dtype {got.dtype}", on=on, hint="return floats"
                )
            check.expect_close(
                got,
                expected,
                on,
                rtol=2e-4,
                atol=2e-4,
                hint=_bn_hint(x, gamma, beta, used_eps, got),
            )
    check.passed("matches keras.layers.BatchNormalization(training=True), default and explicit eps")


def check_update_moving_average(update_moving_average) -> None:
    """Keras's convention momentum·moving + (1 − momentum)·batch_value, compared with a Keras
    BatchNormalization layer's own moving statistics."""
    import keras

    check = Check("update_moving_average", update_moving_average)
    rng = check.rng
    for _ in check.devices():
        for momentum in (None, float(rng.uniform(0.5, 0.95)), 0.9, float(rng.uniform(0.95, 0.999))):
            features = int(rng.integers(2, 9))
            moving = rng.normal(size=features).astype(np.float32)
            batch_value = rng.normal(scale=3.0, size=features).astype(np.float32)
            m = 0.99 if momentum is None else momentum
            on = f"moving = {describe(moving)}, batch_value = {describe(batch_value)}, " + (
                "momentum left at its default" if momentum is None else f"momentum = {momentum:.4g}"
            )
            args = (moving, batch_value) if momentum is None else (moving, batch_value, momentum)
            result = check.call(*args, on=on)
            got = check.expect_array(result, on)
            expected = m * moving.astype(np.float64) + (1 - m) * batch_value
            if got.shape != expected.shape:
                check.fail(
                    f"update_moving_average returned shape {got.shape}, expected {expected.shape}",
                    on=on,
                    hint="the update is elementwise",
                )
            pytorch = (1 - m) * moving.astype(np.float64) + m * batch_value
            if np.allclose(got, pytorch, rtol=1e-5, atol=1e-5):
                hint = (
                    "this is PyTorch's convention, where momentum weights the *new* batch "
                    "value; in Keras momentum weights the old moving value (see the docstring)"
                )
            elif momentum is None:
                hint = "the default momentum is Keras's 0.99"
            else:
                hint = (
                    "the update is a weighted average of the old moving value and the batch "
                    "value, with weights momentum and 1 − momentum (section 2)"
                )
            check.expect_close(got, expected, on, rtol=1e-5, atol=1e-5, hint=hint)
        # The reference Keras itself uses: one training-mode call of a BN layer.
        momentum = float(rng.uniform(0.6, 0.99))
        x = rng.normal(loc=2.0, scale=3.0, size=(32, 4)).astype(np.float32)
        layer = keras.layers.BatchNormalization(momentum=momentum)
        layer.build(x.shape)
        old_mean = np.asarray(layer.moving_mean).copy()
        old_var = np.asarray(layer.moving_variance).copy()
        layer(x, training=True)
        on = f"a Keras BatchNormalization(momentum={momentum:.3f}) after one batch {describe(x)}"
        for name, old, batch, new in (
            ("moving_mean", old_mean, x.mean(0), layer.moving_mean),
            ("moving_variance", old_var, x.var(0), layer.moving_variance),
        ):
            got = check.expect_array(check.call(old, batch.astype(np.float32), momentum, on=on), on)
            check.expect_close(
                got,
                np.asarray(new),
                on,
                rtol=1e-4,
                atol=1e-4,
                what=f"update_moving_average disagrees with Keras's {name}",
            )
    check.passed(
        "Keras's momentum convention, default 0.99, agrees with a BatchNormalization layer"
    )


def _describe_layers(layers) -> str:
    return "[" + ", ".join(type(layer).__name__ for layer in layers) + "]"


def _is_relu(layer) -> bool:
    import keras

    from relu_course.probes import is_relu_layer

    return is_relu_layer(layer) and not isinstance(layer, keras.layers.Dense)


def _reference_block(layers, x, order):
    """The block's forward pass in NumPy from the layers' own weights (BN in training mode)."""
    import keras

    from relu_course.batch_norm import batchnorm_forward

    dense = next(layer for layer in layers if isinstance(layer, keras.layers.Dense))
    bn = next(layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization))
    kernel = np.asarray(dense.kernel, dtype=np.float64)
    bias = np.asarray(dense.bias, dtype=np.float64) if dense.use_bias else 0.0
    gamma = np.ones(dense.units) if bn.gamma is None else np.asarray(bn.gamma, dtype=np.float64)
    beta = np.zeros(dense.units) if bn.beta is None else np.asarray(bn.beta, dtype=np.float64)
    h = x.astype(np.float64) @ kernel + bias
    if order == "before":
        return np.maximum(batchnorm_forward(h, gamma, beta, bn.epsilon), 0)
    return batchnorm_forward(np.maximum(h, 0), gamma, beta, bn.epsilon)


def check_bn_relu_block(bn_relu_block) -> None:
    """The layer lists for BN before / after the ReLU: structure, forward pass, and a real fit."""
    import keras

    check = Check("bn_relu_block", bn_relu_block)
    rng = check.rng
    for order in ("before", "after"):
        units = int(rng.integers(4, 24))
        on = f"units = {units}, order = {order!r}"
        layers = _block_layers(check, check.call(units, order, on=on), on)
        dense, bn = _check_block_structure(check, layers, units, order, on)
        _check_block_forward(check, layers, dense, bn, units, order, rng, on)
        again = check.call(units, order, on=on)
        again = list(again.layers) if isinstance(again, keras.Sequential) else list(again)
        if any(a is b for a in again for b in layers):
            check.fail(
                "bn_relu_block returned the same layer objects twice",
                on=on,
                hint="create new layers on every call, so that blocks can be stacked",
            )
    _check_blocks_train(check, rng)
    check.passed("before and after orders, forward pass in training mode, a short fit")


def _block_layers(check: Check, layers, on: str) -> list:
    """The block as a list of Keras layers (a Sequential's layers are accepted)."""
    import keras

    if isinstance(layers, keras.Sequential):
        layers = list(layers.layers)
    if not isinstance(layers, list | tuple) or not all(
        isinstance(layer, keras.layers.Layer) for layer in layers
    ):
        check.fail(
            f"bn_relu_block returned {describe(layers)}, not a list of Keras layers",
            on=on,
            hint="return a Python list of newly created Keras layer objects, in the order "
            "the docstring gives for this `order`",
        )
    return layers


def _check_block_structure(check: Check, layers, units: int, order: str, on: str):
    """One Dense of ``units`` units, one BatchNormalization with gamma and beta, a plain
    ReLU, in the order ``order`` asks for (no bias before BN). Returns (dense, bn)."""
    import keras

    kinds = _describe_layers(layers)
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    bns = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    relus = [layer for layer in layers if _is_relu(layer)]
    folded_relu = any(
        getattr(getattr(d, "activation", None), "__name__", "") == "relu" for d in dense
    )
    if len(dense) != 1 or len(bns) != 1:
        check.fail(
            f"the block is {kinds}; expected exactly one Dense and one BatchNormalization",
            on=on,
            hint="batch normalization normalises each unit over the batch (section 1): "
            "keras.layers.BatchNormalization, not another normalisation layer, and a single "
            "Dense layer per block",
        )
    if dense[0].units != units:
        check.fail(
            f"the Dense layer has {dense[0].units} units, expected {units}",
            on=on,
            hint="the Dense layer's width is the `units` argument",
        )
    if not (bns[0].scale and bns[0].center):
        check.fail(
            "the BatchNormalization layer has no learned "
            + ("scale gamma (scale=False)" if not bns[0].scale else "shift beta (center=False)"),
            on=on,
            hint="the block uses BN as Ioffe & Szegedy define it, with both learned "
            "parameters (Keras's defaults): the grader sets gamma and beta itself",
        )
    if not relus and not folded_relu:
        check.fail(
            f"the block {kinds} has no ReLU",
            on=on,
            hint="the block needs a plain ReLU (no leak, no cap such as ReLU6) where the "
            "docstring's order puts it",
        )
    position = {id(layer): i for i, layer in enumerate(layers)}
    if order == "before":
        if dense[0].use_bias:
            check.fail(
                f"with order='before' the Dense layer has a bias ({kinds})",
                on=on,
                hint="BN subtracts the batch mean, so a bias before it does nothing: turn "
                "the Dense layer's bias off (BN's beta takes its place)",
            )
        if folded_relu or not (
            position[id(dense[0])] < position[id(bns[0])] < position[id(relus[0])]
        ):
            check.fail(
                f"with order='before' the layers must be Dense → BatchNormalization "
                f"→ ReLU, got {kinds}"
                + (" with the ReLU inside the Dense layer" if folded_relu else ""),
                on=on,
                hint="'before' means BN is applied before the ReLU: keep the Dense layer linear",
            )
    else:
        relu_at = position[id(dense[0])] if folded_relu else position[id(relus[0])]
        if not (position[id(dense[0])] <= relu_at < position[id(bns[0])]):
            check.fail(
                f"with order='after' the layers must be Dense → ReLU → "
                f"BatchNormalization, got {kinds}",
                on=on,
                hint="'after' means BN normalises the ReLU's output",
            )
    return dense[0], bns[0]


def _check_block_forward(check: Check, layers, dense, bn, units: int, order: str, rng, on: str):
    """The block's forward pass in training mode, with random BN parameters (and bias),
    against a NumPy reference computed from the layers' own weights."""
    import keras

    model = keras.Sequential([keras.Input((5,)), *layers])
    if bn.gamma is not None:
        bn.gamma.assign(rng.uniform(0.5, 2.0, size=units).astype(np.float32))
    if bn.beta is not None:
        bn.beta.assign(rng.normal(size=units).astype(np.float32))
    if dense.use_bias:
        dense.bias.assign(rng.normal(size=units).astype(np.float32))
    x = rng.normal(size=(16, 5)).astype(np.float32)
    got = np.asarray(model(x, training=True))
    check.expect_close(
        got,
        _reference_block(layers, x, order),
        on + ", training mode",
        rtol=1e-3,
        atol=1e-3,
        what=f"the block with order={order!r} computes the wrong function",
        hint="check the order of the layers and that BN is not configured differently (axis=-1)",
    )


def _check_blocks_train(check: Check, rng) -> None:
    """A model of one block of each order, fitted for two epochs: finite loss, and BN's
    moving mean updated."""
    import keras

    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    stack = [keras.Input((6,))]
    for order in ("before", "after"):
        stack += list(check.call(8, order, on=f"units = 8, order = {order!r}"))
    model = keras.Sequential([*stack, keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    before = [np.asarray(bn.moving_mean).copy() for bn in bns]
    history = check.call(
        x,
        y,
        on="a two-block model on 96 random examples",
        target=lambda a, b: model.fit(a, b, epochs=2, batch_size=32, verbose=0),
        stub=False,
    )
    if not np.all(np.isfinite(history.history["loss"])):
        check.fail(
            "a model built from your blocks produced a non-finite loss in training",
            got=str(history.history["loss"]),
            hint="look for a layer that divides by a batch statistic without eps, or an "
            "activation that grows without bound",
        )
    if any(
        np.array_equal(b, np.asarray(bn.moving_mean)) for b, bn in zip(before, bns, strict=True)
    ):
        check.fail(
            "training a model built from your blocks did not update BN's moving mean",
            hint="use keras.layers.BatchNormalization() (not a frozen or custom layer)",
        )


# ------------------------------------------------------------------ batchnorm_backward
def _backward_parts(dout, x, gamma, eps, ddof=0, eps_outside=False):
    """(dx, dgamma, dbeta), float64, of a *mis-specified* BN forward pass (for the hints):
    the unbiased variance (``ddof=1``) or eps outside the square root. The correct gradients
    come from :func:`relu_course.batch_norm.batchnorm_backward` and tf.GradientTape."""
    dout, x, gamma = (np.asarray(a, dtype=np.float64) for a in (dout, x, gamma))
    n = x.shape[0]
    xc = x - x.mean(0)
    var = (xc**2).sum(0) / (n - ddof)
    if eps_outside:
        sigma = np.sqrt(var)
        scale = 1.0 / (sigma + eps)  # x̂ = xc · scale
        dscale_dvar = -(scale**2) / (2 * sigma)
    else:
        scale = 1.0 / np.sqrt(var + eps)
        dscale_dvar = -0.5 * scale**3
    x_hat = xc * scale
    dx_hat = dout * gamma
    dvar = (dx_hat * xc).sum(0) * dscale_dvar
    dxc = dx_hat * scale + dvar * 2 * xc / (n - ddof)
    dx = dxc - dxc.mean(0)
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _dx_variants(dout, x, gamma, eps, explicit_eps) -> dict[str, np.ndarray]:
    """Named misconceptions of dx (float64)."""
    from relu_course.batch_norm import batchnorm_backward

    dout, x, gamma = (np.asarray(a, dtype=np.float64) for a in (dout, x, gamma))
    inv = 1.0 / np.sqrt(x.var(0) + eps)
    x_hat = (x - x.mean(0)) * inv
    g = dout.mean(0)
    h = (dout * x_hat).mean(0)
    variants = {
        "the path through the variance is missing: σ² depends on every x_i, so each x_i also "
        "receives a share of the gradient that reaches σ² (through the normalising scale)": (
            gamma * inv * (dout - g)
        ),
        "the path through the mean is missing: μ depends on every x_i, so each x_i also "
        "receives a share of the gradient that reaches μ": gamma * inv * (dout - x_hat * h),
        "the batch mean and variance were treated as constants: in training mode both "
        "depend on x, and the gradient flows through them too": gamma * inv * dout,
        "the variance path is off by a factor 2: check the derivative of the square root "
        "(d√v/dv = 1/(2√v)) and of the squared deviations": (
            gamma * inv * (dout - g - 2 * x_hat * h)
        ),
        "the variance path is off by a factor 1/2: check the derivative of the square root "
        "(d√v/dv = 1/(2√v)) and of the squared deviations": (
            gamma * inv * (dout - g - 0.5 * x_hat * h)
        ),
        "gamma is missing from dx: the upstream gradient reaches x̂ multiplied by gamma": (
            inv * (dout - g - x_hat * h)
        ),
        "dx is the gradient of BN with the unbiased variance (divide by n − 1); training-mode "
        "BN uses the biased batch variance (divide by n)": _backward_parts(
            dout, x, gamma, eps, ddof=1
        )[0],
        "dx is the gradient of BN with eps outside the square root; as in the forward pass, "
        "eps belongs inside it": _backward_parts(dout, x, gamma, eps, eps_outside=True)[0],
    }
    if explicit_eps:
        variants["eps looks fixed at 1e-3: use the eps argument you are given"] = (
            batchnorm_backward(dout, x, gamma, 1e-3)[0]
        )
    else:
        variants["eps looks like PyTorch's 1e-5; the default here is Keras's 1e-3"] = (
            batchnorm_backward(dout, x, gamma, 1e-5)[0]
        )
    return variants


def _dgamma_variants(dout, x, gamma, eps) -> dict[str, np.ndarray]:
    dout, x = np.asarray(dout, dtype=np.float64), np.asarray(x, dtype=np.float64)
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)
    return {
        "dgamma is averaged over the batch; gamma is shared by every example, so its "
        "gradient is the *sum* of the per-example contributions": (dout * x_hat).mean(0),
        "dgamma uses x instead of the normalised x̂: gamma multiplies x̂": (dout * x).sum(0),
        "dgamma and dbeta look swapped: return (dx, dgamma, dbeta)": dout.sum(0),
        "dgamma is the gradient for BN with the unbiased variance (divide by n − 1)": (
            _backward_parts(dout, x, gamma, eps, ddof=1)[1]
        ),
        "dgamma is the gradient for BN with eps outside the square root": _backward_parts(
            dout, x, gamma, eps, eps_outside=True
        )[1],
    }


def _dbeta_variants(dout, x, eps) -> dict[str, np.ndarray]:
    dout, x = np.asarray(dout, dtype=np.float64), np.asarray(x, dtype=np.float64)
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)
    return {
        "dbeta is averaged over the batch; beta is shared by every example, so its "
        "gradient is the *sum* of the upstream gradients": dout.mean(0),
        "dgamma and dbeta look swapped: return (dx, dgamma, dbeta)": (dout * x_hat).sum(0),
    }


def _matching(variants: dict[str, np.ndarray], got: np.ndarray, rtol: float, atol: float):
    return [
        hint
        for hint, wrong in variants.items()
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=rtol, atol=atol)
    ]


def _tape_gradients(dout, x, gamma, eps):
    """(dx, dgamma, dbeta) from tf.GradientTape through tf.nn.moments +
    tf.nn.batch_normalization (TensorFlow's own training-mode BN), in float64."""
    import tensorflow as tf

    xt = tf.constant(np.asarray(x, np.float64))
    gt = tf.constant(np.asarray(gamma, np.float64))
    bt = tf.zeros_like(gt)
    with tf.GradientTape() as tape:
        tape.watch([xt, gt, bt])
        mean, var = tf.nn.moments(xt, axes=[0])
        y = tf.nn.batch_normalization(xt, mean, var, bt, gt, eps)
        loss = tf.reduce_sum(y * np.asarray(dout, np.float64))
    return tuple(np.asarray(g) for g in tape.gradient(loss, [xt, gt, bt]))


def _backward_inputs(rng):
    """(dout, x, gamma, eps) cases: small batches (so the 1/n terms matter), features of
    very different scales (one with a variance near eps), gamma of both signs, upstream
    gradients with a non-zero mean per feature; float64, and one float32 case."""
    cases = []
    for eps, dtype in ((None, np.float64), (float(rng.choice([0.1, 1e-2])), np.float64),
                       (1e-5, np.float64), (None, np.float32)):  # fmt: skip
        batch, features = int(rng.integers(3, 13)), int(rng.integers(2, 7))
        scale = np.exp(rng.uniform(np.log(0.02), np.log(4.0), size=features))
        scale[0] = 0.03  # variance ≈ 1e-3: where eps goes matters
        x = rng.normal(size=(batch, features)) * scale + rng.normal(scale=3.0, size=features)
        gamma = rng.uniform(0.5, 2.0, size=features) * rng.choice([-1, 1], size=features)
        dout = rng.normal(size=(batch, features)) + rng.normal(size=features)
        cases.append((dout.astype(dtype), x.astype(dtype), gamma.astype(dtype), eps))
    return cases


def check_batchnorm_backward(batchnorm_backward) -> None:
    """(dx, dgamma, dbeta) of training-mode BN, compared with tf.GradientTape and with the
    numerical gradient of the forward pass."""
    check = Check("batchnorm_backward", batchnorm_backward)
    for _ in check.devices():
        for dout, x, gamma, eps in _backward_inputs(check.rng):
            _check_backward_case(check, dout, x, gamma, eps)
        _check_dx_numerically(check, *_backward_inputs(check.rng)[0][:3])
    check.passed(
        "dx, dgamma and dbeta agree with tf.GradientTape and the numerical gradient, "
        "default and explicit eps, float64 and float32"
    )


def _check_backward_case(check: Check, dout, x, gamma, eps) -> None:
    """Three float arrays of the right shapes, each equal to tf.GradientTape's gradient; a
    wrong one is named after the misconception it matches."""
    used_eps = 1e-3 if eps is None else eps
    on = f"dout = {describe(dout)}, x = {describe(x)}, gamma = {describe(gamma)}, " + (
        "eps left at its default" if eps is None else f"eps = {eps:g}"
    )
    args = (dout, x, gamma) if eps is None else (dout, x, gamma, eps)
    result = check.call(*args, on=on)
    if not isinstance(result, tuple | list) or len(result) != 3:
        check.fail(
            f"batchnorm_backward returned {describe(result)}, not a tuple of three arrays",
            on=on,
            hint="return the three gradients as one tuple, in the docstring's order",
        )
    got = [check.expect_array(part, on) for part in result]
    expected = _tape_gradients(dout, x, gamma, used_eps)
    float32 = x.dtype == np.float32
    rtol = 1e-3 if float32 else 1e-6
    for name, g, e in zip(("dx", "dgamma", "dbeta"), got, expected, strict=True):
        if g.shape != e.shape:
            summed = name != "dx" and g.shape == x.shape
            check.fail(
                f"{name} has shape {g.shape}, expected {e.shape}",
                on=on,
                hint=f"{name[1:]} is shared by every example of the batch: its gradient "
                "sums the per-example contributions over the batch axis"
                if summed
                else f"{name} has the shape of {'x' if name == 'dx' else name[1:]}",
            )
        if not np.issubdtype(g.dtype, np.floating):
            check.fail(f"{name} has dtype {g.dtype}", on=on, hint="return float arrays")
        atol = (1e-4 if float32 else 1e-9) * max(1.0, float(np.abs(e).max()))
        if np.allclose(g, e, rtol=rtol, atol=atol):
            continue
        if name == "dx":
            variants = _dx_variants(dout, x, gamma, used_eps, eps is not None)
        elif name == "dgamma":
            variants = _dgamma_variants(dout, x, gamma, used_eps)
        else:
            variants = _dbeta_variants(dout, x, used_eps)
        named = _matching(variants, g, rtol, atol)
        if not named and name == "dx":
            named = [
                "compare your dx with the numerical gradient (relu_course.backprop."
                "numerical_gradient) of sum(dout · batchnorm_forward(x, ...)) on a "
                "small input; x reaches the output through x − μ, through μ and "
                "through σ²: all three paths add up"
            ]
        check.expect_close(
            g, e, on, rtol=rtol, atol=atol, what=f"{name} is wrong", hint=" / ".join(named) or None
        )


def _check_dx_numerically(check: Check, dout, x, gamma) -> None:
    """The second reference: dx against the numerical gradient of the forward pass (float64,
    default eps)."""
    from relu_course.backprop import numerical_gradient
    from relu_course.batch_norm import batchnorm_forward

    dx = check.expect_array(check.call(dout, x, gamma, on="a float64 batch")[0], "")

    def loss(value, gamma=gamma, dout=dout):
        return float(np.sum(batchnorm_forward(value, gamma, np.zeros_like(gamma)) * dout))

    numeric = numerical_gradient(loss, x.copy())
    check.expect_close(
        dx,
        numeric,
        f"dout = {describe(dout)}, x = {describe(x)}, gamma = {describe(gamma)}",
        rtol=1e-4,
        atol=1e-6 * max(1.0, float(np.abs(numeric).max())),
        what="dx disagrees with the numerical gradient of the forward pass",
    )


# ------------------------------------------------------------------ grading probes
def probes_update_moving_average(rng: np.random.Generator) -> list[Probe]:
    from relu_course.batch_norm import update_moving_average

    moving, batch = rng.normal(size=6), rng.normal(size=6)
    momentum = float(rng.uniform(0.5, 0.99))
    return [
        Probe(
            args=(moving, batch),
            kwargs={"momentum": momentum},
            expected=update_moving_average(moving, batch, momentum),
            atol=1e-12,
        ),
        Probe(args=(moving, batch), expected=update_moving_average(moving, batch), atol=1e-12),
        Probe(args=(moving, batch), mode="input_after", expected=moving.copy()),
    ]


def probes_batchnorm_forward(rng: np.random.Generator) -> list[Probe]:
    from relu_course.batch_norm import batchnorm_forward

    n, d = int(rng.integers(8, 20)), int(rng.integers(2, 6))
    data = rng.normal(loc=2.0, scale=3.0, size=(n, d))
    data[:, 0] = 5.0 + 1e-3 * rng.normal(size=n)  # variance near eps: where eps goes matters
    gamma, beta = rng.uniform(0.5, 2.0, size=d), rng.normal(size=d)
    return [
        Probe(args=(data, gamma, beta), expected=batchnorm_forward(data, gamma, beta), atol=1e-9),
        Probe(
            args=(data, gamma, beta),
            kwargs={"eps": 1e-5},
            expected=batchnorm_forward(data, gamma, beta, eps=1e-5),
            atol=1e-9,
        ),
        Probe(args=(data, gamma, beta), mode="input_after", expected=data.copy()),
    ]


def probes_batchnorm_backward(rng: np.random.Generator) -> list[Probe]:
    from relu_course.batch_norm import batchnorm_backward

    n, d = int(rng.integers(4, 12)), int(rng.integers(2, 6))
    x = rng.normal(loc=2.0, scale=3.0, size=(n, d))
    x[:, 0] = 5.0 + 0.03 * rng.normal(size=n)  # variance near eps: where eps goes matters
    gamma = rng.uniform(0.5, 2.0, size=d) * rng.choice([-1, 1], size=d)
    dout = rng.normal(size=(n, d)) + rng.normal(size=d)
    return [
        Probe(
            args=(dout, x, gamma),
            expected=batchnorm_backward(dout, x, gamma),
            rtol=1e-7,
            atol=1e-9,
            about="(dx, dgamma, dbeta), default eps",
        ),
        Probe(
            args=(dout, x, gamma),
            kwargs={"eps": 1e-2},
            expected=batchnorm_backward(dout, x, gamma, eps=1e-2),
            rtol=1e-7,
            atol=1e-9,
            about="(dx, dgamma, dbeta), eps = 1e-2",
        ),
        Probe(args=(dout, x, gamma), mode="input_after", input_index=1, expected=x.copy()),
        Probe(args=(dout, x, gamma), mode="input_after", input_index=0, expected=dout.copy()),
    ]


def probes_bn_relu_block(rng: np.random.Generator) -> list[Probe]:
    """Both orders, each in training mode (batch statistics) and inference mode (the moving
    statistics the grader sets), with grader-chosen weights."""
    from relu_course.batch_norm import batchnorm_forward, batchnorm_inference

    features, units = 5, int(rng.integers(3, 9))
    x = rng.normal(loc=1.0, scale=2.0, size=(16, features)).astype(np.float32)
    kernel = rng.normal(scale=0.5, size=(features, units)).astype(np.float32)
    bias = rng.normal(size=units).astype(np.float32)
    gamma = rng.uniform(0.5, 2.0, size=units).astype(np.float32)
    beta = rng.normal(size=units).astype(np.float32)
    moving_mean = rng.normal(size=units).astype(np.float32)
    moving_var = rng.uniform(0.5, 3.0, size=units).astype(np.float32)
    bn_weights = (gamma, beta, moving_mean, moving_var)
    x64 = x.astype(np.float64)

    def bn(h, training):
        if training:
            return batchnorm_forward(h, gamma, beta)
        return batchnorm_inference(h, gamma, beta, moving_mean, moving_var)

    probes = []
    for training in (True, False):
        before = np.maximum(bn(x64 @ kernel, training), 0)
        after = bn(np.maximum(x64 @ kernel + bias, 0), training)
        mode = "training" if training else "inference"
        for order, weights, expected in (
            ("before", (kernel, *bn_weights), before),
            ("after", (kernel, bias, *bn_weights), after),
        ):
            probes.append(
                Probe(
                    args=(units, order),
                    mode="layers_output",
                    layer_input=x,
                    weights=weights,
                    training=training,
                    expected=expected.astype(np.float32),
                    rtol=1e-4,
                    atol=1e-4,
                    same_dtype=False,
                    about=f"bn_relu_block({units}, {order!r}) with set weights, {mode} mode",
                )
            )
    return probes


EXERCISES = [
    Exercise(
        "batchnorm_forward", notebook="06_batch_norm", points=3, probes=probes_batchnorm_forward
    ),
    Exercise(
        "update_moving_average",
        notebook="06_batch_norm",
        points=2,
        probes=probes_update_moving_average,
    ),
    Exercise("bn_relu_block", notebook="06_batch_norm", points=2, probes=probes_bn_relu_block),
    Exercise(
        "batchnorm_backward",
        notebook="06_batch_norm",
        points=3,
        probes=probes_batchnorm_backward,
    ),
]
