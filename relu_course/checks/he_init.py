"""Checks for notebook 05 (He initialization): he_std, HeNormalInit, propagate_rms,
expected_initial_loss."""

from __future__ import annotations

import numbers

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Arg, Exercise, Probe

__all__ = [
    "check_HeNormalInit",
    "check_expected_initial_loss",
    "check_he_std",
    "check_propagate_rms",
]

# Statistics of the standard normal used to recognise the law of a sample.
_NORMAL_TAIL_2SD = 0.04550026389635842  # P(|z| > 2)


def _std_hint(got: float, fan_in: int, fan_out: int | None = None) -> str:
    """Name the rule a wrong standard deviation follows."""
    rules = {}
    if fan_out is not None:
        rules[
            "this is √(2/fan_out): for a Dense kernel of shape (fan_in, units) fan_in is shape[0]"
        ] = np.sqrt(2 / fan_out)
        rules[
            "this is Glorot/Xavier's √(2/(fan_in + fan_out)), derived for symmetric "
            "activations; ReLU needs √(2/fan_in)"
        ] = np.sqrt(2 / (fan_in + fan_out))
    rules.update(
        {
            "√(1/fan_in) is LeCun's rule for linear/tanh units: a ReLU zeroes half its inputs, "
            "so He et al. use √(2/fan_in)": np.sqrt(1 / fan_in),
            "2/fan_in is the *variance*; the standard deviation is its square root": 2 / fan_in,
            "√2/fan_in: take the square root of the whole ratio, √(2/fan_in)": np.sqrt(2) / fan_in,
        }
    )
    for hint, value in rules.items():
        if np.isclose(got, value, rtol=0.03):
            return hint
    return "std = √(2/fan_in): Var[w] = 2/fan_in keeps E[x²] constant through ReLU layers"


# ---------------------------------------------------------------------------- he_std
def check_he_std(he_std) -> None:
    """√(2 / fan_in) for several fan-ins, as a float."""
    check = Check("he_std", he_std)
    fan_ins = [64, 512, int(check.rng.integers(5, 60)), int(check.rng.integers(100, 5000)), 1, 2, 3]
    for _ in check.devices():
        for fan_in in fan_ins:
            on = f"fan_in = {fan_in}"
            got = check.expect_float(
                check.call(fan_in, on=on),
                on,
                hint="return one Python float (not a tensor, a list or None)",
            )
            want = float(np.sqrt(2.0 / fan_in))
            if not np.isclose(got, want, rtol=1e-6, atol=0):
                check.fail(
                    "he_std gives a wrong standard deviation",
                    on=on,
                    expected=f"{want:.6g}",
                    got=f"{got:.6g}",
                    hint=_std_hint(got, fan_in),
                )
    check.passed(f"fan_in in {fan_ins}")


# ---------------------------------------------------------------------------- HeNormalInit
def _draw(check: Check, initializer, shape, on: str, dtype=None) -> np.ndarray:
    kwargs = {} if dtype is None else {"dtype": dtype}
    value = check.call(shape, on=on, target=initializer, stub=True, **kwargs)
    if value is None:
        check.fail(
            "the initializer returned None",
            on=on,
            hint="__call__(self, shape, dtype=None) must return the weights",
        )
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001
        check.fail(f"the initializer returned {describe(value)}, not an array of weights", on=on)
    if arr.shape != tuple(shape):
        check.fail(
            f"the initializer returned shape {arr.shape}, expected {tuple(shape)}",
            on=on,
            hint="draw exactly `shape` values (shape is (fan_in, units))",
        )
    if not np.issubdtype(arr.dtype, np.floating):
        check.fail(
            f"the initializer returned dtype {arr.dtype}",
            on=on,
            hint="return floating-point weights (float32 by default)",
        )
    if dtype is not None and arr.dtype != np.dtype(dtype):
        check.fail(
            f"the initializer returned dtype {arr.dtype} when asked for {dtype}",
            on=on,
            hint="pass the dtype argument on to the function that draws the weights",
        )
    if not np.all(np.isfinite(arr)):
        check.fail("the initializer returned NaN or infinite weights", on=on)
    return arr


