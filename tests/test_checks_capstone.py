"""Checks of notebook 07 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from relu_course.checks import check_differs_beyond_noise, check_summarize_trials


def _stub(*args):
    raise NotImplementedError()


# ---------------------------------------------------------------- summarize_trials
def _with_numpy(records):
    names = sorted({r["activation"] for r in records})
    metrics = [
        k
        for k, v in records[0].items()
        if k not in ("activation", "seed") and isinstance(v, int | float)
    ]
    rows = {}
    for name in names:
        row = {}
        for metric in metrics:
            values = np.array([r[metric] for r in records if r["activation"] == name])
            row[f"{metric}_mean"] = values.mean()
            row[f"{metric}_std"] = values.std(ddof=1)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").sort_values(
        "val_accuracy_mean", ascending=False
    )


def _agg(records):
    frame = pd.DataFrame(records).drop(columns="seed")
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    frame = frame.groupby("activation")[numeric].agg(["mean", "std"])
    frame.columns = [f"{m}_{s}" for m, s in frame.columns]
    return frame.sort_values("val_accuracy_mean", ascending=False)


def _select_dtypes(records):
    frame = pd.DataFrame(records).set_index("activation").drop(columns="seed")
    grouped = frame.select_dtypes("number").groupby(level=0)
    return (
        grouped.mean()
        .add_suffix("_mean")
        .join(grouped.std().add_suffix("_std"))
        .sort_values("val_accuracy_mean", ascending=False)
    )


def _population_std(records):
    table = _agg(records)
    frame = pd.DataFrame(records).drop(columns="seed").groupby("activation")
    for column in table.columns:
        if column.endswith("_std"):
            table[column] = frame[column[:-4]].std(ddof=0)
    return table


SUMMARY_CORRECT = {"agg": _agg, "numpy_loops": _with_numpy, "select_dtypes": _select_dtypes}

SUMMARY_WRONG = {
    "ascending_sort": (lambda r: _agg(r).sort_values("val_accuracy_mean"), "ascending=false"),
    "population_std": (_population_std, "ddof=1"),
    "seed_averaged": (
        lambda r: (lambda f: f.set_axis([f"{m}_{s}" for m, s in f.columns], axis=1))(
            pd.DataFrame(r)
            .groupby("activation")[[k for k in r[0] if k not in ("activation", "optimizer")]]
            .agg(["mean", "std"])
        ).sort_values("val_accuracy_mean", ascending=False),
        "seed",
    ),
    "non_numeric_included": (
        lambda r: (lambda f: f.set_axis([f"{m}_{s}" for m, s in f.columns], axis=1))(
            pd.DataFrame(r).drop(columns="seed").groupby("activation").agg(["mean", "std"])
        ).sort_values("val_accuracy_mean", ascending=False),
        "non-numeric",
    ),
    "wrong_index": (lambda r: _agg(r).reset_index(), "indexed by activation"),
    "indexed_by_seed": (
        lambda r: _agg([{**x, "activation": str(x["seed"]), "seed": x["activation"]} for x in r]),
        "indexed by activation",
    ),
    "means_only": (
        lambda r: _agg(r)[[c for c in _agg(r).columns if c.endswith("_mean")]],
        "columns",
    ),
    "returns_dict": (lambda r: _agg(r).to_dict(), "not a pandas dataframe"),
    "returns_none": (lambda r: None, "not a pandas dataframe"),
    "mutates_records": (lambda r: (r.pop(), _agg(r))[1], "in place"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", SUMMARY_CORRECT)
def test_summarize_trials_accepts(name):
    check_summarize_trials(SUMMARY_CORRECT[name])


@pytest.mark.parametrize("name", SUMMARY_WRONG)
def test_summarize_trials_rejects(name, rejected):
    candidate, fragment = SUMMARY_WRONG[name]
    rejected(check_summarize_trials, candidate, fragment)


# ---------------------------------------------------------------- differs_beyond_noise
def _permutation(a, b, alpha=0.05):
    a, b = np.asarray(a, float), np.asarray(b, float)
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    rng = np.random.default_rng()
    count = 0
    for _ in range(400):
        p = rng.permutation(pooled)
        count += abs(p[: len(a)].mean() - p[len(a) :].mean()) >= observed - 1e-12
    return (count + 1) / 401 < alpha


def _manual_welch(a, b, alpha=0.05):
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return bool(a.mean() != b.mean())
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return bool(2 * stats.t.sf(abs(t), df) < alpha)


NOISE_CORRECT = {
    "welch": lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b, equal_var=False).pvalue < alpha),
    "student": lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b).pvalue < alpha),
    "manual_welch": _manual_welch,
    "permutation": _permutation,
    "scipy_permutation": lambda a, b, alpha=0.05: bool(
        stats.permutation_test(
            (a, b), lambda x, y: np.mean(x) - np.mean(y), n_resamples=300, vectorized=False
        ).pvalue
        < alpha
    ),
}

NOISE_WRONG = {
    "any_difference": (
        lambda a, b, alpha=0.05: bool(np.mean(a) != np.mean(b)),
        "same distribution",
    ),
    "compares_means_threshold": (
        lambda a, b, alpha=0.05: abs(np.mean(a) - np.mean(b)) > 0.01,
        "same distribution",
    ),
    "paired_test": (
        lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b).pvalue < alpha),
        "unpaired",
    ),
    "returns_p_value": (
        lambda a, b, alpha=0.05: stats.ttest_ind(a, b, equal_var=False).pvalue,
        "not a bool",
    ),
    "inverted": (
        lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b, equal_var=False).pvalue > alpha),
        "clearly separated",
    ),
    "never": (lambda a, b, alpha=0.05: False, "clearly separated"),
    "ignores_alpha": (lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b).pvalue < 0.05), "alpha"),
    "one_sided_without_abs": (
        lambda a, b, alpha=0.05: bool(
            (np.mean(b) - np.mean(a))
            / np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
            > 2
        ),
        "clearly separated",
    ),
    "stub": (_stub, "not implemented yet"),
    "returns_none": (lambda a, b, alpha=0.05: None, "return"),
}


@pytest.mark.parametrize("name", NOISE_CORRECT)
def test_differs_beyond_noise_accepts(name):
    check_differs_beyond_noise(NOISE_CORRECT[name])


@pytest.mark.parametrize("name", NOISE_WRONG)
def test_differs_beyond_noise_rejects(name, rejected):
    candidate, fragment = NOISE_WRONG[name]
    rejected(check_differs_beyond_noise, candidate, fragment)
