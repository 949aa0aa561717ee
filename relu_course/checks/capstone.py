"""Checks for notebook 07 (capstone): summarize_trials, differs_beyond_noise (paired)."""

from __future__ import annotations

import warnings

import numpy as np

from relu_course.checks._framework import Check, CheckFailed, describe
from relu_course.checks._registry import Arg, Exercise, Probe, frame_to_plain

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
    from relu_course.capstone import summarize_trials as reference

    rng = check.rng
    for text_column in (False, False, True):
        records = _random_records(rng, text_column)
        on = f"{len(records)} records like {records[0]}" + (
            " (with a text column 'optimizer')" if text_column else ""
        )
        got = _summary_of(check, records, on, text_column)
        expected = reference(records)
        _check_summary_layout(check, got, expected, on)
        _check_summary_values(check, got, expected, records, on)


def _summary_of(check, records, on: str, text_column: bool):
    """The candidate's table for ``records``; a failure on a text column gets its hint."""
    try:
        return check.call(records, on=on)
    except CheckFailed as error:
        if text_column and " raised " in str(error):
            check.fail(
                "summarize_trials fails when a record has a non-numeric column",
                on=on,
                hint="summarise the numeric metrics only: a text column (here 'optimizer') "
                "has no mean",
            )
        raise


def _check_summary_layout(check, got, expected, on: str) -> None:
    """A DataFrame indexed by activation, with one _mean and one _std column per numeric
    metric (not the seed, no text column), rows best first."""
    import pandas as pd

    if not isinstance(got, pd.DataFrame):
        check.fail(
            f"summarize_trials returned {type(got).__name__}, not a pandas DataFrame",
            on=on,
            got=got,
            hint="build a pandas DataFrame from the records and group it by activation",
        )
    if set(got.index) != set(expected.index):
        check.fail(
            "the DataFrame is not indexed by activation",
            on=on,
            expected=str(list(expected.index)),
            got=str(list(got.index)[:8]),
            hint="the activation names are the table's index (see the docstring): keep the "
            "grouping key as the index instead of turning it back into a column",
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
    if list(got.index) != list(expected.index):
        hint = (
            "sorted worst first: the docstring asks for the highest val_accuracy_mean first"
            if list(got.index) == list(expected.index[::-1])
            else "sort the rows by val_accuracy_mean, best (highest) first"
        )
        check.fail(
            "the rows are in the wrong order",
            on=on,
            expected=str(list(expected.index)),
            got=str(list(got.index)),
            hint=hint,
        )


def _check_summary_values(check, got, expected, records, on: str) -> None:
    """Each column's values: the mean and the sample std over the seeds of each activation."""
    import pandas as pd

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
                    "this is the population standard deviation (dividing by n, NumPy's "
                    "default); the docstring asks for the sample standard deviation (dividing "
                    "by n − 1, pandas' default)"
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
        hint="return the decision, True or False (a Python bool), not the p-value",
    )


def _null_limit(trials: int, alpha: float) -> int:
    """Largest count of 'True' a level-alpha test may give on ``trials`` null pairs
    (binomial upper tail 1e-4: a correct test fails this about once in 10,000 runs)."""
    from scipy import stats

    return int(stats.binom.ppf(1 - 1e-4, trials, alpha))


def _paired_scores(rng, n: int, shift: float, *, centre: float, seed_spread: float, noise: float):
    """Per-seed scores of two configurations that share their seeds: a common seed effect
    (``seed_spread``, large) plus small independent noise; ``a`` is shifted by ``shift``."""
    seed_effect = rng.normal(centre, seed_spread, size=n)
    a = seed_effect + shift + rng.normal(0.0, noise, size=n)
    b = seed_effect + rng.normal(0.0, noise, size=n)
    return a, b


