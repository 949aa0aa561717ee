"""The fact-check of the seed article: one table, one verdict per claim, from the ledger.

Each row quotes a claim the article actually makes, names the ledger claim ids (and the
notebooks that measure them) the verdict rests on, and turns those records into a verdict
and the numbers behind it. Every notebook that gives a verdict on one of these claims
prints it through :func:`fact_check_table` (``notebook="04"`` keeps the rows that notebook
measures), so no two notebooks can disagree: there is one verdict function per claim.

A verdict is one of :data:`VERDICTS`. It is computed from the records (value, 95% interval,
seeds), never typed in; a row whose records are missing says which notebook to run.
Paired differences are judged by their 95% interval: it lies above 0, below 0, or inside
the equivalence margin stated here before any run (:data:`ACCURACY_MARGIN`), or it is
inconclusive.

Records are dicts as :func:`relu_course.ledger.recorded_claims` returns them (``value``,
``holds``, ``ci``, ``seeds``, …), keyed by claim id.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "ACCURACY_MARGIN",
    "FACT_CHECKS",
    "FactCheck",
    "VERDICTS",
    "fact_check_table",
    "verdict",
]

HOLDS = "holds"
FAILS = "does not hold at this scale"
PARTLY = "partly"
INCONCLUSIVE = "inconclusive at this scale"
UNTESTABLE = "not testable here"
MISSING = "not measured yet"
VERDICTS = (HOLDS, FAILS, PARTLY, INCONCLUSIVE, UNTESTABLE, MISSING)

# Equivalence margin for differences of test accuracy between activations, fixed before
# any run: two arms whose paired 95% interval lies inside ±1.5 points count as "no
# practical difference" at this scale.
ACCURACY_MARGIN = 0.015

NON_SPARSE_ARMS = ("leaky_relu_0.01", "leaky_relu_0.2", "prelu", "elu", "gelu")

Records = Mapping[str, Mapping]


def _ablation_id(arm: str) -> str:
    return f"ablation_{arm}_minus_relu_test_accuracy"


def _ci(record) -> tuple[float, float]:
    ci = record.get("ci")
    if ci is None:
        value = float(record["value"])
        return value, value
    return float(ci[0]), float(ci[1])


def _above(record, threshold: float) -> bool:
    """The whole interval (or the value, without one) lies above ``threshold``."""
    return _ci(record)[0] > threshold


def _below(record, threshold: float) -> bool:
    return _ci(record)[1] < threshold


def _inside(record, margin: float) -> bool:
    low, high = _ci(record)
    return -margin < low and high < margin


def _num(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
        return f"{value:.2g}"
    return f"{value:.3g}"


def _show(record, name: str | None = None, percent: bool = False) -> str:
    """``name`` value [low, high] (n seeds) for one record."""
    scale = 100.0 if percent else 1.0
    unit = " pts" if percent else ""
    text = f"{name or record['id']} {_num(scale * float(record['value']))}{unit}"
    if record.get("ci") is not None:
        low, high = _ci(record)
        text += f" [{_num(scale * low)}, {_num(scale * high)}]"
    if record.get("seeds"):
        text += f" (n={record['seeds']})"
    return text


def _direction(record, margin: float | None = None) -> str:
    """'up', 'down', 'same' (inside ±margin) or 'unclear' for a paired difference."""
    if _above(record, 0.0):
        return "up"
    if _below(record, 0.0):
        return "down"
    if margin is not None and _inside(record, margin):
        return "same"
    return "unclear"


# ----------------------------------------------------------------------------- verdicts


def _sparsity_main_advantage(c: Records) -> tuple[str, str]:
    diffs = {arm: c[_ablation_id(arm)] for arm in NON_SPARSE_ARMS}
    worse = [arm for arm, r in diffs.items() if _below(r, -ACCURACY_MARGIN)]
    same = [arm for arm, r in diffs.items() if _inside(r, ACCURACY_MARGIN)]
    numbers = (
        f"ReLU's exact zeros: {_show(c['ablation_relu_sparsity'])}; activations with none, "
        "test accuracy − ReLU: "
        + "; ".join(_show(r, arm, percent=True) for arm, r in diffs.items())
        + f" (equivalence margin ±{100 * ACCURACY_MARGIN:g} pts)"
    )
    if worse:
        return PARTLY, numbers + f"; worse than ReLU: {', '.join(worse)}"
    if len(same) == len(diffs):
        return FAILS, numbers + "; every non-sparse activation matches ReLU"
    return INCONCLUSIVE, numbers


def _sparsity_speeds_inference(c: Records) -> tuple[str, str]:
    batched, very_sparse = c["sparse_speedup_50"], c["sparse_speedup_99"]
    gather = c["batch1_gather_speedup_natural"]
    numbers = (
        f"batched tf.sparse vs dense (dense time / sparse time): {_show(batched, '50% zeros')}, "
        f"{_show(very_sparse, '99% zeros')}; batch-1 row gather at ReLU's natural sparsity: "
        f"{_show(gather, 'speed-up')}"
    )
    batched_wins = _above(batched, 1.0)
    gather_wins = _above(gather, 1.0)
    if batched_wins and gather_wins:
        return HOLDS, numbers
    if gather_wins or _above(very_sparse, 1.0):
        return PARTLY, numbers + "; zeros pay only for batch-1 gathers or at extreme sparsity"
    return FAILS, numbers


def _sparsity_saves_memory(c: Records) -> tuple[str, str]:
    touched = c["batch1_weight_bytes_fraction"]
    numbers = (
        f"weight bytes read per example with a batch-1 gather, as a fraction of dense: "
        f"{_show(touched, 'fraction')}; the stored weights do not shrink"
    )
    if float(touched["value"]) < 0.9:
        return PARTLY, numbers + " (memory traffic falls, model size does not)"
    return FAILS, numbers


def _sparsity_reduces_overfitting(c: Records) -> tuple[str, str]:
    leaky = c["overfit_gap_relu_minus_leaky"]
    numbers = (
        "train − test accuracy gap on 150 images, ReLU (exact zeros) − leaky ReLU 0.2 (none): "
        + _show(leaky, "gap difference", percent=True)
    )
    if "overfit_gap_relu_minus_tanh" in c:
        numbers += "; ReLU − tanh: " + _show(c["overfit_gap_relu_minus_tanh"], "gap", percent=True)
    direction = _direction(leaky, ACCURACY_MARGIN)
    if direction == "down":
        return HOLDS, numbers + "; the sparse net overfits less"
    if direction in ("up", "same"):
        return FAILS, numbers + "; exact zeros do not shrink the gap"
    return INCONCLUSIVE, numbers


def _relu_avoids_vanishing(c: Records) -> tuple[str, str]:
    he, small = c["relu_delta_ratio_he"], c["relu_delta_ratio_small_init"]
    glorot = c["relu_delta_ratio_glorot"]
    numbers = (
        "error ratio ‖∂L/∂z₁‖/‖∂L/∂z₁₀‖, ReLU, 10 layers: "
        f"{_show(he, 'He')}, {_show(glorot, 'Glorot')}, {_show(small, 'N(0, 0.01²)')}"
    )
    if "sigmoid_grad_ratio_depth10" in c:
        numbers += (
            f"; sigmoid (Glorot): {_show(c['sigmoid_grad_ratio_depth10'], 'weight-grad ratio')}"
        )
    healthy = 0.1 <= float(he["value"]) <= 10.0
    vanishes = float(small["value"]) < 1e-3
    if healthy and vanishes:
        return PARTLY, numbers + "; only with the right initialization (05)"
    if healthy:
        return HOLDS, numbers
    return FAILS, numbers


def _relu_trains_faster(c: Records) -> tuple[str, str]:
    tanh = c["steps_to_target_tanh_over_relu_depth20"]
    sigmoid = c["steps_to_target_sigmoid_over_relu_depth20"]
    numbers = (
        "steps to the target accuracy at depth 20, other / ReLU (> 1: ReLU faster): "
        f"{_show(tanh, 'tanh')}, {_show(sigmoid, 'sigmoid')}"
    )
    faster = [_above(r, 1.0) for r in (tanh, sigmoid)]
    slower = [_below(r, 1.0) for r in (tanh, sigmoid)]
    if all(faster):
        return HOLDS, numbers
    if any(faster):
        return PARTLY, numbers
    if all(slower):
        return FAILS, numbers
    return INCONCLUSIVE, numbers


def _dead_neurons_leaky(c: Records) -> tuple[str, str]:
    dead = c["dead_fraction_high_lr"]
    relu_zeros = c["ablation_relu_sparsity"]
    numbers = (
        f"ReLU units dead after a high learning rate: {_show(dead, 'fraction')}; leaky/PReLU "
        f"units cannot die (their gradient is never 0) and give up exact zeros: ReLU "
        f"{_show(relu_zeros, 'zeros')} vs 0 for leaky/PReLU in the ablation"
    )
    real = float(dead["value"]) > 0.1
    if real and float(relu_zeros["value"]) > 0.1:
        return HOLDS, numbers
    return PARTLY, numbers


def _adjust_init_against_dead(c: Records) -> tuple[str, str]:
    narrow, wide = c["dead_fraction_init_20x4"], c["dead_fraction_init_3x256"]
    born = c["born_dead_w2_d10"]
    numbers = (
        f"dead units at He init: {_show(narrow, '20×4')}, {_show(wide, '3×256')}; "
        f"born-dead probability, width 2, depth 10: {_show(born, 'p')}"
    )
    if float(narrow["value"]) > 10 * max(float(wide["value"]), 1e-3):
        return PARTLY, numbers + (
            "; at init, death comes from depth and narrowness, which He scaling does not "
            "prevent; the asymmetric initializations Lu et al. propose are not run here"
        )
    return INCONCLUSIVE, numbers


def _softplus_elu_cost(c: Records) -> tuple[str, str]:
    ratios = {a: c[f"activation_cost_ratio_{a}"] for a in ("elu", "softplus")}
    shares = {a: c[f"activation_time_share_of_step_{a}"] for a in ("elu", "softplus")}
    numbers = (
        "time per element, forward + backward, / ReLU's: "
        + ", ".join(_show(r, a) for a, r in ratios.items())
        + "; share of a whole training step: "
        + ", ".join(_show(r, a) for a, r in shares.items())
    )
    dearer = all(_above(r, 1.0) for r in ratios.values())
    negligible = all(float(r["value"]) < 0.1 for r in shares.values())
    if dearer and negligible:
        return PARTLY, numbers + "; dearer per element, a small part of a step"
    if dearer:
        return HOLDS, numbers
    if any(_above(r, 1.0) for r in ratios.values()):
        return PARTLY, numbers
    return FAILS, numbers


def _he_natural_partner(c: Records) -> tuple[str, str]:
    ids = ("rms_depth30_he", "rms_depth30_xavier", "loss_depth30_he", "loss_depth30_xavier")
    numbers = "30 layers: " + "; ".join(_show(c[i]) for i in ids)
    if all(c[i]["holds"] for i in ids):
        return HOLDS, numbers + " (He keeps the signal and trains, Glorot stalls)"
    return INCONCLUSIVE, numbers + " (some of these claims did not hold)"


def _relu_not_shield(c: Records) -> tuple[str, str]:
    gap, l2 = c["overfit_gap_relu"], c["overfit_l2_test_loss_ratio"]
    numbers = (
        f"ReLU train − test accuracy on 150 images: {_show(gap, 'gap', percent=True)}; "
        f"test loss with L2 / without: {_show(l2, 'ratio')}"
    )
    if _above(gap, 0.0):
        return HOLDS, numbers
    return FAILS, numbers


def _bn_interacts(c: Records) -> tuple[str, str]:
    with_bn, without = c["bn_high_lr_val_accuracy"], c["no_bn_high_lr_val_accuracy"]
    numbers = (
        f"high learning rate, 10-layer ReLU: {_show(with_bn, 'with BN')}, "
        f"{_show(without, 'without')}; {_show(c['bn_epochs_speedup'], 'BN speed-up (sigmoid)')}"
    )
    if abs(float(with_bn["value"]) - float(without["value"])) > 0.1:
        return PARTLY, numbers + (
            "; BN changes what the activation does to training; no setting here where "
            "removing it helped"
        )
    return INCONCLUSIVE, numbers


def _leaky_small_gains(c: Records) -> tuple[str, str]:
    clean = {a: c[_ablation_id(a)] for a in ("leaky_relu_0.01", "prelu")}
    noisy = {
        "leaky": c["noisy40_leaky_minus_relu_test_accuracy"],
        "prelu": c["noisy40_prelu_minus_relu_test_accuracy"],
    }
    numbers = (
        "test accuracy − ReLU, clean labels: "
        + "; ".join(_show(r, a, percent=True) for a, r in clean.items())
        + "; 40% flipped labels: "
        + "; ".join(_show(r, a, percent=True) for a, r in noisy.items())
    )
    clean_gain = any(_above(r, 0.0) for r in clean.values())
    noisy_gain = any(_above(r, 0.0) for r in noisy.values())
    loss = any(_below(r, 0.0) for r in [*clean.values(), *noisy.values()])
    if clean_gain and noisy_gain:
        return HOLDS, numbers
    if noisy_gain:
        return PARTLY, numbers + "; a gain only with noisy labels"
    if loss or all(_inside(r, ACCURACY_MARGIN) for r in [*clean.values(), *noisy.values()]):
        return FAILS, numbers
    return INCONCLUSIVE, numbers


def _coadaptation(c: Records) -> tuple[str, str]:
    drop = c["silenced50_relu_minus_tanh_accuracy_drop"]
    numbers = (
        "accuracy lost when half the hidden units are silenced at test time, ReLU − tanh: "
        + _show(drop, "difference", percent=True)
    )
    if "silenced50_relu_minus_tanh_accuracy_drop_dropout" in c:
        numbers += "; both trained with dropout: " + _show(
            c["silenced50_relu_minus_tanh_accuracy_drop_dropout"], "difference", percent=True
        )
    direction = _direction(drop)
    if direction == "down":
        return HOLDS, numbers + "; ReLU degrades more gracefully (proxy only)"
    if direction == "up":
        return FAILS, numbers + "; the sparse ReLU net is the more fragile one (proxy only)"
    return INCONCLUSIVE, numbers


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class FactCheck:
    """One claim of the seed article.

    ``claim_ids``: ledger ids the verdict needs; ``notebooks``: where they are measured
    (two-digit numbers, in the order to run them); ``judge``: records → (verdict, numbers);
    ``optional_ids``: ids that refine the numbers when present.
    """

    key: str
    quote: str
    claim_ids: tuple[str, ...]
    notebooks: tuple[str, ...]
    judge: Callable[[Records], tuple[str, str]]
    optional_ids: tuple[str, ...] = ()


FACT_CHECKS: tuple[FactCheck, ...] = (
    FactCheck(
        "sparsity_main_advantage",
        "sparsity is ReLU's main advantage",
        (*(_ablation_id(a) for a in NON_SPARSE_ARMS), "ablation_relu_sparsity"),
        ("07",),
        _sparsity_main_advantage,
    ),
    FactCheck(
        "sparsity_speeds_inference",
        "sparsity reduces computation and speeds up inference",
        ("sparse_speedup_50", "sparse_speedup_99", "batch1_gather_speedup_natural"),
        ("03",),
        _sparsity_speeds_inference,
    ),
    FactCheck(
        "sparsity_saves_memory",
        "sparse activations save memory (on edge hardware)",
        ("batch1_weight_bytes_fraction",),
        ("03",),
        _sparsity_saves_memory,
    ),
    FactCheck(
        "sparsity_reduces_overfitting",
        "sparsity indirectly reduces overfitting",
        ("overfit_gap_relu_minus_leaky",),
        ("07",),
        _sparsity_reduces_overfitting,
        ("overfit_gap_relu_minus_tanh",),
    ),
    FactCheck(
        "relu_avoids_vanishing",
        "ReLU avoids vanishing gradients (its gradient is 1 for x > 0)",
        ("relu_delta_ratio_he", "relu_delta_ratio_glorot", "relu_delta_ratio_small_init"),
        ("02",),
        _relu_avoids_vanishing,
        ("sigmoid_grad_ratio_depth10",),
    ),
    FactCheck(
        "relu_trains_faster",
        "ReLU trains faster than sigmoid/tanh",
        ("steps_to_target_tanh_over_relu_depth20", "steps_to_target_sigmoid_over_relu_depth20"),
        ("02",),
        _relu_trains_faster,
    ),
    FactCheck(
        "dead_neurons_leaky",
        "dead neurons are real; Leaky ReLU/PReLU reduce them and trade some sparsity",
        ("dead_fraction_high_lr", "ablation_relu_sparsity"),
        ("04", "07"),
        _dead_neurons_leaky,
    ),
    FactCheck(
        "adjust_init_against_dead",
        '"adjust initialization" against dead units',
        ("dead_fraction_init_20x4", "dead_fraction_init_3x256", "born_dead_w2_d10"),
        ("04",),
        _adjust_init_against_dead,
    ),
    FactCheck(
        "softplus_elu_cost",
        "softplus and ELU cost more to compute",
        (
            "activation_cost_ratio_elu",
            "activation_cost_ratio_softplus",
            "activation_time_share_of_step_elu",
            "activation_time_share_of_step_softplus",
        ),
        ("07",),
        _softplus_elu_cost,
    ),
    FactCheck(
        "he_natural_partner",
        "He initialization is ReLU's natural partner",
        ("rms_depth30_he", "rms_depth30_xavier", "loss_depth30_he", "loss_depth30_xavier"),
        ("05",),
        _he_natural_partner,
    ),
    FactCheck(
        "relu_not_shield",
        "ReLU is not a shield against overfitting",
        ("overfit_gap_relu", "overfit_l2_test_loss_ratio"),
        ("07",),
        _relu_not_shield,
    ),
    FactCheck(
        "bn_interacts",
        "batch norm interacts with the activation; sometimes worth testing without it",
        ("bn_high_lr_val_accuracy", "no_bn_high_lr_val_accuracy", "bn_epochs_speedup"),
        ("06",),
        _bn_interacts,
    ),
    FactCheck(
        "leaky_small_gains_noisy",
        "Leaky ReLU/PReLU give small gains in ablations, especially on noisy data",
        (
            _ablation_id("leaky_relu_0.01"),
            _ablation_id("prelu"),
            "noisy40_leaky_minus_relu_test_accuracy",
            "noisy40_prelu_minus_relu_test_accuracy",
        ),
        ("04", "07"),
        _leaky_small_gains,
    ),
    FactCheck(
        "coadaptation_robust",
        "sparsity reduces co-adaptation and makes learning more robust",
        ("silenced50_relu_minus_tanh_accuracy_drop",),
        ("07",),
        _coadaptation,
        ("silenced50_relu_minus_tanh_accuracy_drop_dropout",),
    ),
)


def _notebook_of(claim_id: str, row: FactCheck) -> str:
    """Which of the row's notebooks measures ``claim_id`` (the capstone's own ids start
    with these prefixes; the others come from the row's first notebook)."""
    own = ("ablation_", "overfit_", "silenced", "activation_")
    if "07" in row.notebooks and claim_id.startswith(own):
        return "07"
    return row.notebooks[0]


