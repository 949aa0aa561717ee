"""Checks for notebook 07 (capstone): summarize_trials, differs_beyond_noise."""

from __future__ import annotations

import warnings

import numpy as np

from relu_course.checks._framework import Check, CheckFailed, describe
from relu_course.checks._registry import Exercise

__all__ = ["check_differs_beyond_noise", "check_summarize_trials"]

_NAMES = ["relu", "leaky_relu", "prelu", "elu", "gelu", "tanh", "sigmoid", "swish", "selu"]
_METRICS = ["sparsity", "dead_fraction", "time_s", "train_accuracy", "val_loss"]


def _random_records(rng, text_column: bool):
    """Per-seed records of a few activations, unequal seed counts, distinct means."""
    names = list(rng.choice(_NAMES, size=int(rng.integers(3, 6)), replace=False))
    metrics = list(rng.choice(_METRICS, size=int(rng.integers(1, 4)), replace=False))
    records = []
    for name in names:
        centre = rng.uniform(0.5, 0.99)
        for seed in rng.permutation(int(rng.integers(2, 6))):
            record = {
                "activation": str(name),
                "seed": int(seed),
                "val_accuracy": float(centre + rng.normal(scale=0.01)),
            }
            for metric in metrics:
                record[str(metric)] = float(rng.normal(loc=1.0, scale=0.5))
            if text_column:
                record["optimizer"] = "adam"
            records.append(record)
    order = rng.permutation(len(records))
    return [records[i] for i in order]


