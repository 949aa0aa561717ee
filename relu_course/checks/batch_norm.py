"""Checks for notebook 06 (batch normalization): batchnorm_forward, update_moving_average,
bn_relu_block."""

from __future__ import annotations

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Exercise, Probe

__all__ = ["check_batchnorm_forward", "check_bn_relu_block", "check_update_moving_average"]


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
        "biased batch variance, np.var(x, axis=0) with the default ddof=0": (x - mean)
        / np.sqrt(x.var(0, ddof=1) + eps)
        * gamma
        + beta,
        "eps is added outside the square root; it belongs inside: (x − mean) / sqrt(var + eps)": (
            x - mean
        )
        / (np.sqrt(var) + eps)
        * gamma
        + beta,
        "the statistics are taken over the features (axis 1); BN normalises each feature "
        "over the batch axis (axis=0)": (x - x.mean(1, keepdims=True))
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
        "training-mode BN is (x − mean) / sqrt(var + eps) · gamma + beta, with mean and "
        "(biased) var of each feature over the batch axis"
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
                    "value; in Keras momentum weights the old moving value: "
                    "momentum·moving + (1 − momentum)·batch_value"
                )
            elif momentum is None:
                hint = "the default momentum is Keras's 0.99"
            else:
                hint = "moving ← momentum·moving + (1 − momentum)·batch_value"
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

    dense = next(layer for layer in layers if isinstance(layer, keras.layers.Dense))
    bn = next(layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization))
    kernel = np.asarray(dense.kernel, dtype=np.float64)
    bias = np.asarray(dense.bias, dtype=np.float64) if dense.use_bias else 0.0
    gamma = 1.0 if bn.gamma is None else np.asarray(bn.gamma, dtype=np.float64)
    beta = 0.0 if bn.beta is None else np.asarray(bn.beta, dtype=np.float64)
    h = x.astype(np.float64) @ kernel + bias

    def normalise(v):
        return (v - v.mean(0)) / np.sqrt(v.var(0) + bn.epsilon) * gamma + beta

    if order == "before":
        return np.maximum(normalise(h), 0)
    return normalise(np.maximum(h, 0))


def check_bn_relu_block(bn_relu_block) -> None:
    """The layer lists for BN before / after the ReLU: structure, forward pass, and a real fit."""
    import keras

    check = Check("bn_relu_block", bn_relu_block)
    rng = check.rng
    for order in ("before", "after"):
        units = int(rng.integers(4, 24))
        on = f"units = {units}, order = {order!r}"
        layers = check.call(units, order, on=on)
        if isinstance(layers, keras.Sequential):
            layers = list(layers.layers)
        if not isinstance(layers, list | tuple) or not all(
            isinstance(layer, keras.layers.Layer) for layer in layers
        ):
            check.fail(
                f"bn_relu_block returned {describe(layers)}, not a list of Keras layers",
                on=on,
                hint="return e.g. [layers.Dense(...), layers.BatchNormalization(), layers.ReLU()]",
            )
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
            )
        if dense[0].units != units:
            check.fail(f"the Dense layer has {dense[0].units} units, expected {units}", on=on)
        if not relus and not folded_relu:
            check.fail(
                f"the block {kinds} has no ReLU",
                on=on,
                hint="add layers.ReLU() (or layers.Activation('relu')) at the right place",
            )
        position = {id(layer): i for i, layer in enumerate(layers)}
        if order == "before":
            if dense[0].use_bias:
                check.fail(
                    f"with order='before' the Dense layer has a bias ({kinds})",
                    on=on,
                    hint="BN subtracts the batch mean, so a bias before it does nothing: "
                    "use Dense(units, use_bias=False) (BN's beta is the bias)",
                )
            if folded_relu or not (
                position[id(dense[0])] < position[id(bns[0])] < position[id(relus[0])]
            ):
                check.fail(
                    f"with order='before' the layers must be Dense → BatchNormalization "
                    f"→ ReLU, got {kinds}"
                    + (" with the ReLU inside the Dense layer" if folded_relu else ""),
                    on=on,
                    hint="'before' means BN is applied before the ReLU: "
                    "keep the Dense layer linear",
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
        # The forward pass, with random BN parameters, against a NumPy reference.
        model = keras.Sequential([keras.Input((5,)), *layers])
        bn = bns[0]
        if bn.gamma is not None:
            bn.gamma.assign(rng.uniform(0.5, 2.0, size=units).astype(np.float32))
        if bn.beta is not None:
            bn.beta.assign(rng.normal(size=units).astype(np.float32))
        if dense[0].use_bias:
            dense[0].bias.assign(rng.normal(size=units).astype(np.float32))
        x = rng.normal(size=(16, 5)).astype(np.float32)
        got = np.asarray(model(x, training=True))
        check.expect_close(
            got,
            _reference_block(layers, x, order),
            on + ", training mode",
            rtol=1e-3,
            atol=1e-3,
            what=f"the block with order={order!r} computes the wrong function",
            hint="check the order of the layers and that BN is not "
            "configured differently (axis=-1)",
        )
        again = check.call(units, order, on=on)
        again = list(again.layers) if isinstance(again, keras.Sequential) else list(again)
        if any(a is b for a in again for b in layers):
            check.fail(
                "bn_relu_block returned the same layer objects twice",
                on=on,
                hint="create new layers on every call, so that blocks can be stacked",
            )
    # A real model of two blocks of each kind, trained briefly.
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
        )
    if any(
        np.array_equal(b, np.asarray(bn.moving_mean)) for b, bn in zip(before, bns, strict=True)
    ):
        check.fail(
            "training a model built from your blocks did not update BN's moving mean",
            hint="use keras.layers.BatchNormalization() (not a frozen or custom layer)",
        )
    check.passed("before and after orders, forward pass in training mode, a short fit")


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
    Exercise("bn_relu_block", notebook="06_batch_norm", points=2, probes=None),
]
