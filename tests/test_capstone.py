"""The capstone runners and statistics (the ensemble itself: tests/test_ensemble.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relu_course import stats
from relu_course.capstone import (
    differs_beyond_noise,
    paired_comparisons,
    paired_scores,
    summarize_trials,
)
from relu_course.data import Split
from relu_course.ensemble import evaluate
from relu_course.experiments.capstone import (
    NetSpec,
    activation_step_times,
    activation_time_per_element,
    overfitting_demo,
    run_ablation,
    silencing_curves,
    step_share,
)


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int32)
    return Split(x[:96], y[:96], x[96:128], y[96:128], x[128:], y[128:])


ARMS = {"relu": "relu", "tanh": "tanh", "relu_again": "relu"}


@pytest.fixture(scope="module")
def small_run():
    data = _data()
    run = run_ablation(
        data, ARMS, seeds=(0, 1, 2), dropout_arms={"relu + dropout": "relu"}, width=8,
        epochs=4, batch_size=16, learning_rate=1e-2,
    )  # fmt: skip
    return data, run


def test_run_ablation_records(small_run):
    data, run = small_run
    assert len(run.records) == 12
    assert set(run.records[0]) == {
        "activation", "seed", "val_accuracy", "val_loss", "test_accuracy", "test_loss",
        "stop_epoch", "sparsity", "dead_fraction",
    }  # fmt: skip
    # each network was restored to its early-stopping epoch; test measured there
    _, accuracy = evaluate(run.ensemble, data.x_test, data.y_test)
    for n, spec in enumerate(run.specs):
        record = next(
            r for r in run.records if r["activation"] == spec.label and r["seed"] == spec.seed
        )
        assert record["test_accuracy"] == pytest.approx(accuracy[n])
        best = int(np.argmin(run.history["val_loss"][:, n]))
        assert record["stop_epoch"] == best + 1
        assert record["val_loss"] == pytest.approx(run.history["val_loss"][best, n])
    assert "test_accuracy" not in run.history  # the test part took no part in training
    # paired design: two arms with the same activation and seeds are identical
    same = [r["test_accuracy"] for r in run.arm("relu")]
    assert same == [r["test_accuracy"] for r in run.arm("relu_again")]
    assert [r["seed"] for r in run.arm("tanh")] == [0, 1, 2]
    assert [s.dropout for s in run.specs if s.label == "relu + dropout"] == [0.3] * 3
    # equal activations are grouped so the ensemble applies each one once
    assert [a for a, _, _ in run.ensemble.groups] == ["relu", "tanh"]


def test_run_ablation_needs_a_test_part():
    data = _data()
    with pytest.raises(ValueError, match="test"):
        run_ablation(Split(data.x_train, data.y_train, data.x_val, data.y_val), ARMS, seeds=(0,))


def test_silencing_curves(small_run):
    data, run = small_run
    curves = silencing_curves(
        run, data, labels=("relu", "relu_again", "tanh"), fractions=(0.0, 0.5, 1.0), draws=2
    )
    assert curves["relu"].shape == (3, 3)
    np.testing.assert_allclose(curves["relu"][:, 0], [r["test_accuracy"] for r in run.arm("relu")])
    # same seed, same activation, same weights: same silenced units, same accuracy
    np.testing.assert_array_equal(curves["relu"], curves["relu_again"])
    # every unit silenced: the logits no longer depend on the input (one class predicted)
    counts = np.bincount(data.y_test, minlength=3) / len(data.y_test)
    assert np.all(np.isin(np.round(curves["tanh"][:, 2], 6), np.round(counts, 6)))
    with pytest.raises(ValueError, match="arm"):
        silencing_curves(run, data, labels=("gelu",))


def test_silencing_rescale_changes_only_surviving_scale(small_run):
    data, run = small_run
    plain = silencing_curves(run, data, labels=("relu",), fractions=(0.0, 0.5), rescale=False)
    scaled = silencing_curves(run, data, labels=("relu",), fractions=(0.0, 0.5), rescale=True)
    np.testing.assert_array_equal(plain["relu"][:, 0], scaled["relu"][:, 0])


def test_overfitting_demo():
    data = _data()
    variants = {"relu": NetSpec("relu"), "relu + L2": NetSpec("relu", l2=1e-2)}
    out = overfitting_demo(
        data, variants, seeds=(0, 1), train_size=32, width=16, epochs=6, batch_size=16
    )
    assert set(out) == {"relu", "relu + L2"}
    relu = out["relu"]
    assert relu["train_accuracy"].shape == (2,) and relu["history"]["loss"].shape == (6, 2)
    stop = np.argmin(relu["history"]["val_loss"], axis=0)
    np.testing.assert_array_equal(
        relu["stopped_test_accuracy"], relu["history"]["test_accuracy"][stop, [0, 1]]
    )
    np.testing.assert_array_equal(relu["test_loss"], relu["history"]["test_loss"][-1])


def test_activation_timings_shapes():
    per_element = activation_time_per_element(
        {"relu": "relu", "gelu": "gelu"}, elements=1 << 12, repeats=2, number=2
    )
    assert set(per_element) == {"relu", "gelu"}
    assert per_element["relu"].shape == (2,) and np.all(per_element["gelu"] > 0)
    times = activation_step_times(
        {"relu": "relu", "prelu": "prelu"}, width=16, batch_size=16, repeats=3, number=2
    )
    assert set(times) == {"identity", "relu", "prelu"} and times["relu"].shape == (3,)
    share = step_share(times, "prelu")
    ratio = stats.ratio_interval(times["prelu"], times["identity"])
    assert share.mean == pytest.approx(1 - 1 / ratio.mean)
    assert share.low <= share.mean <= share.high < 1


def test_step_share_of_a_known_cost():
    """A step that costs twice the identity's: the activation is half of it."""
    times = {"identity": np.array([1.0, 1.1, 0.9]), "slow": np.array([2.0, 2.2, 1.8])}
    share = step_share(times, "slow")
    assert share.mean == pytest.approx(0.5) and share.n == 3