def check_summarize_trials(summarize_trials) -> None:
    """A DataFrame indexed by activation with <metric>_mean/_std (ddof=1), best first."""
    check = Check("summarize_trials", summarize_trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_summary(check)
    check.passed("index, columns, sample std, order, non-numeric columns ignored")


def _check_summary(check) -> None:
    import pandas as pd

    from relu_course.capstone import summarize_trials as reference

    rng = check.rng
    for text_column in (False, False, True):
        records = _random_records(rng, text_column)
        on = f"{len(records)} records like {records[0]}" + (
            " (with a text column 'optimizer')" if text_column else ""
        )
        try:
            got = check.call(records, on=on)
        except CheckFailed as error:
            if text_column and " raised " in str(error):
                check.fail(
                    "summarize_trials fails when a record has a non-numeric column",
                    on=on,
                    hint="summarise numeric metrics only, e.g. "
                    "select_dtypes('number') or numeric_only=True",
                )
            raise
        expected = reference(records)
        if not isinstance(got, pd.DataFrame):
            check.fail(
                f"summarize_trials returned {type(got).__name__}, not a pandas DataFrame",
                on=on,
                got=got,
                hint="build it with pandas: DataFrame(records).groupby(...)",
            )
        if set(got.index) != set(expected.index):
            check.fail(
                "the DataFrame is not indexed by activation",
                on=on,
                expected=str(list(expected.index)),
                got=str(list(got.index)[:8]),
                hint="group by 'activation' and keep it as the index "
                "(no reset_index, no as_index=False)",
            )
        columns = [str(c) for c in got.columns]
        if "seed_mean" in columns or "seed_std" in columns:
            check.fail(
                "the seed was summarised as if it were a metric",
                on=on,
                got=str(columns),
                hint="drop the 'seed' column before averaging: it is "
                "a label of the trial, not a measurement",
            )
        if "optimizer_mean" in columns or any(c.startswith("activation_") for c in columns):
            check.fail(
                "a non-numeric column was summarised",
                on=on,
                got=str(columns),
                hint="summarise numeric metrics only",
            )
        if set(columns) != set(expected.columns):
            check.fail(
                "wrong columns",
                on=on,
                expected=str(sorted(expected.columns)),
                got=str(sorted(columns)),
                hint="one <metric>_mean and one <metric>_std column per numeric metric "
                "(seed excluded), e.g. val_accuracy_mean, val_accuracy_std",
            )
        ascending = list(expected.index[::-1])
        if list(got.index) != list(expected.index):
            hint = (
                "sorted worst first: sort by val_accuracy_mean with ascending=False"
                if list(got.index) == ascending
                else "sort the rows by val_accuracy_mean, best (highest) first"
            )
            check.fail(
                "the rows are in the wrong order",
                on=on,
                expected=str(list(expected.index)),
                got=str(list(got.index)),
                hint=hint,
            )
        frame = pd.DataFrame(records)
        for column in expected.columns:
            want = expected[column].to_numpy(dtype=np.float64)
            have = np.asarray(got.loc[expected.index, column], dtype=np.float64)
            if np.allclose(have, want, rtol=1e-6, atol=1e-9):
                continue
            hint = None
            if column.endswith("_std"):
                metric = column[:-4]
                population = frame.groupby("activation")[metric].std(ddof=0)
                if np.allclose(have, population.loc[expected.index], rtol=1e-6, atol=1e-9):
                    hint = (
                        "this is the population standard deviation (ddof=0, NumPy's "
                        "default); report the sample standard deviation, ddof=1 (pandas' "
                        "default)"
                    )
            check.expect_close(
                have,
                want,
                on,
                rtol=1e-6,
                atol=1e-9,
                what=f"column {column} has wrong values",
                hint=hint
                or "mean and sample std (ddof=1) of each metric over the seeds of each activation",
            )


def _as_bool(check, result, on):
    if isinstance(result, bool | np.bool_):
        return bool(result)
    if result is None:
        check.fail(
            "differs_beyond_noise returned None",
            on=on,
            hint="did you forget the `return` statement?",
        )
    check.fail(
        f"differs_beyond_noise returned {describe(result)}, not a bool",
        on=on,
        hint="return True or False (e.g. bool(p_value < alpha)), not the p-value",
    )


def _null_limit(trials: int, alpha: float) -> int:
    """Largest count of 'True' a level-alpha test may give on ``trials`` null pairs
    (binomial upper tail 1e-4: a correct test fails this about once in 10,000 runs)."""
    from scipy import stats

    return int(stats.binom.ppf(1 - 1e-4, trials, alpha))


def check_differs_beyond_noise(differs_beyond_noise) -> None:
    """False positives at most about alpha on pairs from one distribution; True for clearly
    separated samples; unpaired samples of unequal sizes; any scale."""
    check = Check("differs_beyond_noise", differs_beyond_noise)
    with warnings.catch_warnings():
        # SciPy warns on (nearly) constant samples; a test cell must not write to stderr.
        warnings.simplefilter("ignore")
        _check_noise(check)
    check.passed(
        "false-positive rate within alpha on same-distribution pairs, separated "
        "samples detected, unpaired samples of any size and scale"
    )


def _check_noise(check) -> None:
    rng = check.rng
    for _ in check.devices():
        # 1. Unpaired samples of different sizes and plain lists must work.
        a = list(rng.normal(0.9, 0.01, size=3))
        b = list(rng.normal(0.9, 0.01, size=6))
        on = f"a = {describe(a)} (a list), b = {describe(b)} (a list of another length)"
        try:
            _as_bool(check, check.call(a, b, on=on), on)
        except CheckFailed as error:
            if " raised " in str(error):
                check.fail(
                    "differs_beyond_noise fails on unpaired samples of different sizes",
                    on=on,
                    hint="per-seed scores of two configurations are independent "
                    "samples, not pairs: use an unpaired test (ttest_ind, not ttest_rel)",
                )
            raise
        # 2. Clearly separated samples, at the scale of accuracies and of losses.
        for scale, centre in ((0.003, 0.95), (1.0, 0.0), (50.0, 1000.0)):
            n_a, n_b = int(rng.integers(4, 8)), int(rng.integers(4, 8))
            a = rng.normal(centre, scale, size=n_a)
            b = rng.normal(centre + 12 * scale, scale, size=n_b)
            for first, second in ((a, b), (b, a)):
                on = f"a = {describe(first)}, b = {describe(second)}"
                if not _as_bool(check, check.call(first, second, on=on), on):
                    check.fail(
                        "two clearly separated samples (means 12 standard deviations "
                        "apart) were called not different",
                        on=on,
                        hint="compare the difference of the means with its standard "
                        "error (Welch's t-test: scipy.stats.ttest_ind(a, b, "
                        "equal_var=False)), and return p < alpha",
                    )
        # 3. Pairs from one distribution: at most about alpha of them may be called different.
        for alpha in (0.05, 0.3):
            trials, positives = (300 if alpha == 0.05 else 150), 0
            for _ in range(trials):
                n_a, n_b = int(rng.integers(3, 9)), int(rng.integers(3, 9))
                centre, scale = rng.uniform(-5, 5), np.exp(rng.uniform(-6, 2))
                a = rng.normal(centre, scale, size=n_a)
                b = rng.normal(centre, scale, size=n_b)
                on = f"a = {describe(a)}, b = {describe(b)}, alpha = {alpha}"
                call = (a, b) if alpha == 0.05 else (a, b, alpha)
                positives += _as_bool(check, check.call(*call, on=on), on)
            limit = _null_limit(trials, alpha)
            if positives > limit:
                always = positives == trials
                check.fail(
                    f"on {trials} pairs of samples drawn from the same distribution, "
                    f"{positives} were called different; a test at level alpha = "
                    f"{alpha} should do so about {alpha * trials:.0f} times (at most "
                    f"{limit})",
                    on="pairs of 3–8 normal scores with equal mean and "
                    "spread" + ("" if alpha == 0.05 else f", alpha={alpha}"),
                    hint="any two noisy means differ: that alone is not significant; "
                    "compare the difference with the noise (a t-test's p-value "
                    "against alpha)"
                    if always or positives > trials / 2
                    else "your test is too eager: with 3–8 scores per side use the t "
                    "distribution (Welch's t-test) rather than a normal "
                    "approximation, and return p < alpha",
                )
            if alpha == 0.3 and positives < trials * 0.1:
                check.fail(
                    f"with alpha = 0.3, only {positives} of {trials} same-distribution "
                    "pairs were called different (expected about 45)",
                    hint="use the alpha argument as the significance level",
                )
        # 4. No noise at all: equal constants are not different.
        same = np.full(4, 0.97)
        on = f"a = b = {describe(same)}"
        if _as_bool(check, check.call(same, same.copy(), on=on), on):
            check.fail("two identical samples were called different", on=on)


# ------------------------------------------------------------------ grading probes
EXERCISES = [
    Exercise("summarize_trials", notebook="07_capstone", points=3, probes=None),
    Exercise("differs_beyond_noise", notebook="07_capstone", points=3, probes=None),
]