def _law_problem(samples: np.ndarray) -> str | None:
    """None for a normal sample; else a sentence naming the law it looks like."""
    s = samples.astype(np.float64).ravel()
    z = (s - s.mean()) / s.std()
    n = z.size
    tail = float(np.mean(np.abs(z) > 2))
    tail_se = np.sqrt(_NORMAL_TAIL_2SD * (1 - _NORMAL_TAIL_2SD) / n)
    kurtosis = float(np.mean(z**4) - 3.0)
    kurtosis_se = np.sqrt(24.0 / n)
    if abs(tail - _NORMAL_TAIL_2SD) <= 6 * tail_se and abs(kurtosis) <= 6 * kurtosis_se:
        return None
    largest = float(np.abs(z).max())
    facts = (
        f"{tail:.2%} of the weights lie beyond 2 standard deviations (a normal law: "
        f"{_NORMAL_TAIL_2SD:.2%}), excess kurtosis {kurtosis:.2f} (normal: 0)"
    )
    if largest < 1.75:
        return (
            facts + ", and none beyond 1.75σ: this is a *uniform* law with the right "
            "variance (HeUniform); He et al. draw from a normal law"
        )
    if largest < 2.6 and tail < _NORMAL_TAIL_2SD:
        return (
            facts + f", and none beyond {largest:.2f}σ: a *truncated* normal "
            "(tf.random.truncated_normal redraws beyond 2 of its standard deviations; "
            "keras.initializers.HeNormal does so before rescaling, so its cut sits a bit "
            "beyond 2σ of the final weights); draw from an untruncated normal"
        )
    return facts + ": the weights should follow an untruncated normal law"


def check_HeNormalInit(HeNormalInit) -> None:  # noqa: N802 - the exercise's name
    """Untruncated N(0, 2/fan_in) for Dense kernels; seeded; get_config; works in a fit."""
    import keras

    check = Check("HeNormalInit", HeNormalInit, is_class=True)
    if not issubclass(HeNormalInit, keras.initializers.Initializer):
        check.fail(
            "HeNormalInit is not a keras.initializers.Initializer subclass",
            hint="keep the base class of the cell's class line: Keras calls an "
            "initializer through that interface",
        )
    rng = check.rng
    for _ in check.devices():
        seed = int(rng.integers(0, 2**20))
        on_make = f"HeNormalInit(seed={seed})"
        initializer = check.call(seed=seed, on=on_make)
        _check_he_law(check, initializer, on_make)
        _check_he_seed_and_config(check, HeNormalInit, initializer, seed, on_make)
        _check_he_in_a_fit(check, HeNormalInit, rng, seed)
    check.passed(
        "std √(2/fan_in), untruncated normal law over 10⁶ draws, seeds, get_config, and a real fit"
    )


def _check_he_law(check: Check, initializer, on_make: str) -> None:
    """Large draws with fan_in ≠ fan_out: standard deviation √(2/fan_in), mean 0, and (over
    10⁶ draws) the shape of an untruncated normal law."""
    for shape in ((60, 200), (800, 10), (250, 4000)):
        fan_in, fan_out = shape
        on = f"{on_make}({shape}, dtype='float32')"
        w = _draw(check, initializer, shape, on, dtype="float32")
        n = w.size
        want = np.sqrt(2.0 / fan_in)
        std = float(w.astype(np.float64).std())
        if abs(std / want - 1) > 6 / np.sqrt(2 * n) + 1e-3:
            check.fail(
                "the weights have the wrong standard deviation",
                on=on,
                expected=f"√(2/fan_in) = {want:.5g}",
                got=f"{std:.5g}",
                hint=_std_hint(std, fan_in, fan_out),
            )
        mean = float(w.astype(np.float64).mean())
        if abs(mean) > 6 * want / np.sqrt(n):
            check.fail(
                "the weights do not have mean 0",
                on=on,
                expected="0",
                got=f"{mean:.4g}",
                hint="draw from N(0, 2/fan_in): mean 0",
            )
        if n >= 10**6:
            problem = _law_problem(w)
            if problem:
                check.fail(
                    "the weights do not follow a normal law",
                    on=on,
                    got=problem,
                    hint="the docstring asks for an untruncated normal law: not a truncated "
                    "normal, not a uniform law",
                )


