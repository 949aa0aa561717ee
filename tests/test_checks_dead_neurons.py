"""Checks of notebook 04 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.checks import (
    CheckFailed,
    check_born_dead_probability,
    check_dead_fraction,
    check_dead_units,
    check_DeadUnitMonitor,
    check_leaky_relu,
    check_update_to_data_ratio,
)
from relu_course.checks import dead_neurons as dead_neurons_checks
from relu_course.dead_neurons import DeadFractionMonitor, single_input_dead_bound
from relu_course.probes import relu_layers


def _stub(*args, **kwargs):
    raise NotImplementedError()


# ---------------------------------------------------------------- dead_units
DEAD_UNITS_CORRECT = {
    "all_equal_zero": lambda a: np.all(a == 0, axis=0),
    "not_any_nonzero": lambda a: ~np.any(a != 0, axis=0),
    "max_abs_is_zero": lambda a: np.abs(a).max(axis=0) == 0,
    "count_nonzero": lambda a: np.count_nonzero(a, axis=0) == 0,
    "loop_over_columns": lambda a: np.array([not a[:, j].any() for j in range(a.shape[1])]),
}

DEAD_UNITS_WRONG = {
    "per_example": (lambda a: np.all(a == 0, axis=1), "per example"),
    "majority_zero": (lambda a: np.mean(a == 0, axis=0) > 0.5, "most examples"),
    "any_zero": (lambda a: np.any(a == 0, axis=0), "not on any one"),
    "leq_zero_on_leaky_outputs": (lambda a: np.all(a <= 0, axis=0), "<= 0"),
    "sum_is_zero": (lambda a: a.sum(axis=0) == 0, "wrong for unit"),
    "integer_mask": (lambda a: np.all(a == 0, axis=0).astype(int), "boolean"),
    "fraction_not_mask": (lambda a: np.mean(a == 0, axis=0), "dtype"),
    "list": (lambda a: list(np.all(a == 0, axis=0)), "not a numpy array"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", DEAD_UNITS_CORRECT)
def test_dead_units_accepts(name):
    check_dead_units(DEAD_UNITS_CORRECT[name])


@pytest.mark.parametrize("name", DEAD_UNITS_WRONG)
def test_dead_units_rejects(name, rejected):
    candidate, fragment = DEAD_UNITS_WRONG[name]
    rejected(check_dead_units, candidate, fragment)


# ---------------------------------------------------------------- dead_fraction
def _relu_layer_outputs(model, x):
    layers = relu_layers(model)
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outs = probe(x)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    return [(layer.name, np.asarray(o)) for layer, o in zip(layers, outs, strict=True)]


def _dead_fraction_by_hand(model, x):
    """Runs the layers one by one and tests activation names by hand."""
    result, h = {}, tf.convert_to_tensor(x)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        h = layer(h)
        is_relu = (
            type(layer) is keras.layers.ReLU
            or getattr(getattr(layer, "activation", None), "__name__", "") == "relu"
        )
        if is_relu:
            result[layer.name] = float(np.mean(np.all(h.numpy() == 0, axis=0)))
    return result


def _fraction_from(mask_fn, keep=lambda layer: True):
    def dead_fraction(model, x):
        return {
            name: float(np.mean(mask_fn(a)))
            for name, a in _relu_layer_outputs(model, x)
            if keep(model.get_layer(name))
        }

    return dead_fraction


def _counts_leaky_layers(model, x):
    result = _fraction_from(lambda a: np.all(a == 0, axis=0))(model, x)
    for layer in model.layers:
        if isinstance(layer, keras.layers.LeakyReLU):
            out = keras.Model(model.inputs, layer.output)(x)
            result[layer.name] = float(np.mean(np.all(np.asarray(out) <= 0, axis=0)))
    return result


def _fits_the_model(model, x):
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        x,
        np.zeros(
            (
                len(x),
                model.output_shape[-1]
                if hasattr(model, "output_shape")
                else model.outputs[0].shape[-1],
            )
        ),
        epochs=1,
        verbose=0,
    )
    return _fraction_from(lambda a: np.all(a == 0, axis=0))(model, x)


DEAD_FRACTION_CORRECT = {
    "probe_model": _fraction_from(lambda a: np.all(a == 0, axis=0)),
    "layer_by_layer": _dead_fraction_by_hand,
    "count_nonzero": _fraction_from(lambda a: np.count_nonzero(a, axis=0) == 0),
}

DEAD_FRACTION_WRONG = {
    "zero_fraction_per_example": (_fraction_from(lambda a: a == 0), "zero *entries*"),
    "majority_zero": (_fraction_from(lambda a: np.mean(a == 0, axis=0) > 0.5), "most examples"),
    "dead_count": (
        lambda m, x: {k: float(np.all(a == 0, axis=0).sum()) for k, a in _relu_layer_outputs(m, x)},
        "number of dead units",
    ),
    "dense_relu_only": (
        _fraction_from(
            lambda a: np.all(a == 0, axis=0),
            keep=lambda layer: isinstance(layer, keras.layers.Dense),
        ),
        "every relu counts",
    ),
    "counts_leaky_layers": (_counts_leaky_layers, "only plain relu"),
    "list_of_values": (lambda m, x: list(_dead_fraction_by_hand(m, x).values()), "not a dict"),
    "trains_the_model": (_fits_the_model, "changed the model's weights"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", DEAD_FRACTION_CORRECT)
def test_dead_fraction_accepts(name):
    check_dead_fraction(DEAD_FRACTION_CORRECT[name])


@pytest.mark.parametrize("name", DEAD_FRACTION_WRONG)
def test_dead_fraction_rejects(name, rejected):
    candidate, fragment = DEAD_FRACTION_WRONG[name]
    rejected(check_dead_fraction, candidate, fragment)


# ---------------------------------------------------------------- leaky_relu
LEAKY_CORRECT = {
    "where": lambda x, negative_slope=0.01: tf.where(x > 0, x, negative_slope * x),
    "maximum": lambda x, negative_slope=0.01: tf.maximum(x, negative_slope * x),
    "nn_leaky_relu": lambda x, negative_slope=0.01: tf.nn.leaky_relu(x, alpha=negative_slope),
    "relu_parts": lambda x, negative_slope=0.01: tf.nn.relu(x) - negative_slope * tf.nn.relu(-x),
}

LEAKY_WRONG = {
    "slope_ignored": (lambda x, negative_slope=0.01: tf.where(x > 0, x, 0.01 * x), "argument"),
    "keras_default_0_3": (
        lambda x, negative_slope=0.3: tf.where(x > 0, x, negative_slope * x),
        "0.3",
    ),
    "keras_layer_default": (lambda x, negative_slope=0.01: keras.layers.LeakyReLU()(x), "0.3"),
    "numpy_inside": (
        lambda x, negative_slope=0.01: tf.constant(
            np.where(x.numpy() > 0, x.numpy(), negative_slope * x.numpy())
        ),
        "tf.function",
    ),
    "numpy_output": (
        lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
        "not a tf.tensor",
    ),
    "plain_relu": (lambda x, negative_slope=0.01: tf.nn.relu(x), "that is relu"),
    "casts_to_float32": (
        lambda x, negative_slope=0.01: tf.nn.leaky_relu(tf.cast(x, tf.float32), negative_slope),
        "dtype",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", LEAKY_CORRECT)
def test_leaky_relu_accepts(name):
    check_leaky_relu(LEAKY_CORRECT[name])


@pytest.mark.parametrize("name", LEAKY_WRONG)
def test_leaky_relu_rejects(name, rejected):
    candidate, fragment = LEAKY_WRONG[name]
    rejected(check_leaky_relu, candidate, fragment)


# ---------------------------------------------------------------- DeadUnitMonitor
class MonitorWithProbe(keras.callbacks.Callback):
    def __init__(self, x):
        super().__init__()
        self.x = x
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        for name, a in _relu_layer_outputs(self.model, self.x):
            self.history.setdefault(name, []).append(float(np.all(a == 0, axis=0).mean()))


class MonitorLayerByLayer(keras.callbacks.Callback):
    """Uses predict on a sub-model per layer and a defaultdict-free history."""

    def __init__(self, x):
        super().__init__()
        self.x = np.asarray(x)
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs=None):
        for layer in relu_layers(self.model):
            self.history[layer.name] = []

    def on_epoch_end(self, epoch, logs=None):
        for name in self.history:
            out = keras.Model(self.model.inputs, self.model.get_layer(name).output)
            a = out.predict(self.x, verbose=0)
            self.history[name].append(float(np.mean(~np.any(a != 0, axis=0))))


class MonitorAtTrainEnd(MonitorWithProbe):
    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        MonitorWithProbe.on_epoch_end(self, 0)


class MonitorSharedHistory(keras.callbacks.Callback):
    history = {}  # noqa: RUF012 - the misconception under test: one dict for all instances

    def __init__(self, x):
        super().__init__()
        self.x = x

    def on_epoch_end(self, epoch, logs=None):
        for name, a in _relu_layer_outputs(self.model, self.x):
            self.history.setdefault(name, []).append(float(np.all(a == 0, axis=0).mean()))


class MonitorDenseOnly(MonitorWithProbe):
    def on_epoch_end(self, epoch, logs=None):
        for name, a in _relu_layer_outputs(self.model, self.x):
            if isinstance(self.model.get_layer(name), keras.layers.Dense):
                self.history.setdefault(name, []).append(float(np.all(a == 0, axis=0).mean()))


class MonitorBatchEnd(MonitorWithProbe):
    def on_train_batch_end(self, batch, logs=None):
        MonitorWithProbe.on_epoch_end(self, 0)

    def on_epoch_end(self, epoch, logs=None):
        pass


class MonitorZeroFraction(MonitorWithProbe):
    def on_epoch_end(self, epoch, logs=None):
        for name, a in _relu_layer_outputs(self.model, self.x):
            self.history.setdefault(name, []).append(float(np.mean(a == 0)))


class NotACallback:
    def __init__(self, x):
        self.history = {}


DEAD_MONITOR_CORRECT = {
    "reference": DeadFractionMonitor,
    "probe_each_epoch": MonitorWithProbe,
    "predict_per_layer": MonitorLayerByLayer,
}

DEAD_MONITOR_WRONG = {
    "records_at_train_end": (MonitorAtTrainEnd, "on_epoch_end"),
    "class_attribute_history": (MonitorSharedHistory, "share one history"),
    "dense_relu_layers_only": (MonitorDenseOnly, "layers.relu()"),
    "records_every_batch": (MonitorBatchEnd, "once per epoch"),
    "zero_fraction_not_dead": (MonitorZeroFraction, "wrong values"),
    "not_a_callback": (NotACallback, "callback subclass"),
    "instance_not_class": (DeadFractionMonitor(np.zeros((2, 2))), "the class"),
}


@pytest.fixture
def fit_time_limit(monkeypatch):
    """The suite's 5 s limit (conftest.py) is sized for checks of functions on small arrays.
    check_DeadUnitMonitor times two real Keras fits, each tracing a training step and the
    candidate's probe: about 0.5 s of CPU for the reference monitor and 1.7 s for a correct
    one that builds a sub-model and calls `predict` per layer per epoch, measured; with ~8
    processes sharing 2 cores that became 5-10 s of wall time and a correct monitor
    "did not finish". 60 s still stops a callback that never returns."""
    monkeypatch.setattr(dead_neurons_checks, "MONITOR_TIME_LIMIT", 60.0)


@pytest.mark.parametrize("name", DEAD_MONITOR_CORRECT)
def test_dead_unit_monitor_accepts(name, fit_time_limit):
    check_DeadUnitMonitor(DEAD_MONITOR_CORRECT[name])


def test_dead_unit_monitor_keeps_its_own_time_limit(fit_time_limit):
    """The longer limit applies to this check only, and a monitor that hangs still fails."""
    import time

    class HangingMonitor(DeadFractionMonitor):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(3600)

    dead_neurons_checks.MONITOR_TIME_LIMIT = 2.0  # restored by monkeypatch
    with pytest.raises(CheckFailed, match="did not finish within 2 s"):
        check_DeadUnitMonitor(HangingMonitor)


@pytest.mark.parametrize("name", DEAD_MONITOR_WRONG)
def test_dead_unit_monitor_rejects(name, rejected, fit_time_limit):
    candidate, fragment = DEAD_MONITOR_WRONG[name]
    rejected(check_DeadUnitMonitor, candidate, fragment)


# ---------------------------------------------------------------- born_dead_probability
def _born_dead(
    weights="he", grid=21, bias=0.0, count_output=False, use_trials=True, use_seed=True, alive=False
):
    def born_dead_probability(depth, width, trials=500, seed=0):
        rng = np.random.default_rng(seed if use_seed else None)
        n = trials if use_trials else 500
        x = np.linspace(-1, 1, grid)
        dead = 0
        for _ in range(n):
            h, fan_in = x[:, None], 1
            for _ in range(depth - 1 if count_output else depth):
                if weights == "he":
                    w = rng.normal(0, np.sqrt(2 / fan_in), (fan_in, width))
                elif weights == "glorot_normal":
                    w = rng.normal(0, np.sqrt(2 / (fan_in + width)), (fan_in, width))
                else:
                    limit = np.sqrt(6 / (fan_in + width))
                    w = rng.uniform(-limit, limit, (fan_in, width))
                h = np.maximum(h @ w + bias, 0)
                fan_in = width
            out = h @ rng.normal(size=(width, 1))
            dead += bool(np.ptp(out) < 1e-12)
        return (n - dead) / n if alive else dead / n

    return born_dead_probability


def _born_dead_keras(depth, width, trials=500, seed=0):
    """Batched over trials, the output layer drawn too; a constant output means born dead."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, 41)
    h = np.tile(x[None, :, None], (trials, 1, 1))
    for _ in range(depth):
        fan_in = h.shape[-1]
        h = np.maximum(
            np.einsum(
                "tgi,tij->tgj",
                h,
                rng.standard_normal((trials, fan_in, width)) * np.sqrt(2 / fan_in),
            ),
            0,
        )
    out = np.einsum("tgi,tio->tgo", h, rng.standard_normal((trials, width, 1)))
    return float(np.mean(np.ptp(out[..., 0], axis=1) == 0))