def test_summarize_trials_reference():
    records = [
        {"activation": a, "seed": s, "val_accuracy": v, "note": "x"}
        for a, s, v in [("a", 0, 0.5), ("a", 1, 0.7), ("b", 0, 0.9), ("b", 1, 0.8)]
    ]
    table = summarize_trials(records)
    assert list(table.index) == ["b", "a"]
    assert list(table.columns) == ["val_accuracy_mean", "val_accuracy_std"]
    np.testing.assert_allclose(table.loc["a", "val_accuracy_std"], np.std([0.5, 0.7], ddof=1))


def test_differs_beyond_noise_is_the_paired_t_test():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(size=6)
        b = a + rng.normal(0.5, 0.5, size=6)
        p = scipy_stats.ttest_rel(a, b).pvalue
        assert differs_beyond_noise(a, b, alpha=0.05) == (p < 0.05)
    # a consistent shift hidden by large seed-to-seed spread: paired sees it, Welch does not
    base = rng.normal(0.9, 0.05, size=10)
    shifted = base + 0.01 + rng.normal(0, 0.001, size=10)
    assert differs_beyond_noise(shifted, base)
    assert scipy_stats.ttest_ind(shifted, base, equal_var=False).pvalue > 0.05
    # constant differences: no noise
    assert differs_beyond_noise([1.0, 2.0], [0.0, 1.0]) and not differs_beyond_noise([1, 2], [1, 2])
    with pytest.raises(ValueError):
        differs_beyond_noise([1, 2, 3], [1, 2])


def test_paired_false_positive_rate_near_alpha():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        seed_effect = rng.normal(size=5)
        hits += differs_beyond_noise(
            seed_effect + rng.normal(size=5), seed_effect + rng.normal(size=5)
        )
    assert 0.035 < hits / 2000 < 0.065


def test_paired_comparisons_align_seeds_and_apply_holm():
    rng = np.random.default_rng(2)
    seed_effect = rng.normal(0.9, 0.02, size=10)
    shifts = {"relu": 0.0, "far": -0.05, "near": 0.001, "same": 0.0}
    records = [
        {
            "activation": name,
            "seed": s,
            "test_accuracy": seed_effect[s] + shift + rng.normal(0, 0.002),
        }
        for name, shift in shifts.items()
        for s in range(10)
    ]
    shuffled = [records[i] for i in rng.permutation(len(records))]
    table = paired_comparisons(shuffled, test=differs_beyond_noise)
    assert list(table.index) == [
        name for name in dict.fromkeys(r["activation"] for r in shuffled) if name != "relu"
    ]
    scores, seeds = paired_scores(records, "test_accuracy", "relu")
    assert seeds == list(range(10))
    far = stats.paired_difference(scores["far"], scores["relu"])
    assert table.loc["far", "test_accuracy − relu"] == pytest.approx(far.mean)
    assert table.loc["far", "paired t p"] == pytest.approx(far.p)
    assert table.loc["far", "95% CI high"] == pytest.approx(far.high)
    assert bool(table.loc["far", "Holm rejects"]) and not bool(table.loc["same", "Holm rejects"])
    assert table["Holm rejects"].to_list() == stats.holm(table["paired t p"].to_list())
    assert isinstance(table, pd.DataFrame) and "test (uncorrected)" in table


def test_cpu_clock_ignores_time_the_process_does_not_compute():
    """A call that only waits (as when other programs hold the cores) costs wall time but
    no CPU time: the default clock measures the work, not the machine's load."""
    import time

    from relu_course.experiments.capstone import _interleaved_times

    def wait():
        time.sleep(0.01)

    cpu = _interleaved_times({"wait": wait}, repeats=1, number=2, rounds=1)
    wall = _interleaved_times({"wait": wait}, repeats=1, number=2, rounds=1, clock="wall")
    assert wall["wait"][0] >= 0.009 and cpu["wait"][0] < 0.005
    with pytest.raises(ValueError, match="clock"):
        _interleaved_times({"wait": wait}, repeats=1, number=1, clock="sundial")
