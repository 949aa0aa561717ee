"""The vectorised ensemble against separately built and trained Keras models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.data import Split, load_digits_split
from relu_course.ensemble import (
    MLPEnsemble,
    NetSpec,
    evaluate,
    hidden_statistics,
    history_at,
    select_epochs,
    train_ensemble,
)
from relu_course.models import activation_layer

ACTIVATIONS = ["relu", "leaky_relu:0.01", "leaky_relu:0.2", "prelu", "elu", "gelu", "tanh"]
ACTIVATIONS += ["sigmoid", "silu", "softplus"]


def _data(n=96, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = np.argmax(x[:, :classes], axis=1).astype(np.int32)
    return Split(x, y, x[:24], y[:24], x[24:40], y[24:40])


def _keras_twin(ensemble: MLPEnsemble, n: int) -> keras.Sequential:
    """Network ``n`` of the ensemble as an ordinary Keras model with the same weights."""
    spec = ensemble.specs[n]
    l2 = keras.regularizers.L2(spec.l2) if spec.l2 else None
    stack: list = [keras.Input((ensemble.input_dim,))]
    bns, prelus = [], []
    for i in range(ensemble.depth):
        if spec.l1_activity:
            assert spec.activation == "relu" and spec.batch_norm is None
            stack.append(
                keras.layers.Dense(
                    ensemble.width,
                    activation="relu",
                    kernel_regularizer=l2,
                    activity_regularizer=keras.regularizers.L1(spec.l1_activity),
                )
            )
            continue
        dense = keras.layers.Dense(
            ensemble.width, use_bias=spec.batch_norm != "before", kernel_regularizer=l2
        )
        act = (
            keras.layers.Activation("silu")
            if spec.activation == "silu"
            else activation_layer(spec.activation)
        )
        bn = keras.layers.BatchNormalization(
            momentum=ensemble.bn_momentum, epsilon=ensemble.bn_epsilon
        )
        if spec.batch_norm == "before":
            stack += [dense, bn, act]
        elif spec.batch_norm == "after":
            stack += [dense, act, bn]
        else:
            stack += [dense, act]
        if spec.batch_norm:
            bns.append((i, bn))
        if isinstance(act, keras.layers.PReLU):
            prelus.append((i, act))
    stack.append(keras.layers.Dense(ensemble.num_classes, kernel_regularizer=l2))
    model = keras.Sequential(stack)
    weights = ensemble.network_weights(n)
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for i, layer in enumerate(dense_layers):
        layer.set_weights(weights[2 * i : 2 * i + 2][: len(layer.get_weights())])
    for i, bn in bns:
        bn.set_weights(ensemble.network_bn_weights(n, i))
    for i, prelu in prelus:
        prelu.set_weights([ensemble.network_prelu_alphas(n, i)])
    return model


def _train_twin(twin, spec, data, *, epochs, batch_size, optimizer):
    """The Keras twin trained alone with the ensemble's batch order for ``spec.seed``."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = twin.trainable_variables
    rng = np.random.default_rng(1000 + spec.seed)
    n = len(data.x_train)
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(n // batch_size):
            index = order[i * batch_size : (i + 1) * batch_size]
            with tf.GradientTape() as tape:
                logits = twin(data.x_train[index], training=True)
                loss = loss_fn(data.y_train[index], logits) + sum(twin.losses)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_matches_keras(activation):
    specs = [NetSpec("relu", 0), NetSpec(activation, 1), NetSpec(activation, 2, init="he_normal")]
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3)
    x = np.random.default_rng(5).normal(size=(10, 8)).astype(np.float32)
    logits = np.asarray(ensemble.forward(x))
    for n in (1, 2):
        np.testing.assert_allclose(
            logits[n], np.asarray(_keras_twin(ensemble, n)(x)), rtol=1e-5, atol=1e-5
        )


def test_paired_design_same_seed_same_start_and_batches():
    """Same seed and init → identical initial weights and batch order for every activation."""
    specs = [NetSpec(a, 3) for a in ("relu", "tanh", "prelu", "gelu")] + [NetSpec("relu", 4)]
    ensemble = MLPEnsemble(specs, input_dim=8, num_classes=3)
    first = [ensemble.network_weights(n) for n in range(len(specs))]
    for n in (1, 2, 3):
        for w0, wn in zip(first[0], first[n], strict=True):
            assert np.array_equal(w0, wn)
    assert not np.array_equal(first[0][0], first[4][0])
    # a different init with the same seed is a different start
    other = MLPEnsemble([NetSpec("relu", 3, init="he_normal")], input_dim=8, num_classes=3)
    assert not np.array_equal(other.network_weights(0)[0], first[0][0])
    # linear networks with the same seed see the same batches: identical training runs
    twins = MLPEnsemble(
        [NetSpec("linear", 1, label="a"), NetSpec("linear", 1, label="b"), NetSpec("linear", 2)],
        depth=1,
        width=4,
        input_dim=8,
        num_classes=3,
    )
    history = train_ensemble(twins, _data(), epochs=2, batch_size=16)
    assert np.array_equal(history["loss"][:, 0], history["loss"][:, 1])
    assert not np.array_equal(history["loss"][:, 0], history["loss"][:, 2])