def _check_he_seed_and_config(check: Check, HeNormalInit, initializer, seed: int, on_make: str):  # noqa: N803
    """The same seed draws the same weights, another seed others; get_config holds the seed
    and from_config rebuilds an initializer that draws the same weights."""
    shape = (64, 32)
    on = f"two HeNormalInit(seed={seed}) instances, shape {shape}"
    a = _draw(check, check.call(seed=seed, on=on_make), shape, on)
    b = _draw(check, check.call(seed=seed, on=on_make), shape, on)
    if not np.array_equal(a, b):
        check.fail(
            "two initializers with the same seed gave different weights",
            on=on,
            hint="the seed given to __init__ must reach the function that draws the weights "
            "(NumPy's global generator ignores it)",
        )
    c = _draw(check, check.call(seed=seed + 1, on=on_make), shape, on)
    if np.array_equal(a, c):
        check.fail(
            f"seeds {seed} and {seed + 1} gave the same weights",
            on=on,
            hint="use the seed argument instead of a fixed seed",
        )
    config = check.call(on=f"{on_make}.get_config()", target=initializer.get_config, stub=False)
    if not isinstance(config, dict) or config.get("seed") != seed:
        check.fail(
            f"get_config() returned {describe(config)}",
            on=f"{on_make}.get_config()",
            expected=f"a dict with 'seed': {seed}",
            hint="get_config returns a dict of every constructor argument (here the seed): "
            "Keras saves models with it and rebuilds the initializer with from_config",
        )
    clone = check.call(
        config,
        on="HeNormalInit.from_config(config)",
        target=HeNormalInit.from_config,
        stub=False,
    )
    if not np.array_equal(_draw(check, clone, shape, "from_config clone"), a):
        check.fail(
            "HeNormalInit.from_config(get_config()) draws different weights",
            on=on_make,
            hint="store every constructor argument in get_config",
        )


def _check_he_in_a_fit(check: Check, HeNormalInit, rng, seed: int) -> None:  # noqa: N803
    """For real: the kernels of Dense layers initialised by it, and a finite loss after a
    one-epoch fit."""
    import keras

    on = "Dense(300) → ReLU → Dense(5) with kernel_initializer=HeNormalInit(seed=...), 1 epoch"
    x = rng.normal(size=(64, 20)).astype(np.float32)
    y = rng.integers(0, 5, size=64).astype(np.int32)

    def fit(seed=seed, x=x, y=y):
        model = keras.Sequential(
            [
                keras.Input((20,)),
                keras.layers.Dense(300, kernel_initializer=HeNormalInit(seed=seed + 2)),
                keras.layers.ReLU(),
                keras.layers.Dense(5, kernel_initializer=HeNormalInit(seed=seed + 3)),
            ]
        )
        kernels = [
            np.asarray(layer.kernel)
            for layer in model.layers
            if isinstance(layer, keras.layers.Dense)
        ]
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        return kernels, history.history["loss"][-1]

    kernels, loss = check.call(on=on, target=fit, stub=False)
    for kernel in kernels:
        fan_in = kernel.shape[0]
        std = float(kernel.std())
        if abs(std / np.sqrt(2 / fan_in) - 1) > 6 / np.sqrt(2 * kernel.size) + 1e-3:
            check.fail(
                f"inside a Dense layer the kernel of shape {kernel.shape} has the "
                "wrong standard deviation",
                on=on,
                expected=f"{np.sqrt(2 / fan_in):.4g}",
                got=f"{std:.4g}",
                hint=_std_hint(std, fan_in, kernel.shape[1]),
            )
    if not np.isfinite(loss):
        check.fail(
            "training a model initialised by HeNormalInit gave a non-finite loss",
            on=on,
            hint="look for weights far larger than √(2/fan_in) or NaN among them",
        )


# ---------------------------------------------------------------------------- propagate_rms
def _reference_spread(init_std, depth, width, x, seeds: int):
    """Mean and standard deviation over seeds of the reference's log RMS per layer."""
    from relu_course.he_init import propagate_rms

    logs = np.log([propagate_rms(init_std, depth, width, x, seed=s) for s in range(seeds)])
    return logs.mean(axis=0), logs.std(axis=0, ddof=1)


