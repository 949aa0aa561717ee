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
    DEAD_RELU,
    HEALTHY_RELU,
    dead_fraction_at_init,
    flip_labels,
    kill_and_revive,
    noisy_label_ablation,
    noisy_label_comparisons,
    revive_comparisons,
    watch_training,
)
from relu_course.models import build_mlp
from relu_course.plots.dead_neurons import (
    born_dead_curves,
    noisy_label_figure,
    revive_seeds,
)
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


def test_narrow_deep_nets_have_more_dead_units_at_init():
    x = load_digits_split().x_train[:300]
    wide = dead_fraction_at_init(3, 64, x, seeds=range(2))
    narrow = dead_fraction_at_init(12, 3, x, seeds=range(2))
    assert wide.shape == narrow.shape == (2,)
    assert narrow.mean() > wide.mean()


def _tiny_split_with_test(n=150, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    return Split(x[:90], y[:90], x[90:120], y[90:120], x_test=x[120:], y_test=y[120:])


def test_kill_and_revive_is_paired_and_the_comparisons_are_seedwise():
    data = _tiny_split()
    arms = {
        DEAD_RELU: {},
        HEALTHY_RELU: {"learning_rate": 1e-3},
        "same as dead": {},  # identical spec: identical networks, zero differences
        "leaky": {"activation": "leaky_relu:0.2"},
    }
    result = kill_and_revive(
        data, arms=arms, seeds=(0, 1, 2), epochs=2, depth=2, width=8, batch_size=16
    )
    assert result.arms == list(arms) and result.seeds == (0, 1, 2)
    for values in (result.inactive, result.zeros, result.val_accuracy):
        assert all(v.shape == (3,) and np.all((0 <= v) & (v <= 1)) for v in values.values())
    assert result.val_accuracy_per_epoch[DEAD_RELU].shape == (2, 3)
    np.testing.assert_array_equal(
        result.val_accuracy["same as dead"], result.val_accuracy[DEAD_RELU]
    )
    np.testing.assert_array_equal(result.inactive["same as dead"], result.inactive[DEAD_RELU])
    table = revive_comparisons(result)
    assert list(table.index) == [HEALTHY_RELU, "same as dead", "leaky"]
    assert table.loc["same as dead", "Δ accuracy"] == 0 and not table.loc["same as dead", "Holm"]
    assert table.loc["same as dead", "accuracy verdict"] == "no detectable change"
    assert table.loc[HEALTHY_RELU, "accuracy verdict"] == "the reference"
    expected = np.mean(result.val_accuracy["leaky"] - result.val_accuracy[DEAD_RELU])
    assert table.loc["leaky", "Δ accuracy"] == pytest.approx(expected)
    assert isinstance(revive_seeds(result), Figure)


def test_revive_verdicts_follow_the_intervals():
    from relu_course.experiments.dead_neurons import ReviveResult

    seeds = (0, 1, 2, 3, 4, 5)
    dead = np.array([0.60, 0.62, 0.58, 0.61, 0.59, 0.63])
    dead_stuck = np.full(6, 0.4)
    healthy = dead + 0.30
    arms = {
        DEAD_RELU: (dead, dead_stuck),
        HEALTHY_RELU: (healthy, dead_stuck - 0.35),
        "recovers": (healthy + np.array([0.01, -0.01, 0.0, 0.005, -0.005, 0.0]), dead_stuck - 0.3),
        "partly": (dead + 0.1 + 0.01 * np.arange(6) / 6, dead_stuck - 0.2),
        "worse": (dead - 0.2 + 0.01 * np.arange(6) / 6, dead_stuck + 0.01 * np.arange(6)),
    }
    result = ReviveResult(
        seeds=seeds,
        learning_rate=3e-2,
        epochs=1,
        inactive={k: v[1] for k, v in arms.items()},
        zeros={k: v[1] for k, v in arms.items()},
        val_accuracy={k: v[0] for k, v in arms.items()},
        val_accuracy_per_epoch={k: v[0][None] for k, v in arms.items()},
    )
    table = revive_comparisons(result, margin=0.02)
    assert table.loc["recovers", "accuracy verdict"].startswith("recovers")
    assert table.loc["partly", "accuracy verdict"].startswith("partly")
    assert table.loc["worse", "accuracy verdict"].startswith("worse")
    assert (
        table.loc["recovers", "keeps units alive"] and not table.loc["worse", "keeps units alive"]
    )


def test_flip_labels_flips_exactly_the_fraction_to_other_classes():
    y = np.random.default_rng(0).integers(0, 10, 500).astype(np.int32)
    for fraction in (0.0, 0.2, 0.4, 1.0):
        flipped = flip_labels(y, fraction, 10, np.random.default_rng(1))
        assert flipped.dtype == y.dtype and flipped.shape == y.shape
        assert np.sum(flipped != y) == round(fraction * len(y))
        assert flipped.min() >= 0 and flipped.max() <= 9
    again = flip_labels(y, 0.4, 10, np.random.default_rng(1))
    np.testing.assert_array_equal(again, flip_labels(y, 0.4, 10, np.random.default_rng(1)))
    changed = flip_labels(y, 1.0, 10, np.random.default_rng(2)) - y
    assert len(np.unique(changed % 10)) == 9  # every other class is reachable
    with pytest.raises(ValueError):
        flip_labels(y, 1.5, 10, np.random.default_rng(0))


def test_noisy_label_ablation_pairs_seeds_and_compares():
    data = _tiny_split_with_test()
    activations = {"ReLU": "relu", "twin": "relu", "Leaky": "leaky_relu:0.2"}
    result = noisy_label_ablation(
        data, activations=activations, noise=(0.0, 0.4), seeds=(0, 1, 2), epochs=3, width=8
    )
    assert set(result.test_accuracy) == {(a, p) for a in activations for p in (0.0, 0.4)}
    assert result.test_accuracy_per_epoch[("ReLU", 0.4)].shape == (3, 3)
    np.testing.assert_array_equal(
        result.test_accuracy[("twin", 0.4)], result.test_accuracy[("ReLU", 0.4)]
    )
    table = noisy_label_comparisons(result, margin=0.02)
    assert table.loc[("twin", 0.4), "difference"] == 0
    assert table.loc[("twin", 0.4), "verdict"] == "equivalent within ±2%"
    assert isinstance(noisy_label_figure(result, table), Figure)
    with pytest.raises(ValueError, match="test part"):
        noisy_label_ablation(_tiny_split(), seeds=(0,), epochs=1)


def test_watch_training_records_every_step_and_runs_the_monitor():
    data = _tiny_split()
    diagnostics, monitor, accuracy = watch_training(
        data,
        learning_rate=1e-2,
        epochs=2,
        depth=2,
        width=8,
        batch_size=16,
        probe_examples=20,
        snapshot_steps=(0, 2),
        monitor_cls=DeadFractionMonitor,
    )
    assert diagnostics.steps == list(range(0, 7)) and diagnostics.epoch_ends == [3, 6]
    assert sorted(diagnostics.snapshots) == [0, 2]
    assert list(monitor.history) == ["act_1", "act_2"]
    assert all(len(v) == 2 for v in monitor.history.values())
    assert 0 <= accuracy <= 1


def test_plots_return_figures():
    depths = np.arange(1, 4)
    assert isinstance(
        born_dead_curves(
            depths, {2: np.array([0, 0.1, 0.3])}, {2: np.array([0.25, 0.4, 0.5])}, trials=100
        ),
        Figure,
    )