@pytest.mark.parametrize(
    "spec",
    [
        NetSpec("relu", 0),
        NetSpec("prelu", 1, init="he_normal"),
        NetSpec("elu", 2, learning_rate=2e-2),
        NetSpec("relu", 3, l2=1e-3),
        NetSpec("relu", 4, l1_activity=1e-3),
        NetSpec("relu", 5, batch_norm="before"),
        NetSpec("tanh", 6, batch_norm="after"),
    ],
    ids=lambda s: (
        f"{s.activation}-{s.init}-lr{s.learning_rate}-l2{s.l2}-l1{s.l1_activity}-bn{s.batch_norm}"
    ),
)
def test_train_ensemble_equals_keras_adam_alone(spec):
    """A network trained inside a mixed ensemble (other activations, learning rates, BN
    placements around it) ends where the same network trained alone with
    keras.optimizers.Adam ends: weights, BN moving statistics, inference logits."""
    others = [NetSpec("sigmoid", 7, learning_rate=1e-3), NetSpec("relu", 8, batch_norm="after")]
    specs = [others[0], spec, others[1]]
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3, bn_momentum=0.8)
    twin = _keras_twin(ensemble, 1)
    data = _data()
    train_ensemble(ensemble, data, epochs=2, batch_size=32, learning_rate=1e-2)
    _train_twin(
        twin,
        spec,
        data,
        epochs=2,
        batch_size=32,
        optimizer=keras.optimizers.Adam(spec.learning_rate or 1e-2),
    )
    dense = [layer for layer in twin.layers if isinstance(layer, keras.layers.Dense)]
    weights = ensemble.network_weights(1)
    for i, layer in enumerate(dense):
        for got, want in zip(weights[2 * i : 2 * i + 2], layer.get_weights(), strict=False):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    bns = [layer for layer in twin.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for i, bn in enumerate(bns):
        for got, want in zip(ensemble.network_bn_weights(1, i), bn.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(ensemble.forward(data.x_val))[1],
        np.asarray(twin(data.x_val, training=False)),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_equals_keras_sgd_alone(momentum):
    specs = [NetSpec("relu", 0, learning_rate=5e-2), NetSpec("tanh", 1), NetSpec("relu", 2)]
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3)
    twins = [_keras_twin(ensemble, n) for n in range(3)]
    data = _data()
    train_ensemble(
        ensemble,
        data,
        epochs=2,
        batch_size=32,
        optimizer="sgd",
        learning_rate=1e-2,
        momentum=momentum,
    )
    for n, (spec, twin) in enumerate(zip(specs, twins, strict=True)):
        rate = spec.learning_rate or 1e-2
        _train_twin(
            twin,
            spec,
            data,
            epochs=2,
            batch_size=32,
            optimizer=keras.optimizers.SGD(rate, momentum=momentum),
        )
        np.testing.assert_allclose(
            np.asarray(ensemble.forward(data.x_val))[n],
            np.asarray(twin(data.x_val)),
            rtol=1e-4,
            atol=1e-5,
        )


def test_per_network_learning_rate_changes_only_that_network():
    base = [NetSpec("relu", 0), NetSpec("relu", 0)]
    fast = [NetSpec("relu", 0), NetSpec("relu", 0, learning_rate=3e-2)]
    data = _data()
    runs = []
    for specs in (base, fast):
        ensemble = MLPEnsemble(specs, depth=1, width=8, input_dim=8, num_classes=3)
        runs.append(train_ensemble(ensemble, data, epochs=2, batch_size=32, learning_rate=1e-3))
    np.testing.assert_array_equal(runs[0]["loss"][:, 0], runs[1]["loss"][:, 0])
    np.testing.assert_array_equal(runs[0]["loss"][:, 0], runs[0]["loss"][:, 1])
    assert not np.allclose(runs[1]["loss"][:, 0], runs[1]["loss"][:, 1])


def test_batch_norm_training_forward_matches_keras():
    """Training mode: batch statistics per network, moving averages updated once per call."""
    specs = [NetSpec("relu", 0, batch_norm="before"), NetSpec("relu", 1, batch_norm="after")]
    specs.append(NetSpec("relu", 2))
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3, bn_momentum=0.7)
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(40, 8)).astype(np.float32)
    twins = [_keras_twin(ensemble, n) for n in range(3)]
    logits = np.asarray(ensemble.forward(x, training=True))
    for n, twin in enumerate(twins):
        np.testing.assert_allclose(
            logits[n], np.asarray(twin(x, training=True)), rtol=1e-4, atol=1e-4
        )
        bns = [layer for layer in twin.layers if isinstance(layer, keras.layers.BatchNormalization)]
        for i, bn in enumerate(bns):
            for got, want in zip(ensemble.network_bn_weights(n, i), bn.get_weights(), strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the network without BN kept its untouched moving statistics
    np.testing.assert_array_equal(ensemble.network_bn_weights(2, 0)[2], 0.0)
    np.testing.assert_array_equal(ensemble.network_bn_weights(2, 0)[3], 1.0)


def test_l2_and_l1_activity_penalties():
    specs = [NetSpec("relu", 0, l2=1e-3), NetSpec("relu", 0, l1_activity=1e-2), NetSpec("relu", 0)]
    ensemble = MLPEnsemble(specs, input_dim=8, num_classes=3)
    reg = keras.regularizers.L2(1e-3)
    expected_l2 = sum(float(reg(tf.constant(k))) for k in ensemble.network_weights(0)[::2])
    x = _data().x_train[:20]
    _, hidden = ensemble.forward(x, return_hidden=True)
    activity = [a for _, a in hidden]
    expected_l1 = 1e-2 * sum(float(np.abs(np.asarray(a)[1]).sum()) for a in activity) / 20
    np.testing.assert_allclose(
        np.asarray(ensemble.penalty(activity)), [expected_l2, expected_l1, 0.0], rtol=1e-5
    )


def test_dropout_masks_rate_and_pairing():
    specs = [NetSpec("relu", 0, dropout=0.5), NetSpec("tanh", 0, dropout=0.5)]
    specs += [NetSpec("relu", 1, dropout=0.5), NetSpec("relu", 0)]
    ensemble = MLPEnsemble(specs, depth=1, width=256, input_dim=8, num_classes=3)
    mask = np.asarray(ensemble._dropout_mask(0, tf.constant([4, 64, 256]), tf.constant(3)))
    assert 0.45 < mask[0].mean() < 0.55 and np.all(mask[3] == 1)
    assert np.array_equal(mask[0], mask[1]) and not np.array_equal(mask[0], mask[2])
    later = np.asarray(ensemble._dropout_mask(0, tf.constant([4, 64, 256]), tf.constant(4)))
    assert not np.array_equal(mask[0], later[0])
    x = np.ones((5, 8), np.float32)
    np.testing.assert_array_equal(  # inference ignores dropout
        np.asarray(ensemble.forward(x))[0], np.asarray(ensemble.forward(x))[0]
    )


def test_per_network_labels_and_test_split():
    data = _data()
    flipped = np.stack([data.y_train, (data.y_train + 1) % 3])
    ensemble = MLPEnsemble(
        [NetSpec("relu", 0), NetSpec("relu", 0)], depth=1, width=16, input_dim=8, num_classes=3
    )
    history = train_ensemble(
        ensemble, data, epochs=6, batch_size=32, learning_rate=3e-2, y_train=flipped
    )
    assert set(history) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
    }
    # each network learns its own labels: the shifted-label net is good on its own labels
    # and bad against the clean validation labels
    assert history["accuracy"][-1, 1] > 0.7 and history["val_accuracy"][-1, 1] < 0.3
    assert history["val_accuracy"][-1, 0] > 0.7
    epochs = select_epochs(history)
    assert epochs.shape == (2,)
    np.testing.assert_array_equal(
        history_at(history, "val_loss", epochs), history["val_loss"].min(axis=0)
    )
    with pytest.raises(ValueError, match="y_train"):
        train_ensemble(ensemble, data, epochs=1, y_train=flipped[:1])


