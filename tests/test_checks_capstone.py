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
    "ascending_sort": (lambda r: _agg(r).sort_values("val_accuracy_mean"), "worst first"),
    "population_std": (_population_std, "sample standard deviation"),
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
def _sign_flip_exact(a, b, alpha=0.05):
    d = np.asarray(a, float) - np.asarray(b, float)
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * len(d))).reshape(len(d), -1).T
    means = np.abs(signs @ d) / len(d)
    return bool(np.mean(means >= abs(d.mean()) - 1e-12) < alpha)


def _sign_flip_monte_carlo(a, b, alpha=0.05):
    d = np.asarray(a, float) - np.asarray(b, float)
    rng = np.random.default_rng()
    signs = rng.choice([-1.0, 1.0], size=(999, len(d)))
    count = np.sum(np.abs(signs @ d) / len(d) >= abs(d.mean()) - 1e-12)
    return bool((count + 1) / 1000 < alpha)


def _manual_paired_t(a, b, alpha=0.05):
    d = np.asarray(a, float) - np.asarray(b, float)
    sd = d.std(ddof=1)
    if sd == 0:
        return bool(d.mean() != 0)
    t = d.mean() / (sd / np.sqrt(len(d)))
    return bool(2 * stats.t.sf(abs(t), len(d) - 1) < alpha)


def _one_sample_on_differences(a, b, alpha=0.05):
    d = np.subtract(a, b)
    return bool(stats.ttest_1samp(d, 0.0).pvalue < alpha)


NOISE_CORRECT = {
    "ttest_rel": lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b).pvalue < alpha),
    "manual_paired_t": _manual_paired_t,
    "one_sample_on_differences": _one_sample_on_differences,
    "sign_flip_exact": _sign_flip_exact,
    "sign_flip_monte_carlo": _sign_flip_monte_carlo,
    "course_reference": lambda a, b, alpha=0.05: __import__(
        "relu_course.capstone", fromlist=["differs_beyond_noise"]
    ).differs_beyond_noise(a, b, alpha),
}


def _z_test_on_differences(a, b, alpha=0.05):
    d = np.subtract(a, b)
    sd = d.std(ddof=1)
    if sd == 0:
        return bool(d.mean() != 0)
    return bool(2 * stats.norm.sf(abs(d.mean()) / (sd / np.sqrt(len(d)))) < alpha)


NOISE_WRONG = {
    "unpaired_welch": (
        lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b, equal_var=False).pvalue < alpha),
        "paired",
    ),
    "unpaired_student": (
        lambda a, b, alpha=0.05: bool(stats.ttest_ind(a, b).pvalue < alpha),
        "unpaired test",
    ),
    "one_sided_greater": (
        lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b, alternative="greater").pvalue < alpha),
        "one-sided",
    ),
    "one_sided_less": (
        lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b, alternative="less").pvalue < alpha),
        "one-sided",
    ),
    "inverted": (
        lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b).pvalue > alpha),
        "inverted",
    ),
    "any_difference": (
        lambda a, b, alpha=0.05: bool(np.mean(a) != np.mean(b)),
        "without any difference",
    ),
    "normal_approximation": (_z_test_on_differences, "too eager"),
    "returns_p_value": (
        lambda a, b, alpha=0.05: stats.ttest_rel(a, b).pvalue,
        "not a bool",
    ),
    "never": (lambda a, b, alpha=0.05: False, "never returned True"),
    "ignores_alpha": (lambda a, b, alpha=0.05: bool(stats.ttest_rel(a, b).pvalue < 0.05), "alpha"),
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


# Wrong answer cells the grader's probes must reject outside the learner's kernel
# (tests/test_verify_probes.py): an unpaired test misses the paired shifts.
PROBE_MISCONCEPTIONS = {
    # population std (ddof=0) instead of the sample std the exercise asks for
    "summarize_trials": "def summarize_trials(records):\n"
    "    frame = pd.DataFrame(records).drop(columns=['seed'])\n"
    "    grouped = frame.groupby('activation')\n"
    "    means = grouped.mean(numeric_only=True).add_suffix('_mean')\n"
    "    stds = grouped.std(ddof=0, numeric_only=True).add_suffix('_std')\n"
    "    table = pd.concat([means, stds], axis=1)\n"
    "    return table.sort_values('val_accuracy_mean', ascending=False)\n",
    "differs_beyond_noise": "def differs_beyond_noise(a, b, alpha=0.05):\n"
    "    return bool(stats.ttest_ind(a, b, equal_var=False).pvalue < alpha)\n",
}