def _propagate_variants(init_std, depth, width, x, seed=0):
    """What common mistakes compute, for the hints (same law as the reference)."""
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype=np.float64)
    out = {"std": [], "pre": [], "mean_abs": []}
    for _ in range(depth):
        w = rng.standard_normal((h.shape[1], width)) * init_std(h.shape[1])
        pre = h @ w
        h = np.maximum(pre, 0)
        out["std"].append(h.std())
        out["pre"].append(np.sqrt(np.mean(pre**2)))
        out["mean_abs"].append(np.mean(np.abs(h)))
    return {k: np.log(v) for k, v in out.items()}


def check_propagate_rms(propagate_rms) -> None:
    """Per-layer RMS of a NumPy ReLU forward pass, within sampling noise of a reference."""
    check = Check("propagate_rms", propagate_rms)
    rng = check.rng
    c = float(rng.uniform(1.1, 1.7))
    rules = {
        "He: √(2/fan_in)": lambda n: float(np.sqrt(2.0 / n)),
        f"{c:.3f}/√fan_in": lambda n, c=c: c / np.sqrt(n),
        "√(3/fan_in)": lambda n: float(np.sqrt(3.0 / n)),
    }
    he = rules["He: √(2/fan_in)"]
    for _ in check.devices():
        for label, rule in rules.items():
            _check_rms_per_layer(check, rng, label, rule, depth=6, width=128)
        _check_rms_seeds(check, rng, he)
        _check_rms_fresh_weights(check, rng, he)
    check.passed(
        "RMS per layer within sampling noise for three init rules; seeds; fresh weights per layer"
    )


def _check_rms_per_layer(check: Check, rng, label: str, rule, depth: int, width: int) -> None:
    """One init rule: ``depth`` positive RMS values, each within sampling noise of the
    reference (over 10 seeds, on the log scale)."""
    d_in = int(rng.integers(24, 48))
    x = (rng.normal(size=(64, d_in)) * rng.uniform(0.5, 2)).astype(np.float64)
    on = f"init_std = {label}, depth = {depth}, width = {width}, x = {describe(x)}"
    seed = int(rng.integers(2**31))
    got = check.expect_array(check.call(rule, depth, width, x, seed=seed, on=on), on)
    if got.shape != (depth,):
        check.fail(
            f"propagate_rms returned shape {got.shape}, expected ({depth},)",
            on=on,
            hint="one RMS per layer: depth values (not including the input)",
        )
    if not np.all(np.isfinite(got)) or np.any(got <= 0):
        check.fail(
            "propagate_rms returned non-positive or non-finite values",
            on=on,
            got=got,
            hint="the RMS (root of the mean square) of a layer's ReLU output is positive "
            "and finite",
        )
    mean, spread = _reference_spread(rule, depth, width, x, seeds=10)
    log_got = np.log(got.astype(np.float64))
    tolerance = 6 * spread + 0.02
    bad = np.abs(log_got - mean) > tolerance
    if not bad.any():
        return
    layer = int(np.flatnonzero(bad)[0])
    variants = _propagate_variants(rule, depth, width, x)
    hint = (
        "follow the docstring: a fresh (fan_in, width) weight matrix for every layer from "
        "N(0, init_std(fan_in)²), the first layer's fan_in taken from x, a ReLU, then the RMS "
        "of its output"
    )
    named = {
        "std": "this is the standard deviation of each layer's output; the RMS also counts "
        "the mean (ReLU outputs are positive)",
        "pre": "this is the RMS of the pre-activations (before the ReLU); record the RMS of "
        "the ReLU outputs",
        "mean_abs": "this is mean(|h|), the mean absolute value; the RMS is the root of the "
        "mean *square*",
    }
    for key, text in named.items():
        if np.all(np.abs(log_got - variants[key]) <= tolerance + 0.05):
            hint = text
            break
    check.fail(
        f"propagate_rms is off at layer {layer + 1} (further than sampling noise allows)",
        on=on,
        expected=f"≈ {np.exp(mean[layer]):.4g} (log tolerance {tolerance[layer]:.3f})",
        got=f"{got[layer]:.4g}",
        hint=hint,
    )