def test_inits():
    specs = [NetSpec("relu", 0, init=i) for i in ("he_normal", "normal:0.01", "zeros")]
    specs.append(NetSpec("relu", 0, init="constant:0.5"))
    ensemble = MLPEnsemble(specs, depth=1, width=512, input_dim=256, num_classes=3)
    kernels = [ensemble.network_weights(n)[0] for n in range(4)]
    assert kernels[0].std() == pytest.approx(np.sqrt(2 / 256), rel=0.02)
    assert np.abs(kernels[0]).max() > 2.5 * np.sqrt(2 / 256)  # untruncated
    assert kernels[1].std() == pytest.approx(0.01, rel=0.02)
    assert np.all(kernels[2] == 0) and np.all(kernels[3] == 0.5)
    with pytest.raises(ValueError, match="init"):
        NetSpec("relu", 0, init="lecun")


def test_train_and_hidden_statistics():
    data = _data()
    ensemble = MLPEnsemble(
        [NetSpec("relu", 0), NetSpec("sigmoid", 0, dropout=0.2)], input_dim=8, num_classes=3
    )
    history = train_ensemble(ensemble, data, epochs=4, batch_size=32, learning_rate=3e-2)
    assert history["loss"].shape == (4, 2) and np.all(history["loss"][-1] < history["loss"][0])
    zeros, dead = hidden_statistics(ensemble, data.x_val)
    assert 0.2 < zeros[0] < 0.8 and zeros[1] == 0
    assert 0 <= dead[0] <= 1