def _obvious(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two paired samples so far apart that every test, paired or not, finds it."""
    b = rng.normal(0.0, 1.0, size=n)
    return b + 50.0 + rng.normal(0.0, 1.0, size=n), b


def _welch_p(a, b) -> float:
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def check_differs_beyond_noise(differs_beyond_noise) -> None:
    """Paired samples (same seed at the same index): a consistent difference hidden by a
    large seed-to-seed spread is found in either direction (at least 10 pairs, so an exact
    sign-flip test can find it too); at most about alpha false positives on pairs without
    a difference; alpha is used; plain lists work."""
    check = Check("differs_beyond_noise", differs_beyond_noise)
    with warnings.catch_warnings():
        # SciPy warns on (nearly) constant samples; a test cell must not write to stderr.
        warnings.simplefilter("ignore")
        _check_noise(check)
    check.passed(
        "paired differences found in both directions, false-positive rate within alpha "
        "on pairs without a difference, alpha respected"
    )


def _check_noise(check) -> None:
    rng = check.rng
    for _ in check.devices():
        _check_lists_give_a_bool(check, rng)
        _check_false_positives(check, rng, alpha=0.05)
        loose = _check_false_positives(check, rng, alpha=0.3)  # judged after the detections
        _check_identical_samples(check)
        _check_paired_detection(check, rng)
        _check_alpha_is_the_level(check, *loose)
        _check_constant_difference(check, rng)


def _check_lists_give_a_bool(check, rng) -> None:
    """Plain lists of equal length, a bool back."""
    a, b = _paired_scores(rng, 6, 0.0, centre=0.9, seed_spread=0.02, noise=0.005)
    a, b = list(a), list(b)
    on = f"a = {describe(a)}, b = {describe(b)} (lists, paired by index)"
    _as_bool(check, check.call(a, b, on=on), on)


def _check_false_positives(check, rng, alpha: float) -> tuple[int, int]:
    """Pairs without a difference: at most about alpha of them may be called different.
    Returns (positives, trials)."""
    trials, positives = (400 if alpha == 0.05 else 150), 0
    for _ in range(trials):
        n = int(rng.integers(3, 9))
        spread = float(np.exp(rng.uniform(-5, 2)))
        a, b = _paired_scores(
            rng, n, 0.0, centre=rng.uniform(-5, 5), seed_spread=spread, noise=spread / 5
        )
        on = f"a = {describe(a)}, b = {describe(b)}, alpha = {alpha}"
        call = (a, b) if alpha == 0.05 else (a, b, alpha)
        positives += _as_bool(check, check.call(*call, on=on), on)
    limit = _null_limit(trials, alpha)
    if positives > limit:
        if positives > trials * (1 - alpha) * 0.8:
            hint = (
                "the answer is inverted: return True when the p-value is *below* "
                "alpha (the data are unlikely without a difference), not above"
            )
        elif positives > trials / 2:
            hint = (
                "any two noisy samples differ a little: that alone is not "
                "significant; compare the mean difference with its noise (a paired "
                "t-test's p-value against alpha)"
            )
        else:
            hint = (
                "your test is too eager: with 3-8 pairs use the t distribution "
                "(paired t-test) or an exact sign-flip test rather than a normal "
                "approximation"
            )
        check.fail(
            f"on {trials} paired samples without any difference, {positives} were "
            f"called different; a test at level alpha = {alpha} should do so about "
            f"{alpha * trials:.0f} times (at most {limit})",
            on="3-8 pairs sharing a seed effect, no shift"
            + ("" if alpha == 0.05 else f", alpha={alpha}"),
            hint=hint,
        )
    return positives, trials


def _check_identical_samples(check) -> None:
    """No noise at all: identical samples are not different."""
    same = np.full(8, 0.97)
    on = f"a = b = {describe(same)}"
    if _as_bool(check, check.call(same, same.copy(), on=on), on):
        check.fail(
            "two identical samples were called different",
            on=on,
            hint="with every difference 0 there is nothing to detect",
        )


def _check_paired_detection(check, rng) -> None:
    """A consistent paired difference hidden by the seed-to-seed spread, both directions,
    at the scale of accuracies and of losses. 10-16 pairs whose differences all have the
    same sign: the paired t-test and the exact sign-flip test (smallest p = 2/2^n) both
    reject at 0.05; an unpaired test does not."""
    for centre, spread in ((0.9, 0.03), (2.0, 0.5), (-300.0, 40.0)):
        n = int(rng.integers(10, 17))
        noise = spread / 100
        for sign in (1.0, -1.0):
            a, b = _paired_scores(
                rng, n, sign * 12 * noise, centre=centre, seed_spread=spread, noise=noise
            )
            on = (
                f"a = {describe(a)}, b = {describe(b)} (a[i] − b[i] all "
                f"{'positive' if sign > 0 else 'negative'}, {n} pairs)"
            )
            if _as_bool(check, check.call(a, b, on=on), on):
                continue
            if _as_bool(check, check.call(b, a, on=on), on):
                hint = (
                    "found with the arguments in one order but not in the other: your "
                    "test is one-sided. Use a two-sided test: a difference in either "
                    "direction counts"
                )
            elif not _as_bool(check, check.call(*_obvious(rng, n), on=on), on):
                hint = (
                    "it did not even find a difference of 50 standard deviations: it never "
                    "returned True here; compare the p-value of a test of the seed-wise "
                    "differences with alpha, and return that decision"
                )
            elif _welch_p(a, b) > 0.05:
                hint = (
                    "the scores are paired: a[i] and b[i] come from the same seed, so "
                    "the large seed-to-seed spread cancels in the differences a[i] − b[i]. "
                    "An unpaired test (Welch, ttest_ind) compares the difference with "
                    "that spread and misses it; test the differences (a paired test, as "
                    "the docstring says)"
                )
            else:
                hint = "a consistent difference in every pair should be called different"
            check.fail(
                "a consistent difference between paired samples was not detected",
                on=on,
                expected="True",
                got="False",
                hint=hint,
            )


def _check_alpha_is_the_level(check, positives: int, trials: int) -> None:
    """At alpha = 0.3 a valid test rejects about 30% of samples without a difference."""
    if positives < trials * 0.1:
        check.fail(
            f"with alpha = 0.3, only {positives} of {trials} samples without a "
            f"difference were called different (expected about {0.3 * trials:.0f})",
            hint="use the alpha argument as the significance level",
        )


def _check_constant_difference(check, rng) -> None:
    """A constant non-zero difference over 12 pairs: no spread, clearly different."""
    base = rng.normal(0.9, 0.02, size=12)
    a, b = base + 0.01, base
    on = f"a = {describe(a)}, b = {describe(b)} (a − b = 0.01 for every pair)"
    if not _as_bool(check, check.call(a, b, on=on), on):
        check.fail(
            "the same non-zero difference in every one of 12 pairs was called not different",
            on=on,
            hint="differences without any spread are as clear as a difference can be "
            "(a t statistic of infinity); handle the zero-variance case",
        )


def probes_differs_beyond_noise(rng: np.random.Generator) -> list[Probe]:
    """Clear-cut paired cases only (paired t and exact sign-flip agree, Welch disagrees
    where it can), so any valid two-sided paired test answers them the same way."""
    from relu_course import stats as course_stats

    probes = []
    for centre, spread in ((0.9, 0.03), (2.0, 0.5)):
        noise = spread / 100
        for sign in (1.0, -1.0):
            n = int(rng.integers(12, 17))
            a, b = _paired_scores(
                rng, n, sign * 12 * noise, centre=centre, seed_spread=spread, noise=noise
            )
            probes.append(Probe(args=(a, b), expected=np.bool_(True), about="paired shift"))
        while True:  # no difference, clearly so for every valid test
            a, b = _paired_scores(rng, 10, 0.0, centre=centre, seed_spread=spread, noise=noise)
            d = a - b
            if (
                course_stats.paired_difference(a, b).p > 0.5
                and course_stats.sign_flip_pvalue(d) > 0.5
            ):
                break
        probes.append(Probe(args=(a, b), expected=np.bool_(False), about="no difference"))
    same = np.full(8, 0.97)
    probes.append(Probe(args=(same, same.copy()), expected=np.bool_(False), about="identical"))
    return probes


# ------------------------------------------------------------------ grading probes
def _summary_judge(expected):
    """The learner's table as the verifier wrote it (``__index__``, ``__columns__``, one
    array per column) against the reference: same rows in the same order (best first), the
    same columns in any order, values within float tolerance."""
    want = frame_to_plain(expected)

    def judge(got) -> str | None:
        if not isinstance(got, dict) or "__index__" not in got:
            return "did not return a DataFrame"
        if list(got["__index__"]) != list(want["__index__"]):
            return "wrong rows or row order (one row per activation, best first)"
        if set(got["__columns__"]) != set(want["__columns__"]):
            return "wrong columns (<metric>_mean and <metric>_std for each numeric metric)"
        for column in want["__columns__"]:
            got_column = np.asarray(got[str(column)], dtype=np.float64)
            if got_column.shape != want[column].shape or not np.allclose(
                got_column, want[column].astype(np.float64), rtol=1e-9, atol=1e-12
            ):
                return f"wrong values in column {str(column)!r}"
        return None

    return judge


def probes_summarize_trials(rng: np.random.Generator) -> list[Probe]:
    from relu_course.capstone import summarize_trials as reference

    probes = []
    for text_column in (False, True):
        records = _random_records(rng, text_column)
        records = [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in records
        ]
        probes.append(
            Probe(
                args=(Arg(records, "scalar"),),
                judge=_summary_judge(reference(records)),
                about="records with a text column" if text_column else "records",
            )
        )
    return probes


EXERCISES = [
    Exercise("summarize_trials", notebook="07_capstone", points=3, probes=probes_summarize_trials),
    Exercise(
        "differs_beyond_noise",
        notebook="07_capstone",
        points=3,
        probes=probes_differs_beyond_noise,
    ),
]