def _check_rms_seeds(check: Check, rng, he) -> None:
    """The same seed gives the same result; different seeds give different ones."""
    x = rng.normal(size=(32, 10))
    on = f"He, depth 4, width 16, x = {describe(x)}, seed = 7 twice"
    first = check.expect_array(check.call(he, 4, 16, x, seed=7, on=on), on)
    again = check.expect_array(check.call(he, 4, 16, x, seed=7, on=on), on)
    if not np.array_equal(first, again):
        check.fail(
            "the same seed gave different results",
            on=on,
            got=f"{first} then {again}",
            hint="draw every weight from one generator built from the seed argument",
        )
    others = [check.call(he, 4, 16, x, seed=s, on=on) for s in (11, 12, 13)]
    if all(np.array_equal(first, o) for o in others):
        check.fail(
            "different seeds gave identical results",
            on="seeds 7, 11, 12, 13",
            hint="build the generator from the seed argument",
        )


def _check_rms_fresh_weights(check: Check, rng, he) -> None:
    """Width 1: a fresh scalar weight per layer kills the signal with probability 1/2 per
    layer; reusing one weight for every hidden layer lets half of all nets survive."""
    x = np.abs(rng.normal(size=(8, 3))) + 0.1
    alive = sum(
        bool(np.asarray(check.call(he, 8, 1, x, seed=int(s), on="depth 8, width 1"))[-1] > 0)
        for s in rng.choice(2**31, size=40, replace=False)
    )
    if alive >= 8:
        check.fail(
            f"with width 1, {alive} of 40 seeds kept a live signal through 8 layers; "
            "fresh weights for each layer leave about 40/128 ≈ 0.3",
            on="depth = 8, width = 1, 40 seeds",
            hint="draw a new weight matrix for every layer; reusing one matrix for "
            "all hidden layers is a different network",
        )


# ------------------------------------------------------------------ expected_initial_loss
def _initial_loss_hint(got: float, k: int) -> str:
    """Name the misconception a wrong expected initial loss follows."""
    candidates = {
        "this is the base-10 logarithm of C: cross-entropy uses the natural logarithm": (
            np.log10(k)
        ),
        "this is log2(C), the loss in bits: Keras's cross-entropy uses the natural logarithm": (
            np.log2(k)
        ),
        "this is the probability 1/C of the right class: the loss is −log of that probability": (
            1.0 / k
        ),
        "the sign is wrong: a loss, minus the log of a probability below 1, is positive": (
            -np.log(k)
        ),
        "this is C · log C, a sum over the classes: only the true class's probability enters "
        "the loss": k * np.log(k),
        "this uses C − 1 classes: with C classes the uniform guess gives each 1/C": np.log(k - 1)
        if k > 1
        else np.nan,
    }
    for hint, value in candidates.items():
        if np.isfinite(value) and np.isclose(got, value, rtol=1e-6, atol=1e-9):
            return hint
    return (
        "a network whose logits are all about equal predicts 1/C for every class; the "
        "cross-entropy is −log of the probability given to the true class"
    )


def check_expected_initial_loss(expected_initial_loss) -> None:
    """−log(1/C) = log C for C equally likely classes, as a float, for several C."""
    check = Check("expected_initial_loss", expected_initial_loss)
    counts = [10, 2, 3, 100, int(check.rng.integers(4, 60)), int(check.rng.integers(200, 5000))]
    for _ in check.devices():
        for k in counts:
            on = f"num_classes = {k}"
            got = check.call(k, on=on)
            if isinstance(got, np.ndarray) and got.size == 1:
                got = got.reshape(())[()]
            if isinstance(got, bool) or not isinstance(got, numbers.Real):
                check.fail(
                    f"expected_initial_loss returned {describe(got)}, not a number",
                    on=on,
                    hint="return the loss as a Python float",
                )
            want = float(np.log(k))
            got = float(got)
            # float32 arithmetic is fine; any misconception is off by far more
            if np.isfinite(got) and abs(got - want) <= 1e-6 * max(1.0, want):
                continue
            shown = 6
            while shown < 17 and f"{want:.{shown}g}" == f"{got:.{shown}g}":
                shown += 1
            check.fail(
                "expected_initial_loss gives a wrong value",
                on=on,
                expected=f"{want:.{shown}g}",
                got=f"{got:.{shown}g}",
                hint=_initial_loss_hint(got, k),
            )
    check.passed("the loss of a uniform guess over C classes, for several C")


# ------------------------------------------------------------------ grading probes
def probes_he_std(rng: np.random.Generator) -> list[Probe]:
    return [
        Probe(args=(n,), expected=np.asarray(np.sqrt(2.0 / n)), atol=1e-12, same_dtype=False)
        for n in (int(rng.integers(1, 20)), int(rng.integers(100, 5000)))
    ]