def verdict(key: str, claims: Records | None = None) -> tuple[str, str]:
    """(verdict, numbers) of one row of :data:`FACT_CHECKS` (``claims`` default: the
    ledger's recorded claims)."""
    row = next((r for r in FACT_CHECKS if r.key == key), None)
    if row is None:
        raise KeyError(f"no fact-check {key!r}; choose from {[r.key for r in FACT_CHECKS]}")
    claims = _default_claims() if claims is None else claims
    missing = [i for i in row.claim_ids if i not in claims]
    if missing:
        notebooks = sorted({_notebook_of(i, row) for i in missing})
        run = " and ".join(notebooks)
        return MISSING, f"run {run} to measure (missing: {', '.join(missing)})"
    present = {
        i: {"id": i, **claims[i]} for i in (*row.claim_ids, *row.optional_ids) if i in claims
    }
    return row.judge(present)


def _default_claims() -> dict[str, dict]:
    from relu_course.ledger import recorded_claims

    return recorded_claims()


def _as_record(record) -> dict:
    """A ledger record as a dict (a :class:`relu_course.ledger.Claim` or a dict)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        record = dataclasses.asdict(record)
    return dict(record)


def fact_check_table(
    claims: Records | None = None, *, notebook: str | None = None, extra=()
) -> pd.DataFrame:
    """The fact-check of the seed article as a DataFrame, one row per claim: ``claim``
    (short quote), ``verdict`` (one of :data:`VERDICTS`), ``numbers`` (from the records),
    ``measured in`` (notebooks), indexed by the row key.

    ``claims``: id → record (default: :func:`relu_course.ledger.recorded_claims`, the
    latest record of every id on this machine). ``extra``: records of this run (the
    ``Claim`` objects :func:`relu_course.ledger.claim` returned, or dicts with an ``id``),
    laid over ``claims``, so a notebook's table uses its own measurements even where the
    ledger file could not be written. ``notebook`` ("04" or "04_dead_neurons"): only the
    rows that notebook measures.
    """
    claims = dict(_default_claims() if claims is None else claims)
    for record in extra:
        record = _as_record(record)
        claims[record["id"]] = record
    wanted = None if notebook is None else str(notebook)[:2]
    rows = {}
    for row in FACT_CHECKS:
        if wanted is not None and wanted not in row.notebooks:
            continue
        verdict_text, numbers = verdict(row.key, claims)
        rows[row.key] = {
            "claim": f"“{row.quote}”",
            "verdict": verdict_text,
            "numbers": numbers,
            "measured in": ", ".join(row.notebooks),
        }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["claim", "verdict", "numbers", "measured in"]
    )
