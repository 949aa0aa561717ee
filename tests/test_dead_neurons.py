"""Unit tests of notebook 04's references and runners (relu_course.dead_neurons,
relu_course.experiments.dead_neurons, relu_course.plots.dead_neurons)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from relu_course.data import Split, load_digits_split
from relu_course.dead_neurons import (
    DeadFractionMonitor,
    born_dead_probability,
    born_dead_standard_error,
    is_born_dead,
    single_input_dead_bound,
)
from relu_course.experiments.dead_neurons import (
    ReviveConfig,
    dead_fraction_at_init,
    inactive_fraction,
    kill_and_revive,
    summary_table,
)
from relu_course.models import build_mlp
from relu_course.plots.dead_neurons import born_dead_curves, dead_fraction_curves, revive_bars
from relu_course.probes import dead_fraction_per_layer


def _born_dead_one_net(depth, width, rng, weights="he", grid=21):
    """An independent, one-network-at-a-time reference with an explicit output layer."""
    h, fan_in = np.linspace(-1, 1, grid)[:, None], 1
    for _ in range(depth):
        if weights == "he":
            w = rng.normal(0, np.sqrt(2 / fan_in), (fan_in, width))
        else:  # Glorot-uniform, as Keras's Dense default
            limit = np.sqrt(6 / (fan_in + width))
            w = rng.uniform(-limit, limit, (fan_in, width))
        h, fan_in = np.maximum(h @ w, 0), width
    out = h @ rng.normal(size=(width, 1))
    return np.ptp(out) == 0


@pytest.mark.parametrize(("depth", "width"), [(2, 2), (5, 2), (4, 3)])
def test_born_dead_matches_a_one_net_at_a_time_reference(depth, width):
    rng = np.random.default_rng(1)
    trials = 1500
    reference = np.mean([_born_dead_one_net(depth, width, rng) for _ in range(trials)])
    estimate = born_dead_probability(depth, width, trials=20000, seed=2)
    tolerance = 4.5 * np.hypot(
        born_dead_standard_error(estimate, trials), born_dead_standard_error(estimate, 20000)
    )
    assert abs(estimate - reference) <= tolerance


def test_born_dead_does_not_depend_on_the_weight_scale():
    """Positive homogeneity: Glorot-uniform gives the same probability as He-normal."""
    rng = np.random.default_rng(3)
    glorot = np.mean([_born_dead_one_net(5, 2, rng, weights="glorot") for _ in range(2000)])
    he = born_dead_probability(5, 2, trials=20000, seed=4)
    assert abs(glorot - he) <= 4.5 * np.hypot(
        born_dead_standard_error(he, 2000), born_dead_standard_error(he, 20000)
    )


def test_single_input_bound_is_the_probability_at_one_input_and_an_upper_bound():
    rng = np.random.default_rng(5)
    for depth, width in [(3, 2), (6, 3)]:
        at_one_input = is_born_dead(depth, width, 20000, rng, grid=1).mean()
        bound = single_input_dead_bound(depth, width)
        assert abs(at_one_input - bound) <= 4.5 * born_dead_standard_error(bound, 20000)
        assert born_dead_probability(depth, width, trials=20000) <= bound + 0.01


def test_born_dead_edge_cases_and_reproducibility():
    assert born_dead_probability(1, 3, trials=300) == 0.0  # one layer is alive on one side
    assert born_dead_probability(6, 64, trials=300) == 0.0
    assert born_dead_probability(4, 2, seed=7) == born_dead_probability(4, 2, seed=7)
    p = born_dead_probability(4, 2, trials=37, seed=1)
    assert abs(p * 37 - round(p * 37)) < 1e-9


def _tiny_split(n=96, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.int32)
    return Split(x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :])


def test_dead_fraction_monitor_matches_the_probe_at_every_epoch_end():
    data = _tiny_split()
    model = build_mlp(3, 10, "relu", input_dim=6, num_classes=3, name="monitor_test")
    kernel, bias = model.get_layer("dense_2").get_weights()
    bias[:4] = -1e3
    model.get_layer("dense_2").set_weights([kernel, bias])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class After(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(dead_fraction_per_layer(self.model, data.x_val))

    monitor, after = DeadFractionMonitor(data.x_val, at_start=True), After()
    model.fit(data.x_train, data.y_train, epochs=3, verbose=0, callbacks=[monitor, after])
    assert list(monitor.history) == ["act_1", "act_2", "act_3"]
    for name, values in monitor.history.items():
        assert values == [seen[name] for seen in after.seen]
    assert monitor.initial["act_2"] >= 0.4


def test_inactive_fraction_equals_the_dead_fraction_for_relu():
    data = load_digits_split()
    model = build_mlp(20, 4, "relu", kernel_initializer="he_normal", name="inactive_test")
    per_layer = dead_fraction_per_layer(model, data.x_train)
    assert inactive_fraction(model, data.x_train) == pytest.approx(
        np.mean(list(per_layer.values()))
    )


def test_narrow_deep_nets_have_more_dead_units_at_init():
    x = load_digits_split().x_train[:300]
    wide = dead_fraction_at_init(3, 64, x, seeds=range(2))
    narrow = dead_fraction_at_init(12, 3, x, seeds=range(2))
    assert wide.shape == narrow.shape == (2,)
    assert narrow.mean() > wide.mean()


def test_kill_and_revive_runs_every_arm_and_summarises():
    data = _tiny_split()
    arms = [ReviveConfig("relu"), ReviveConfig("leaky", activation="leaky_relu:0.1")]
    results = kill_and_revive(arms, data, seeds=(0, 1), depth=2, width=8, epochs=2)
    assert [r.config.label for r in results] == ["relu", "relu", "leaky", "leaky"]
    for r in results:
        assert 0 <= r.inactive <= 1 and 0 <= r.val_accuracy <= 1
    assert len(results[0].dead_history) == 2 and results[2].dead_history == []
    table = summary_table(results)
    assert list(table.index) == ["relu", "leaky"]
    assert {"units ≤ 0 on all data", "val accuracy", "seeds"} <= set(table.columns)


def test_plots_return_figures():
    depths = np.arange(1, 4)
    assert isinstance(
        born_dead_curves(
            depths, {2: np.array([0, 0.1, 0.3])}, {2: np.array([0.25, 0.4, 0.5])}, trials=100
        ),
        Figure,
    )
    assert isinstance(dead_fraction_curves({"a": [0.1, 0.2]}), Figure)
    assert isinstance(revive_bars(["a", "b"], [0.1, 0.5], [0.9, 0.4]), Figure)