def _he_sample_judge(fan_in: int, shape: tuple[int, int]):
    """A judge of one HeNormalInit draw: shape, float dtype, std √(2/fan_in) within 2%,
    mean ≈ 0, and the tails of an untruncated normal (see :func:`_law_problem`)."""

    def judge(result) -> str | None:
        w = np.asarray(result)
        if w.shape != shape:
            return f"wrong shape {w.shape} (expected {shape})"
        if not np.issubdtype(w.dtype, np.floating) or not np.all(np.isfinite(w)):
            return "the weights are not finite floating-point numbers"
        w = w.astype(np.float64)
        target = np.sqrt(2.0 / fan_in)
        if abs(w.std() / target - 1) > 0.02:
            return "the standard deviation is not √(2/fan_in)"
        if abs(w.mean()) > 6 * target / np.sqrt(w.size):
            return "the weights are not centred on 0"
        return _law_problem(w)

    return judge


def probes_HeNormalInit(rng: np.random.Generator) -> list[Probe]:  # noqa: N802
    probes = []
    for fan_in, units in ((int(rng.integers(200, 600)), 1000), (int(rng.integers(20, 60)), 4000)):
        probes.append(
            Probe(
                kwargs={"seed": int(rng.integers(0, 2**31 - 1))},
                mode="call_result",
                call_args=((fan_in, units),),
                judge=_he_sample_judge(fan_in, (fan_in, units)),
                about=f"HeNormalInit(seed=...)(({fan_in}, {units})): the law of the weights",
            )
        )
    return probes


def _rms_judge(init_std, depth: int, width: int, x: np.ndarray):
    """A judge of one propagate_rms result: shape (depth,), finite, and per layer within
    sampling noise of the reference over seeds (same test as the self-check)."""
    mean, spread = _reference_spread(init_std, depth, width, x, seeds=12)

    def judge(result) -> str | None:
        r = np.asarray(result, dtype=np.float64).reshape(-1)
        if r.shape != (depth,):
            return f"wrong shape {np.asarray(result).shape} (expected ({depth},))"
        if not np.all(np.isfinite(r)) or np.any(r <= 0):
            return "RMS values must be positive and finite"
        if np.any(np.abs(np.log(r) - mean) > 6 * spread + 0.05):
            return "the RMS per layer is outside the sampling noise of the reference"
        return None

    return judge


def probes_propagate_rms(rng: np.random.Generator) -> list[Probe]:
    """The std rule travels as a grader function (``relu_course.checks._probe_functions``:
    ``he_std`` = √2/√fan_in, ``glorot_std`` = 1/√fan_in), bound before learner code runs."""
    probes = []
    rules = {np.sqrt(2.0): "he_std", 1.0: "glorot_std"}
    for scale, depth, width in ((np.sqrt(2.0), 6, 256), (1.0, 5, 128)):
        x = rng.normal(size=(64, int(rng.integers(20, 60))))
        rule = Arg(f"relu_course.checks._probe_functions:{rules[scale]}", "function")

        def init_std(n, scale=scale):
            return scale / np.sqrt(n)

        probes.append(
            Probe(
                args=(rule, depth, width, x),
                kwargs={"seed": int(rng.integers(0, 1000))},
                judge=_rms_judge(init_std, depth, width, x),
                about=f"std = {scale:.3g}/√fan_in, depth {depth}, width {width}",
            )
        )
    return probes


def probes_expected_initial_loss(rng: np.random.Generator) -> list[Probe]:
    counts = (10, int(rng.integers(2, 50)), int(rng.integers(100, 2000)))
    return [
        Probe(args=(k,), expected=np.asarray(np.log(k)), rtol=1e-6, same_dtype=False)
        for k in counts
    ]


EXERCISES = [
    Exercise("he_std", notebook="05_he_init", points=1, probes=probes_he_std),
    Exercise(
        "propagate_rms",
        notebook="05_he_init",
        points=3,
        probes=probes_propagate_rms,
    ),
    Exercise("HeNormalInit", notebook="05_he_init", points=3, probes=probes_HeNormalInit),
    Exercise(
        "expected_initial_loss",
        notebook="05_he_init",
        points=1,
        probes=probes_expected_initial_loss,
    ),
]
