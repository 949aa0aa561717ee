"""The capstone runners and statistics (the ensemble itself: tests/test_ensemble.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relu_course.capstone import (
    compare_to_baseline,
    differs_beyond_noise,
    summarize_trials,
    welch_p_value,
)
from relu_course.data import Split
from relu_course.experiments.ablation import ablation_records, activation_cost


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int32)
    return Split(x, y, x[:24], y[:24])


def test_ablation_records_fields():
    records, history = ablation_records(
        _data(), {"relu": "relu", "tanh": "tanh"}, seeds=(0, 1), width=8, epochs=1
    )
    assert len(records) == 4 and history["val_accuracy"].shape == (1, 4)
    assert set(records[0]) == {
        "activation",
        "seed",
        "val_accuracy",
        "train_accuracy",
        "val_loss",
        "sparsity",
        "dead_fraction",
        "activation_us",
    }
    assert activation_cost("relu", shape=(64, 8), repeat=1) > 0


def test_summarize_trials_reference():
    records = [
        {"activation": a, "seed": s, "val_accuracy": v, "note": "x"}
        for a, s, v in [("a", 0, 0.5), ("a", 1, 0.7), ("b", 0, 0.9), ("b", 1, 0.8)]
    ]
    table = summarize_trials(records)
    assert list(table.index) == ["b", "a"]
    assert list(table.columns) == ["val_accuracy_mean", "val_accuracy_std"]
    np.testing.assert_allclose(table.loc["a", "val_accuracy_std"], np.std([0.5, 0.7], ddof=1))


def test_welch_against_scipy_and_constant_samples():
    from scipy import stats

    a, b = [0.9, 0.92, 0.91], [0.95, 0.97, 0.96, 0.94]
    assert welch_p_value(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert welch_p_value([1, 1], [1, 1]) == 1.0 and welch_p_value([1, 1], [2, 2]) == 0.0
    assert differs_beyond_noise(a, b) and not differs_beyond_noise(a, a)


def test_false_positive_rate_near_alpha():
    rng = np.random.default_rng(0)
    hits = sum(differs_beyond_noise(rng.normal(size=5), rng.normal(size=5)) for _ in range(2000))
    assert 0.03 < hits / 2000 < 0.07


def test_compare_to_baseline():
    records = [
        {"activation": a, "seed": s, "val_accuracy": v}
        for a, s, v in [
            ("relu", 0, 0.9),
            ("relu", 1, 0.91),
            ("sig", 0, 0.5),
            ("sig", 1, 0.52),
            ("same", 0, 0.905),
            ("same", 1, 0.9),
        ]
    ]
    table = compare_to_baseline(records)
    assert isinstance(table, pd.DataFrame) and set(table.index) == {"sig", "same"}
    assert bool(table.loc["sig", "differs beyond noise"])
    assert not bool(table.loc["same", "differs beyond noise"])
