"""The fact-check table: every row gets a verdict from a complete ledger, a verdict follows
its numbers (a flipped claim flips it), missing records name the notebook to run."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from relu_course.factcheck import (
    ACCURACY_MARGIN,
    FACT_CHECKS,
    MISSING,
    VERDICTS,
    fact_check_table,
    verdict,
)


def _record(value, ci=None, seeds=None, holds=True):
    return {"value": value, "ci": None if ci is None else list(ci), "seeds": seeds, "holds": holds}


def _diff(mean, half=0.003, seeds=10):
    return _record(mean, (mean - half, mean + half), seeds)


def _ledger() -> dict[str, dict]:
    """A complete synthetic ledger, numbers of the kind the course measures."""
    c = {
        "ablation_relu_sparsity": _record(0.41, (0.40, 0.42), 10),
        "ablation_leaky_relu_0.01_minus_relu_test_accuracy": _diff(-0.001),
        "ablation_leaky_relu_0.2_minus_relu_test_accuracy": _diff(-0.0005),
        "ablation_prelu_minus_relu_test_accuracy": _diff(0.001),
        "ablation_elu_minus_relu_test_accuracy": _diff(0.0015),
        "ablation_gelu_minus_relu_test_accuracy": _diff(-0.002),
        "sparse_speedup_50": _record(0.05, (0.04, 0.06), 5),
        "sparse_speedup_99": _record(1.4, (1.2, 1.6), 5),
        "batch1_gather_speedup_natural": _record(1.3, (1.1, 1.5), 5),
        "batch1_weight_bytes_fraction": _record(0.55),
        "overfit_gap_relu_minus_leaky": _diff(0.002, 0.01, 5),
        "overfit_gap_relu_minus_tanh": _diff(-0.014, 0.01, 5),
        "relu_delta_ratio_he": _record(1.1),
        "relu_delta_ratio_glorot": _record(0.06),
        "relu_delta_ratio_small_init": _record(3e-9),
        "sigmoid_grad_ratio_depth10": _record(1e-6),
        "steps_to_target_tanh_over_relu_depth20": _record(1.8, (1.3, 2.4), 5),
        "steps_to_target_sigmoid_over_relu_depth20": _record(6.0, (4.0, 9.0), 5),
        "dead_fraction_high_lr": _record(0.45, (0.35, 0.55), 5),
        "dead_fraction_init_20x4": _record(0.5),
        "dead_fraction_init_3x256": _record(0.001),
        "born_dead_w2_d10": _record(0.9),
        "activation_cost_ratio_elu": _record(1.5, (1.3, 1.7), 5),
        "activation_cost_ratio_softplus": _record(1.6, (1.4, 1.8), 5),
        "activation_time_share_of_step_elu": _record(0.04, (0.01, 0.07), 5),
        "activation_time_share_of_step_softplus": _record(0.05, (0.02, 0.08), 5),
        "rms_depth30_he": _record(1.0),
        "rms_depth30_xavier": _record(3e-5),
        "loss_depth30_he": _record(0.5),
        "loss_depth30_xavier": _record(2.30),
        "overfit_gap_relu": _record(0.068, (0.061, 0.075), 5),
        "overfit_l2_test_loss_ratio": _record(0.86, (0.78, 0.94), 5),
        "bn_high_lr_val_accuracy": _record(0.95),
        "no_bn_high_lr_val_accuracy": _record(0.10),
        "bn_epochs_speedup": _record(4.0),
        "noisy40_leaky_minus_relu_test_accuracy": _diff(0.001, 0.01, 5),
        "noisy40_prelu_minus_relu_test_accuracy": _diff(0.002, 0.01, 5),
        "silenced50_relu_minus_tanh_accuracy_drop": _diff(0.18, 0.02),
        "silenced50_relu_minus_tanh_accuracy_drop_dropout": _diff(0.10, 0.02),
    }
    return c


# For every row: one change of the numbers that must change its verdict.
FLIPS = {
    "sparsity_main_advantage": {"ablation_gelu_minus_relu_test_accuracy": _diff(-0.05)},
    "sparsity_speeds_inference": {
        "batch1_gather_speedup_natural": _record(0.8, (0.7, 0.9), 5),
        "sparse_speedup_99": _record(0.8, (0.7, 0.9), 5),
    },
    "sparsity_saves_memory": {"batch1_weight_bytes_fraction": _record(1.0)},
    "sparsity_reduces_overfitting": {"overfit_gap_relu_minus_leaky": _diff(-0.05, 0.01, 5)},
    "relu_avoids_vanishing": {"relu_delta_ratio_he": _record(1e-5)},
    "relu_trains_faster": {
        "steps_to_target_tanh_over_relu_depth20": _record(0.5, (0.4, 0.6), 5),
        "steps_to_target_sigmoid_over_relu_depth20": _record(0.5, (0.4, 0.6), 5),
    },
    "dead_neurons_leaky": {"dead_fraction_high_lr": _record(0.0, (0.0, 0.0), 5)},
    "adjust_init_against_dead": {"dead_fraction_init_20x4": _record(0.001)},
    "softplus_elu_cost": {
        "activation_time_share_of_step_elu": _record(0.4, (0.3, 0.5), 5),
        "activation_time_share_of_step_softplus": _record(0.4, (0.3, 0.5), 5),
    },
    "he_natural_partner": {"loss_depth30_xavier": _record(0.5, holds=False)},
    "relu_not_shield": {"overfit_gap_relu": _record(-0.01, (-0.02, -0.001), 5)},
    "bn_interacts": {"bn_high_lr_val_accuracy": _record(0.12)},
    "leaky_small_gains_noisy": {"noisy40_leaky_minus_relu_test_accuracy": _diff(0.05, 0.01, 5)},
    "coadaptation_robust": {"silenced50_relu_minus_tanh_accuracy_drop": _diff(-0.1, 0.02)},
}


def test_every_row_gets_a_verdict_from_a_complete_ledger():
    table = fact_check_table(_ledger())
    assert list(table.index) == [row.key for row in FACT_CHECKS]
    assert list(table.columns) == ["claim", "verdict", "numbers", "measured in"]
    assert set(table["verdict"]) <= set(VERDICTS) - {MISSING}
    for key, numbers in table["numbers"].items():
        assert any(ch.isdigit() for ch in numbers), key
    assert not table["numbers"].str.contains("not tested").any()


def test_expected_verdicts_on_the_synthetic_ledger():
    table = fact_check_table(_ledger())
    assert table.loc["sparsity_main_advantage", "verdict"] == "does not hold at this scale"
    assert table.loc["sparsity_speeds_inference", "verdict"] == "partly"
    assert table.loc["coadaptation_robust", "verdict"] == "does not hold at this scale"
    assert table.loc["relu_not_shield", "verdict"] == "holds"
    assert table.loc["relu_trains_faster", "verdict"] == "holds"
    assert table.loc["he_natural_partner", "verdict"] == "holds"
    assert "0.41" in table.loc["dead_neurons_leaky", "numbers"]


def test_flips_cover_every_row():
    assert set(FLIPS) == {row.key for row in FACT_CHECKS}


@pytest.mark.parametrize("key", list(FLIPS))
def test_a_flipped_claim_changes_the_verdict(key):
    ledger = _ledger()
    before = verdict(key, ledger)
    flipped = copy.deepcopy(ledger)
    flipped.update(FLIPS[key])
    after = verdict(key, flipped)
    assert after[0] != before[0], (key, before, after)
    assert after[0] in VERDICTS and after[0] != MISSING


def test_margin_decides_equivalence():
    ledger = _ledger()
    wide = _diff(0.0, ACCURACY_MARGIN * 2)  # the interval spills over the margin
    ledger["ablation_elu_minus_relu_test_accuracy"] = wide
    assert verdict("sparsity_main_advantage", ledger)[0] == "inconclusive at this scale"


def test_missing_records_say_which_notebook_to_run():
    ledger = _ledger()
    del ledger["noisy40_leaky_minus_relu_test_accuracy"]
    del ledger["silenced50_relu_minus_tanh_accuracy_drop"]
    table = fact_check_table(ledger)
    assert table.loc["leaky_small_gains_noisy", "verdict"] == MISSING
    assert table.loc["leaky_small_gains_noisy", "numbers"].startswith("run 04 to measure")
    assert table.loc["coadaptation_robust", "numbers"].startswith("run 07 to measure")
    empty = fact_check_table({})
    assert (empty["verdict"] == MISSING).all()
    assert empty.loc["relu_trains_faster", "numbers"].startswith("run 02 to measure")
    assert empty.loc["dead_neurons_leaky", "numbers"].startswith("run 04 and 07 to measure")


def test_notebook_filter_and_single_source():
    ledger = _ledger()
    only_04 = fact_check_table(ledger, notebook="04_dead_neurons")
    assert set(only_04.index) == {
        "dead_neurons_leaky",
        "adjust_init_against_dead",
        "leaky_small_gains_noisy",
    }
    full = fact_check_table(ledger)
    pd.testing.assert_frame_equal(only_04, full.loc[only_04.index])
    with pytest.raises(KeyError):
        verdict("no_such_claim", ledger)


def test_default_reads_the_ledger(tmp_path, monkeypatch):
    import json

    path = tmp_path / "claims.jsonl"
    records = [{"id": k, **v} for k, v in _ledger().items()]
    records.append({"id": "overfit_gap_relu", **_record(-0.01, (-0.02, -0.001), 5)})  # latest
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(path))
    assert fact_check_table().loc["relu_not_shield", "verdict"] == "does not hold at this scale"


def test_extra_claim_objects_override_the_ledger():
    from relu_course.ledger import Claim

    ledger = _ledger()
    fresh = Claim(
        id="silenced50_relu_minus_tanh_accuracy_drop",
        value=-0.1,
        expect=(0.0, None),
        holds=False,
        source="test",
        notebook="07_capstone",
        seeds=10,
        ci=(-0.12, -0.08),
    )
    table = fact_check_table(ledger, extra=[fresh])
    assert table.loc["coadaptation_robust", "verdict"] == "holds"
    assert fact_check_table(ledger).loc["coadaptation_robust", "verdict"] != "holds"
    assert ledger["silenced50_relu_minus_tanh_accuracy_drop"]["value"] == 0.18  # not mutated


def test_states_refutation_reads_the_conventions():
    from conftest import states_refutation

    for said in (
        "ratio at init; refuted if ≥ 0.1",
        "gap (fails unless the whole interval lies above 3 points)",
        "equivalence holds only if the interval is inside the margin",
        "Fails if ReLU loses less",
    ):
        assert states_refutation(said), said
    for silent in ("max of sigmoid' on a grid", "", None, "the failure rate", "refutation"):
        assert not states_refutation(silent), silent