BORN_DEAD_CORRECT = {
    "loop": _born_dead(),
    "batched": _born_dead_keras,
    "fine_grid": _born_dead(grid=101),
    # With zero biases a ReLU net is positively homogeneous: scaling all weights does not change
    # which nets are constant, so Glorot's scale gives the same probability as He's. Uniform
    # Glorot differs by < 0.01 (measured in tests/test_dead_neurons.py), inside the noise.
    "glorot_normal_same_law": _born_dead(weights="glorot_normal"),
}

BORN_DEAD_WRONG = {
    "single_input_formula": (
        lambda depth, width, trials=500, seed=0: single_input_dead_bound(depth, width),
        "formula",
    ),
    "ignores_trials": (_born_dead(use_trials=False), "trials"),
    "ignores_seed": (_born_dead(use_seed=False), "seed"),
    "depth_counts_output_layer": (_born_dead(count_output=True), "depth − 1"),
    "negative_bias_init": (_born_dead(bias=-0.5), "true probability"),
    "fraction_alive": (_born_dead(alive=True), "alive"),
    "single_input_only": (_born_dead(grid=1), "true probability"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", BORN_DEAD_CORRECT)
def test_born_dead_probability_accepts(name):
    check_born_dead_probability(BORN_DEAD_CORRECT[name])


@pytest.mark.parametrize("name", BORN_DEAD_WRONG)
def test_born_dead_probability_rejects(name, rejected):
    candidate, fragment = BORN_DEAD_WRONG[name]
    rejected(check_born_dead_probability, candidate, fragment)


# ---------------------------------------------------------------- update_to_data_ratio
def _norm(a):
    return np.linalg.norm(np.asarray(a, dtype=np.float64))


UPDATE_RATIO_CORRECT = {
    "linalg_norm": lambda before, after: float(
        np.linalg.norm(after - before) / np.linalg.norm(before)
    ),
    "sqrt_of_sums": lambda before, after: float(
        np.sqrt(np.sum((after - before) ** 2) / np.sum(before**2))
    ),
    "ravel_dot": lambda before, after: float(
        np.sqrt(np.dot((after - before).ravel(), (after - before).ravel()))
        / np.sqrt(np.dot(before.ravel(), before.ravel()))
    ),
    "tensorflow_norm": lambda before, after: float(
        tf.norm(tf.constant(after) - tf.constant(before)) / tf.norm(tf.constant(before))
    ),
    "numpy_scalar": lambda before, after: np.linalg.norm(after - before) / np.linalg.norm(before),
}

UPDATE_RATIO_WRONG = {
    "divides_by_after": (lambda b, a: float(_norm(a - b) / _norm(a)), "before"),
    "squared_norms": (lambda b, a: float(_norm(a - b) ** 2 / _norm(b) ** 2), "square"),
    "change_of_norm": (
        lambda b, a: float((_norm(a) - _norm(b)) / _norm(b)),
        "norm of the *change*",
    ),
    "absolute_change": (lambda b, a: float(_norm(a - b)), "relative"),
    "inverted": (lambda b, a: float(_norm(b) / _norm(a - b)), "inverse"),
    "std_ratio": (lambda b, a: float(np.std(a - b) / np.std(b)), "standard deviation"),
    "mean_entry_ratio": (lambda b, a: float(np.mean(np.abs(a - b) / np.abs(b))), "per-entry"),
    "max_abs_ratio": (lambda b, a: float(np.abs(a - b).max() / np.abs(b).max()), "largest"),
    "learning_rate_again": (lambda b, a: float(1e-3 * _norm(a - b) / _norm(b)), "learning rate"),
    "per_column": (
        lambda b, a: np.linalg.norm(a - b, axis=0) / np.linalg.norm(b, axis=0),
        "one ratio for the whole",
    ),
    "spectral_norm": (
        lambda b, a: (
            float(np.linalg.norm(a - b, 2) / np.linalg.norm(b, 2))
            if np.ndim(b) == 2
            else float(_norm(a - b) / _norm(b))
        ),
        "spectral",
    ),
    "tensor_result": (
        lambda b, a: tf.norm(tf.constant(a - b)) / tf.norm(tf.constant(b)),
        "not a float",
    ),
    "mutates_before": (
        lambda b, a: float(_norm(np.subtract(a, b, out=b) if b.flags.writeable else a - b) / 1.0),
        "modified its input",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", UPDATE_RATIO_CORRECT)
def test_update_to_data_ratio_accepts(name):
    check_update_to_data_ratio(UPDATE_RATIO_CORRECT[name])


@pytest.mark.parametrize("name", UPDATE_RATIO_WRONG)
def test_update_to_data_ratio_rejects(name, rejected):
    candidate, fragment = UPDATE_RATIO_WRONG[name]
    rejected(check_update_to_data_ratio, candidate, fragment)


def test_update_to_data_ratio_check_never_shows_equal_numbers_as_a_mismatch():
    """A value off by a hair more than the tolerance still prints as two different numbers."""

    def off_by_a_hair(before, after):
        return float(np.linalg.norm(after - before) / np.linalg.norm(before)) * (1 + 3e-5)

    with pytest.raises(AssertionError) as error:
        check_update_to_data_ratio(off_by_a_hair)
    lines = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in str(error.value).splitlines()
        if line.strip().startswith(("expected:", "got:"))
    }
    assert lines and lines["expected"] != lines["got"]


# ---------------------------------------------------------------- grading probes
# Answer-cell sources the clean-process re-verification must reject (tests/test_verify_probes.py).
PROBE_MISCONCEPTIONS = {
    "dead_fraction": "def dead_fraction(model, x):\n"
    "    chosen = [layer for layer in model.layers if is_relu_layer(layer)]\n"
    "    probe = keras.Model(model.inputs, [layer.output for layer in chosen])\n"
    "    outs = probe([tf.convert_to_tensor(x)])\n"
    "    outs = outs if isinstance(outs, list | tuple) else [outs]\n"
    "    return {l.name: float(np.mean(np.asarray(o) == 0)) for l, o in zip(chosen, outs)}\n",
    "DeadUnitMonitor": "class DeadUnitMonitor(keras.callbacks.Callback):\n"
    "    def __init__(self, x):\n"
    "        super().__init__()\n"
    "        self.x = x\n"
    "        self.history = {}\n"
    "    def on_epoch_end(self, epoch, logs=None):\n"
    "        if epoch == 0:\n"
    "            for name, f in dead_fraction(self.model, self.x).items():\n"
    "                self.history.setdefault(name, []).append(f)\n",
    "born_dead_probability": "def born_dead_probability(depth, width, trials=500, seed=0):\n"
    "    return float(1 - (1 - 2.0 ** -width) ** depth)\n",
    "update_to_data_ratio": "def update_to_data_ratio(before, after):\n"
    "    return float(np.linalg.norm(after - before) / np.linalg.norm(after))\n",
}