def test_unit_masks_silence_units():
    ensemble = MLPEnsemble([NetSpec("relu", 0), NetSpec("tanh", 0)], input_dim=8, num_classes=3)
    x = _data().x_val
    off = [np.zeros((2, 1, 64), np.float32), None]
    # all first-layer units silenced: the output no longer depends on the input
    logits = np.asarray(ensemble.forward(x, unit_masks=off))
    assert np.allclose(logits, logits[:, :1])
    on = [np.ones((2, 1, 64), np.float32), None]
    np.testing.assert_array_equal(ensemble.forward(x, unit_masks=on), ensemble.forward(x))


def test_load_digits_split_with_test_part():
    old = load_digits_split()
    assert old.x_test is None and old.y_test is None
    split = load_digits_split(val_fraction=0.2, test_fraction=0.2)
    sizes = [len(split.x_train), len(split.x_val), len(split.x_test)]
    assert sum(sizes) == 1797 and abs(sizes[1] - 359) <= 1 and abs(sizes[2] - 360) <= 1
    counts = np.bincount(split.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # stratified
    # the test part is split off first: it does not depend on the validation fraction
    other = load_digits_split(val_fraction=0.3, test_fraction=0.2)
    np.testing.assert_array_equal(other.y_test, split.y_test)
    assert split.num_classes == 10


def test_restore_best_returns_the_early_stopping_epoch():
    """restore_best='val_loss' leaves every network as it was at its lowest validation loss
    (as select_epochs reports it); the test part is never used for the choice."""
    full = _data(n=160)
    data = Split(full.x_train[:32], full.y_train[:32], full.x_train[32:96], full.y_train[32:96])
    data = Split(
        data.x_train, data.y_train, data.x_val, data.y_val, full.x_train[96:], full.y_train[96:]
    )
    specs = [NetSpec("relu", 0), NetSpec("tanh", 1, batch_norm="after"), NetSpec("prelu", 2)]
    ensemble = MLPEnsemble(specs, depth=2, width=32, input_dim=8, num_classes=3)
    history = train_ensemble(
        ensemble,
        data,
        epochs=25,
        batch_size=16,
        learning_rate=3e-2,
        evaluate_train=False,
        restore_best="val_loss",
    )
    assert "loss" not in history and history["val_loss"].shape == (25, 3)
    epochs = select_epochs(history)
    assert np.any(epochs < 24), "the run should overfit, or the test proves nothing"
    val_loss, _ = evaluate(ensemble, data.x_val, data.y_val)
    np.testing.assert_allclose(val_loss, history["val_loss"].min(axis=0), rtol=1e-5)
    _, test_accuracy = evaluate(ensemble, data.x_test, data.y_test)
    np.testing.assert_array_equal(test_accuracy, history_at(history, "test_accuracy", epochs))
    with pytest.raises(ValueError, match="test"):
        train_ensemble(ensemble, data, epochs=1, batch_size=16, restore_best="test_loss")
    with pytest.raises(ValueError, match="test"):
        select_epochs(history, by="test_loss")


def test_subset_copies_networks_and_state():
    specs = [NetSpec("relu", 0), NetSpec("prelu", 1, batch_norm="after"), NetSpec("tanh", 2)]
    ensemble = MLPEnsemble(specs, depth=2, width=8, input_dim=8, num_classes=3)
    data = _data()
    train_ensemble(ensemble, data, epochs=1, batch_size=32, learning_rate=1e-2)
    part = ensemble.subset([2, 1])
    assert [s.seed for s in part.specs] == [2, 1]
    full = np.asarray(ensemble.forward(data.x_val))
    np.testing.assert_allclose(np.asarray(part.forward(data.x_val)), full[[2, 1]], rtol=1e-6)
    np.testing.assert_array_equal(
        part.network_bn_weights(1, 0)[2], ensemble.network_bn_weights(1, 0)[2]
    )
