"""Checks for notebook 04 (dead neurons): dead_units, dead_fraction, leaky_relu,
DeadUnitMonitor, born_dead_probability, update_to_data_ratio."""

from __future__ import annotations

import numbers

import numpy as np

from relu_course.checks._framework import Check, describe
from relu_course.checks._registry import Arg, Exercise, Probe
from relu_course.dead_neurons import quiet_input_structure_warning

__all__ = [
    "check_DeadUnitMonitor",
    "check_born_dead_probability",
    "check_dead_fraction",
    "check_dead_units",
    "check_leaky_relu",
    "check_update_to_data_ratio",
]


# ---------------------------------------------------------------------------- dead_units
def _activation_matrices(rng: np.random.Generator):
    """(description, matrix) pairs: ReLU and leaky outputs with dead, nearly dead and live units."""
    for dtype in ("float32", "float64"):
        n, units = int(rng.integers(20, 50)), int(rng.integers(8, 14))
        pre = rng.normal(size=(n, units)) + rng.normal(scale=0.5, size=units)
        order = rng.permutation(units)
        dead, mostly, live = order[:3], order[3:5], order[5:7]
        pre[:, dead] -= 50.0  # dead: < 0 on every example
        pre[:, mostly] = -np.abs(pre[:, mostly]) - 0.1  # zero on all examples but one
        pre[rng.integers(n), mostly] = 1.0
        pre[:, live] = np.abs(pre[:, live]) + 0.1  # positive on all examples but one
        pre[rng.integers(n), live] = -1.0
        yield f"ReLU outputs ({dtype})", np.maximum(pre, 0).astype(dtype)
    # Leaky outputs: a unit negative everywhere still passes gradient, it is not dead.
    n, units = int(rng.integers(15, 30)), int(rng.integers(5, 10))
    pre = rng.normal(size=(n, units))
    pre[:, 0] = -np.abs(pre[:, 0]) - 0.5
    leaky = np.where(pre > 0, pre, 0.01 * pre)
    leaky[:, -1] = 0.0  # a truly dead unit: exactly 0 everywhere
    leaky[:, 1] = 0.0  # a live unit whose outputs sum to exactly 0
    leaky[:3, 1] = [0.5, -0.25, -0.25]
    yield "leaky-ReLU outputs (negative values are not zeros)", leaky.astype(np.float32)
    square = np.maximum(rng.normal(size=(8, 8)) - 0.3, 0)
    square[:, 2] = 0.0
    square[5, :] = 0.0  # one example where every unit is 0: still not a dead unit
    yield "a square 8×8 ReLU output", square
    yield "a single example", np.array([[0.0, 1.5, 0.0, 2.0]], dtype=np.float32)


def _dead_units_hint(a: np.ndarray, got: np.ndarray) -> str:
    if got.shape == (a.shape[0],) and a.shape[0] != a.shape[1]:
        return (
            "you returned one value per example: a *unit* (column) is dead when it is 0 "
            "for every example, so reduce over axis 0"
        )
    guesses = {
        "per example (rows): reduce over axis 0, the examples, to get one answer per unit": np.all(
            a == 0, axis=1
        )
        if a.shape[0] == a.shape[1]
        else None,
        "'zero on most examples' is not dead: a unit that fires on even one example still "
        "learns from it; require 0 on *every* example": np.mean(a == 0, axis=0) > 0.5,
        "a unit is dead only if it is 0 on every example, not on any one": np.any(a == 0, axis=0),
        "`<= 0` counts negative outputs as dead, but a leaky unit with negative outputs still "
        "passes gradient: dead means exactly 0": np.all(a <= 0, axis=0),
    }
    for hint, guess in guesses.items():
        if guess is not None and got.shape == guess.shape and np.array_equal(got, guess):
            return hint
    return (
        "a unit (a column of a) is dead when its output is exactly 0 on every example (a "
        "row): one True/False per column"
    )


def check_dead_units(dead_units) -> None:
    """Boolean mask over units (columns): True where the unit is 0 on every example."""
    check = Check("dead_units", dead_units)
    for _ in check.devices():
        for what, a in _activation_matrices(check.rng):
            on = f"{what}, a = {describe(a)}"
            got = check.expect_array(check.call(a, on=on), on)
            expected = np.all(a == 0, axis=0)
            if got.shape != expected.shape:
                check.fail(
                    f"dead_units returned shape {got.shape}, expected {expected.shape} "
                    "(one value per unit)",
                    on=on,
                    hint=_dead_units_hint(a, got),
                )
            if got.dtype != bool:
                if np.array_equal(got.astype(bool), expected) and set(np.unique(got)) <= {0, 1}:
                    check.fail(
                        f"dead_units returned dtype {got.dtype}, expected a boolean mask",
                        on=on,
                        hint="a mask holds True/False (dtype bool), not 0/1 numbers",
                    )
                check.fail(
                    f"dead_units returned dtype {got.dtype}, expected bool",
                    on=on,
                    expected=expected,
                    got=got,
                    hint=_dead_units_hint(a, got),
                )
            if not np.array_equal(got, expected):
                unit = int(np.flatnonzero(got != expected)[0])
                check.fail(
                    f"dead_units is wrong for unit {unit} (column {unit})",
                    on=on,
                    expected=f"{bool(expected[unit])}; column = {describe(a[:, unit])}",
                    got=f"{bool(got[unit])}",
                    hint=_dead_units_hint(a, got),
                )
    check.passed("ReLU and leaky outputs, nearly-dead units, square and one-row matrices")


# ---------------------------------------------------------------------------- dead_fraction
def _probe_models(rng: np.random.Generator):
    """Small Keras models with known dead units, and inputs to probe them on."""
    import keras
    from keras import layers

    d = int(rng.integers(6, 12))
    first = layers.Dense(int(rng.integers(10, 20)), activation="relu", name="dense_relu_1")
    second = layers.Dense(int(rng.integers(8, 16)), name="dense_linear_2")
    model = keras.Sequential(
        [
            keras.Input((d,)),
            first,
            second,
            layers.ReLU(name="relu_layer_2"),
            layers.Dense(7, name="dense_linear_3"),
            layers.LeakyReLU(0.01, name="leaky_3"),
            layers.Dense(6, activation="tanh", name="dense_tanh_4"),
            layers.Dense(3, name="logits"),
        ],
        name="probe_sequential",
    )
    for layer, dead, mostly in ((first, 3, 2), (second, 2, 3)):
        kernel, bias = layer.get_weights()
        units = rng.permutation(bias.size)
        bias[units[:dead]] = -1e3  # dead: negative on every input
        bias[units[dead : dead + mostly]] = -4.0  # zero on most inputs, not all
        kernel[:, units[dead : dead + mostly]] = np.abs(kernel[:, units[dead : dead + mostly]])
        layer.set_weights([kernel, bias])
    x = rng.normal(scale=1.5, size=(int(rng.integers(60, 120)), d)).astype(np.float32)
    x[:d, :] = 6.0 * np.eye(d, dtype=np.float32)  # inputs that wake the "mostly zero" units
    yield "a Sequential model (Dense relu, ReLU layer, LeakyReLU, tanh)", model, x

    inputs = keras.Input((5,))
    h = layers.Dense(12, activation="relu", name="fn_relu_a")(inputs)
    h = layers.Activation("relu", name="fn_activation_relu")(layers.Dense(9, name="fn_lin")(h))
    functional = keras.Model(inputs, layers.Dense(2, name="fn_out")(h), name="probe_functional")
    kernel, bias = functional.get_layer("fn_relu_a").get_weights()
    bias[:4] = -1e3
    functional.get_layer("fn_relu_a").set_weights([kernel, bias])
    yield (
        "a functional model (Dense relu, Activation('relu'))",
        functional,
        rng.normal(size=(50, 5)).astype(np.float32),
    )


@quiet_input_structure_warning()
def check_dead_fraction(dead_fraction) -> None:
    """Per plain-ReLU layer, fraction of units that are 0 on every example (a dict by name)."""
    from relu_course.probes import dead_fraction_per_layer, relu_outputs

    check = Check("dead_fraction", dead_fraction)
    for _ in check.devices():
        for what, model, x in _probe_models(check.rng):
            on = f"{what}; x = {describe(x)}"
            got = check.call(model, x, on=on)  # also fails if the weights change
            expected = dead_fraction_per_layer(model, x)
            if not isinstance(got, dict):
                check.fail(
                    f"dead_fraction returned {type(got).__name__}, not a dict",
                    on=on,
                    got=got,
                    hint="return a dict from each ReLU layer's name to its dead fraction",
                )
            missing = [k for k in expected if k not in got]
            extra = [k for k in got if k not in expected]
            if missing or extra:
                check.fail(
                    "dead_fraction returned the wrong layers",
                    on=on,
                    expected=f"keys {list(expected)}",
                    got=f"keys {list(got)}",
                    hint=(
                        "count only plain ReLU layers (is_relu_layer tells them apart): not "
                        "LeakyReLU, tanh or linear layers"
                        if extra
                        else "every ReLU counts, a separate ReLU or Activation layer as well "
                        "as a Dense layer with a ReLU activation; key by layer.name"
                    ),
                )
            outputs = relu_outputs(model, x)
            for name, want in expected.items():
                value = got[name]
                if not isinstance(value, numbers.Real | np.floating | np.ndarray) or np.ndim(value):
                    check.fail(
                        f"dead_fraction[{name!r}] is {describe(value)}, not a number",
                        on=on,
                        hint="store float(fraction) for each layer",
                    )
                if abs(float(value) - want) > 1e-6:
                    a = outputs[name]
                    hint = "fraction = (number of units that are 0 on every example) / units"
                    if abs(float(value) - float(np.mean(a == 0))) < 1e-6:
                        hint = (
                            "that is the fraction of zero *entries* (per example, ≈ 50% for "
                            "a healthy layer); a dead unit is a column that is 0 everywhere"
                        )
                    elif abs(float(value) - float(np.mean(np.mean(a == 0, axis=0) > 0.5))) < 1e-6:
                        hint = "'zero on most examples' is not dead: require 0 on every example"
                    elif abs(float(value) - float(np.all(a == 0, axis=0).sum())) < 1e-6:
                        hint = "that is the number of dead units; divide by the layer's width"
                    check.fail(
                        f"dead_fraction[{name!r}] is wrong",
                        on=on,
                        expected=f"{want:.4g}",
                        got=f"{float(value):.4g}",
                        hint=hint,
                    )
    check.passed("Sequential and functional models, ReLU as activation or as its own layer")


# ---------------------------------------------------------------------------- leaky_relu
def _leaky_hint(x: np.ndarray, got: np.ndarray, slope: float) -> str:
    neg = x < 0
    if not neg.any():
        return "leaky_relu(x) is x for x > 0 and negative_slope·x otherwise"
    ratio = got[neg] / x[neg]
    if np.allclose(ratio, 0.3, rtol=1e-3) and not np.isclose(slope, 0.3):
        return (
            "negative inputs were scaled by 0.3, Keras's LeakyReLU default; use the "
            "negative_slope argument (0.01 by default, as Maas et al. 2013)"
        )
    if np.allclose(ratio, 0.01, rtol=1e-3) and not np.isclose(slope, 0.01):
        return (
            f"negative inputs were scaled by 0.01 although negative_slope = {slope:.4g}: "
            "use the argument, not a constant"
        )
    if np.allclose(got[neg], 0):
        return "negative inputs became 0: that is ReLU; scale them by negative_slope instead"
    return "leaky_relu(x) is x for x > 0 and negative_slope·x otherwise"


def check_leaky_relu(leaky_relu) -> None:
    """x for x > 0, negative_slope·x otherwise, with TF ops: eager, tf.function, gradients."""
    import tensorflow as tf

    check = Check("leaky_relu", leaky_relu)
    # One tf.function per case on purpose; TF would log a "retracing" warning on stderr.
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")
    try:
        _check_leaky_relu(check, leaky_relu)
    finally:
        logger.setLevel(level)


def _check_leaky_relu(check: Check, leaky_relu) -> None:
    import tensorflow as tf

    rng = check.rng
    cases = [
        (None, "float32"),
        (float(rng.uniform(0.05, 0.5)), "float32"),
        (float(rng.uniform(0.1, 0.9)), "float64"),
        (0.0, "float32"),
        (0.3, "float64"),
    ]
    for _ in check.devices():
        for slope, dtype in cases:
            x = rng.normal(scale=3, size=(int(rng.integers(3, 7)), int(rng.integers(4, 9))))
            x.ravel()[0], x.ravel()[1], x.ravel()[2] = -2.0, 0.0, 1.5
            tensor = tf.constant(x.astype(dtype))
            kwargs = {} if slope is None else {"negative_slope": slope}
            used = 0.01 if slope is None else slope
            on = f"x = {describe(tensor)}, " + (
                "default negative_slope" if slope is None else f"negative_slope = {slope:.4g}"
            )
            expected = tf.nn.leaky_relu(tensor, alpha=used).numpy()
            got = check.expect_tensor(check.call(tensor, on=on, **kwargs), on)
            if got.dtype != tensor.dtype:
                check.fail(
                    f"leaky_relu returned dtype {got.dtype.name} for a {dtype} input",
                    on=on,
                    hint="keep the input's dtype: multiply x by the Python float "
                    "slope (TensorFlow converts it) rather than building float32 constants",
                )
            check.expect_like(got.numpy(), expected, on)
            check.expect_close(
                got.numpy(),
                expected,
                on,
                x=x,
                rtol=1e-6,
                atol=1e-7,
                hint=_leaky_hint(x, got.numpy(), used),
            )
            graph = tf.function(lambda t, kw=kwargs: leaky_relu(t, **kw))
            try:
                traced = check.call(tensor, on=on, target=graph, stub=False)
            except AssertionError as error:
                check.fail(
                    "leaky_relu works eagerly but fails inside tf.function: "
                    + str(error).splitlines()[0].removeprefix("leaky_relu "),
                    on=on,
                    hint="use TensorFlow ops only: no NumPy calls and no .numpy() inside the "
                    "function (inside tf.function tensors have no values yet)",
                )
            check.expect_close(
                np.asarray(traced),
                expected,
                on,
                rtol=1e-6,
                atol=1e-7,
                what="leaky_relu gives different values inside tf.function",
            )
            with tf.GradientTape() as tape:
                tape.watch(tensor)
                y = leaky_relu(tensor, **kwargs)
            grad = tape.gradient(y, tensor)
            if grad is None:
                check.fail(
                    "no gradient flows through leaky_relu",
                    on=on,
                    hint="build the output from x with TensorFlow ops (not NumPy, not "
                    "tf.constant of computed values) so autodiff can follow it",
                )
            nonzero = x != 0
            want_grad = np.where(x > 0, 1.0, used)
            check.expect_close(
                np.asarray(grad)[nonzero],
                want_grad[nonzero],
                on,
                rtol=1e-6,
                atol=1e-7,
                what="leaky_relu's gradient is wrong (it should be 1 "
                "for x > 0 and negative_slope for x < 0)",
            )
    check.passed("values, dtypes, tf.function and gradients for several slopes, default slope 0.01")


# ---------------------------------------------------------------------------- DeadUnitMonitor
# The DeadUnitMonitor check times two real Keras fits with the learner's callback inside:
# tracing the training step and any probe or `predict` function the callback builds costs
# seconds of CPU, not the milliseconds of the array exercises, and a loaded machine
# multiplies it. ``None`` keeps the framework's limit (30 s for learners); a test suite that
# runs with a short limit for array checks sets a longer one here for this check only.
MONITOR_TIME_LIMIT: float | None = None


def _monitor_model(rng: np.random.Generator, prefix: str, d: int):
    import keras
    from keras import layers

    first = layers.Dense(16, activation="relu", name=f"{prefix}_dense_relu")
    model = keras.Sequential(
        [
            keras.Input((d,)),
            first,
            layers.Dense(12, name=f"{prefix}_linear"),
            layers.ReLU(name=f"{prefix}_relu_layer"),
            layers.Dense(8, name=f"{prefix}_linear_2"),
            layers.LeakyReLU(0.1, name=f"{prefix}_leaky"),
            layers.Dense(3, name=f"{prefix}_logits"),
        ],
        name=f"{prefix}_model",
    )
    kernel, bias = first.get_weights()
    dead = rng.choice(16, size=int(rng.integers(3, 7)), replace=False)
    bias[dead] = -1e3
    first.set_weights([kernel, bias])
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@quiet_input_structure_warning()
def check_DeadUnitMonitor(DeadUnitMonitor) -> None:  # noqa: N802 - the exercise's name
    """A Keras callback; after fit, history[layer] lists the dead fraction at each epoch end."""
    import keras

    limit = {} if MONITOR_TIME_LIMIT is None else {"time_limit": MONITOR_TIME_LIMIT}
    check = Check("DeadUnitMonitor", DeadUnitMonitor, is_class=True, **limit)
    if not issubclass(DeadUnitMonitor, keras.callbacks.Callback):
        check.fail(
            "DeadUnitMonitor is not a keras.callbacks.Callback subclass",
            hint="DeadUnitMonitor must subclass the callback base class its docstring names, "
            "and run the parent's __init__ in its own",
        )
    rng = check.rng
    for _ in check.devices():
        runs = [
            _fit_with_monitor(check, rng, prefix, epochs)
            for prefix, epochs in (("first", 3), ("second", 2))
        ]
        for monitor, reference, epochs, on in runs:
            # Checked after both fits: a class-level history dict would now mix both models.
            _check_history_layers(check, monitor.history, reference.history, on)
            _check_history_values(check, monitor.history, reference.history, epochs, on)
    check.passed("two monitors, two real fits, every ReLU layer at every epoch end")


def _fit_with_monitor(check: Check, rng, prefix: str, epochs: int):
    """A fresh monitor and the reference monitor through one real fit of a model whose ReLU
    layers are named ``prefix``_...; the monitor must end with a dict ``history``.
    Returns (monitor, reference, epochs, description)."""
    import keras

    from relu_course.dead_neurons import DeadFractionMonitor

    d = 6 if prefix == "first" else 4
    model = _monitor_model(rng, prefix, d)
    x_train = rng.normal(size=(96, d)).astype(np.float32)
    y_train = rng.integers(0, 3, size=96).astype(np.int32)
    x_probe = (rng.normal(size=(40, d)) * 2).astype(np.float32)  # not the training data
    on = (
        f"a {epochs}-epoch fit of a model with ReLU layers {prefix}_dense_relu, "
        f"{prefix}_relu_layer (and a LeakyReLU); x = {describe(x_probe)}"
    )
    monitor = check.call(x_probe, on=on)
    if not isinstance(monitor, keras.callbacks.Callback):
        check.fail("DeadUnitMonitor(x) did not create a keras Callback", on=on)
    reference = DeadFractionMonitor(x_probe)
    check.call(
        x_train,
        y_train,
        on=on,
        stub=False,
        target=lambda a, b, m=model, e=epochs, mon=monitor, ref=reference: m.fit(
            a, b, epochs=e, batch_size=32, verbose=0, callbacks=[mon, ref]
        ),
    )
    history = getattr(monitor, "history", None)
    if not isinstance(history, dict):
        check.fail(
            f"after fit, monitor.history is {describe(history)}, not a dict",
            on=on,
            hint="history is a dict from layer name to a list (the docstring's Attributes), "
            "created for each instance in __init__ and filled at every epoch end",
        )
    return monitor, reference, epochs, on


def _check_history_layers(check: Check, history: dict, expected: dict, on: str) -> None:
    """One key per plain ReLU layer of this monitor's own model."""
    missing = [k for k in expected if k not in history]
    extra = [k for k in history if k not in expected]
    if extra and any(k.startswith("first_") for k in extra) != any(
        k.startswith("first_") for k in expected
    ):
        check.fail(
            "two DeadUnitMonitor instances share one history",
            on=on,
            expected=f"keys {list(expected)}",
            got=f"keys {list(history)}",
            hint="a dict written in the class body is one dict shared by every instance: "
            "give each instance its own, in __init__",
        )
    if missing or extra:
        check.fail(
            "monitor.history has the wrong layers",
            on=on,
            expected=f"keys {list(expected)}",
            got=f"keys {list(history)}",
            hint="record every plain ReLU layer, keyed by layer.name: "
            "Dense(..., activation='relu') and layers.ReLU() alike, not LeakyReLU"
            if missing
            else "only plain ReLU layers count",
        )


def _check_history_values(check: Check, history: dict, expected: dict, epochs: int, on: str):
    """Per layer, a list with one dead fraction per epoch, measured on the monitor's x."""
    for name, want in expected.items():
        values = history[name]
        if not isinstance(values, list):
            check.fail(
                f"monitor.history[{name!r}] is {describe(values)}, not a list",
                on=on,
                hint="append one float per epoch to a list",
            )
        if len(values) != epochs:
            check.fail(
                f"monitor.history[{name!r}] has {len(values)} entries after {epochs} epochs",
                on=on,
                expected=f"{epochs} values",
                got=describe(values),
                hint="record in on_epoch_end (once per epoch), not in on_train_end or on_batch_end"
                if len(values) < epochs
                else "record once per epoch, in on_epoch_end only",
            )
        try:
            close = np.allclose(np.asarray(values, dtype=float), want, atol=1e-6)
        except (TypeError, ValueError):
            close = False
        if not close:
            check.fail(
                f"monitor.history[{name!r}] has wrong values",
                on=on,
                expected=describe(np.asarray(want)),
                got=describe(values),
                hint="at each epoch end, compute the dead fraction of each ReLU "
                "layer on the x given to __init__ (not on the training batch)",
            )


# ---------------------------------------------------------------------------- born_dead_probability
def check_born_dead_probability(born_dead_probability) -> None:
    """A Monte Carlo estimate (a multiple of 1/trials) within binomial error of the truth."""
    check = Check("born_dead_probability", born_dead_probability)
    rng = check.rng
    reference_trials = 20_000
    cases = [(2, 2), (5, 2), (3, 3), (int(rng.integers(6, 9)), 2)]
    for _ in check.devices():
        for depth, width in cases:
            _check_born_dead_estimate(check, rng, depth, width, reference_trials)
        _check_born_dead_trials_and_seeds(check, rng)
    check.passed(
        f"{len(cases)} (depth, width) pairs within binomial error of a "
        f"{reference_trials:,}-trial reference; seeds and trials respected"
    )


def _born_dead_call(check: Check, depth: int, width: int, **kwargs) -> tuple[float, str]:
    """The candidate's estimate as a float in [0, 1], and the description of its input."""
    on = f"depth = {depth}, width = {width}" + "".join(f", {k} = {v}" for k, v in kwargs.items())
    value = check.expect_float(
        check.call(depth, width, on=on, **kwargs),
        on,
        hint="return the fraction of the trials that were born dead, as a Python float",
    )
    if not 0.0 <= value <= 1.0:
        check.fail(
            f"born_dead_probability returned {value:.4g}, not a probability",
            on=on,
            hint="count the dead trials and divide by trials",
        )
    return value, on


def _check_born_dead_estimate(check: Check, rng, depth: int, width: int, reference_trials: int):
    """One (depth, width): not the single-input formula, a multiple of 1/trials, and within
    binomial error of a large reference run."""
    from relu_course.dead_neurons import born_dead_probability as reference
    from relu_course.dead_neurons import born_dead_standard_error, single_input_dead_bound

    trials = int(rng.integers(300, 500))
    seed = int(rng.integers(0, 2**31))
    got, on = _born_dead_call(check, depth, width, trials=trials, seed=seed)
    bound = single_input_dead_bound(depth, width)
    if abs(got - bound) < 1e-9:
        check.fail(
            "born_dead_probability returned the formula 1 − (1 − 2⁻ᴺ)ᴸ",
            on=on,
            hint="that is the probability of being dead at one input (an upper "
            "bound); estimate the probability for the whole grid by simulation",
        )
    if abs(got * trials - round(got * trials)) > 1e-6:
        check.fail(
            f"born_dead_probability returned {got:.6g}, which is not a multiple "
            f"of 1/trials = 1/{trials}",
            on=on,
            hint="draw exactly `trials` random networks and return the fraction "
            "that are constant on the grid",
        )
    truth = reference(depth, width, trials=reference_trials, seed=int(rng.integers(2**31)))
    p = min(max(truth, 1.0 / reference_trials), 1 - 1.0 / reference_trials)
    tolerance = 4.5 * np.hypot(
        born_dead_standard_error(p, trials), born_dead_standard_error(p, reference_trials)
    )
    if abs(got - truth) <= tolerance:
        return
    hint = (
        "draw each hidden layer's weights from N(0, 2/fan_in) with zero biases, "
        "evaluate every grid point of [−1, 1], and call a net born dead when "
        "its output is the same at every grid point"
    )
    if abs((1 - got) - truth) <= tolerance:
        hint = "this looks like the fraction of nets that are *alive*: return the dead ones"
    elif depth > 1 and abs(got - reference(depth - 1, width, 4000)) <= tolerance + 0.03:
        hint = (
            "this matches depth − 1 hidden layers: `depth` counts the hidden ReLU "
            "layers (the linear output layer comes on top)"
        )
    elif abs(got - bound) <= tolerance:
        hint = (
            "this is close to the single-input probability 1 − (1 − 2⁻ᴺ)ᴸ: a net "
            "is born dead only if it is dead at *every* point of the grid"
        )
    check.fail(
        "born_dead_probability is further from the true probability than Monte Carlo noise allows",
        on=on,
        expected=f"{truth:.3f} ± {tolerance:.3f}",
        got=f"{got:.4f}",
        hint=hint,
    )


def _check_born_dead_trials_and_seeds(check: Check, rng) -> None:
    """trials = 1 gives 0 or 1; the same seed gives the same estimate, different seeds
    different ones."""
    one, on = _born_dead_call(check, 3, 2, trials=1, seed=int(rng.integers(2**31)))
    if one not in (0.0, 1.0):
        check.fail(
            f"with trials = 1 the estimate must be 0 or 1, got {one:.4g}",
            on=on,
            hint="use the trials argument: the estimate is (dead trials) / trials",
        )
    values = set()
    for seed in [None, *rng.choice(2**31, size=4, replace=False)]:
        kwargs = {} if seed is None else {"trials": 200, "seed": int(seed)}
        first, on = _born_dead_call(check, 3, 2, **kwargs)
        again, _ = _born_dead_call(check, 3, 2, **kwargs)
        if first != again:
            check.fail(
                "two calls with the same seed gave different estimates",
                on=on,
                expected=f"{first:.4f} twice",
                got=f"{first:.4f} then {again:.4f}",
                hint="draw every random number from one generator built from the seed "
                "argument, not from an unseeded one",
            )
        if seed is not None:
            values.add(first)
    if len(values) == 1:
        check.fail(
            "four different seeds gave exactly the same estimate",
            on="depth = 3, width = 2, trials = 200, 4 different seeds",
            got=f"{values.pop():.4f} each time",
            hint="the seed argument must choose the random draws: build the generator "
            "from it, not from a fixed seed",
        )


# ---------------------------------------------------------------------------- update_to_data_ratio
def _ratio_cases(rng: np.random.Generator):
    """(description, before, after) triples: kernels with a non-zero mean, a bias, a 4-D
    kernel, a large step, a step that keeps the norm (a permutation with sign flips), and
    float32 steps far below the weights' size."""
    w = rng.normal(loc=0.3, scale=0.2, size=(int(rng.integers(5, 12)), int(rng.integers(4, 9))))
    yield "a kernel with a positive mean, a small step", w, w - 1e-3 * rng.normal(size=w.shape)
    b = rng.normal(loc=-0.5, size=int(rng.integers(6, 20))).astype(np.float32)
    step = (0.01 * rng.normal(size=b.shape)).astype(np.float32)
    yield "a float32 bias vector", b, (b + step).astype(np.float32)
    k = rng.normal(size=(3, 3, 2, int(rng.integers(2, 5))))
    yield "a 4-D kernel, a large step", k, k + rng.uniform(0.3, 0.8) * rng.normal(size=k.shape)
    m = rng.normal(size=(int(rng.integers(4, 8)), int(rng.integers(4, 8))))
    flat = m.ravel()
    kept = (flat[rng.permutation(flat.size)] * rng.choice([-1.0, 1.0], flat.size)).reshape(m.shape)
    yield "a step that keeps ‖W‖ (entries permuted, signs flipped)", m, kept
    big = rng.normal(loc=0.1, scale=0.1, size=(64, 32)).astype(np.float32)
    tiny = (big + 1e-4 * rng.normal(size=big.shape)).astype(np.float32)
    yield "a float32 64×32 kernel, a step of 1e-4", big, tiny


def _ratio_guesses(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """What some misconceptions compute, each with the hint that names it."""
    b, a = before.astype(np.float64), after.astype(np.float64)
    d = a - b
    nb, na, nd = np.linalg.norm(b), np.linalg.norm(a), np.linalg.norm(d)
    guesses = {
        "the ratio compares the step with the weights *before* it (the data being updated): "
        "divide by the norm of `before`, not of `after`": nd / na,
        "norms are already square roots of sums of squares: a ratio of squared norms is the "
        "square of the ratio": nd**2 / nb**2,
        "that is the change of the *norm*; the ratio measures the norm of the *change*: a "
        "step can move every weight and keep ‖W‖ the same": (na - nb) / nb,
        "that is the step's size alone: the ratio is relative, so divide by the size of the "
        "weights before the step": nd,
        "that is the inverse ratio: the step's norm goes on top": nb / nd if nd else np.inf,
        "the standard deviation subtracts the mean, so weights with a non-zero mean give a "
        "different number: use norms over all entries": d.std() / b.std(),
        "a per-entry ratio, averaged, blows up where a weight is near 0: compare the norms of "
        "whole arrays": float(np.mean(np.abs(d) / np.maximum(np.abs(b), 1e-300))),
        "the largest entries alone ignore the rest of the array: use norms over all entries": (
            np.abs(d).max() / np.abs(b).max()
        ),
    }
    if b.ndim == 2:
        guesses[
            "for a matrix, ord=2 is the spectral norm (largest singular value); the ratio "
            "uses the Frobenius norm, over all entries"
        ] = np.linalg.norm(d, 2) / np.linalg.norm(b, 2)
    return guesses


def check_update_to_data_ratio(update_to_data_ratio) -> None:
    """‖after − before‖ / ‖before‖ (norms over all entries) as a float, inputs unchanged."""
    check = Check("update_to_data_ratio", update_to_data_ratio)
    scales: list[float] = []
    for _ in check.devices():
        for what, before, after in _ratio_cases(check.rng):
            on = f"{what}: before = {describe(before)}, after = {describe(after)}"
            got = check.call(before, after, on=on)
            if isinstance(got, np.ndarray) and got.size == 1:
                got = got.reshape(())[()]
            if isinstance(got, np.ndarray):
                check.fail(
                    f"update_to_data_ratio returned an array of shape {got.shape}, not one number",
                    on=on,
                    hint="one ratio for the whole weight array: take each norm over all "
                    "entries at once, as the docstring says",
                )
            got = check.expect_float(
                got,
                on,
                hint="compute with NumPy on the arrays and return the ratio as a Python float",
            )
            b64, a64 = before.astype(np.float64), after.astype(np.float64)
            expected = float(np.linalg.norm(a64 - b64) / np.linalg.norm(b64))
            rtol = 2e-5 if before.dtype == np.float32 else 1e-7
            if abs(got - expected) <= rtol * abs(expected):
                continue
            hint = "‖after − before‖ / ‖before‖, each norm over all entries of the array"
            for guess_hint, guess in _ratio_guesses(before, after).items():
                if np.isfinite(guess) and abs(got - guess) <= 1e-6 * abs(guess):
                    hint = guess_hint
                    break
            else:
                if expected > 0 and got > 0:
                    scales.append(got / expected)
                    if len(scales) > 1 and np.allclose(scales, scales[0], rtol=1e-4):
                        hint = (
                            f"your value is {scales[0]:.4g} times the ratio on every input: "
                            "`after − before` already is the whole update (the learning rate "
                            "is in it), so do not scale it again"
                        )
                    elif len(scales) == 1:
                        continue  # a constant factor shows on the next input
            check.fail(
                "update_to_data_ratio gives a wrong value",
                on=on,
                expected=f"{expected:.10g}",
                got=f"{got:.10g}",
                hint=hint,
            )
        if scales:  # a constant factor that only showed once (the last input)
            check.fail(
                "update_to_data_ratio gives a wrong value",
                on="the last input above",
                got=f"{scales[0]:.4g} times the expected ratio",
                hint="`after − before` already is the whole update (the learning rate is in "
                "it): the ratio is its norm over the norm of `before`",
            )
    check.passed("kernels, a bias, a 4-D kernel, large and tiny steps, a norm-keeping step")


# ------------------------------------------------------------------ grading probes
def probes_dead_units(rng: np.random.Generator) -> list[Probe]:
    a = np.maximum(rng.normal(size=(12, 6)), 0.0)
    a[:, 2] = 0.0  # a dead unit
    signed = rng.normal(size=(10, 5))
    signed[:, 1] = -np.abs(signed[:, 1]) - 0.1  # negative everywhere: not zero, so not dead
    signed[:, 3] = 0.0
    return [
        Probe(args=(x,), expected=np.all(x == 0, axis=0), same_dtype=False) for x in (a, signed)
    ] + [Probe(args=(a,), mode="input_after", expected=a.copy())]


def probes_leaky_relu(rng: np.random.Generator) -> list[Probe]:
    from relu_course.activations import leaky_relu

    x = rng.normal(scale=3, size=(3, 4)).astype(np.float32)
    slope = float(rng.uniform(0.05, 0.5))
    return [
        Probe(args=(Arg(x, "tensor"),), expected=leaky_relu(x, 0.01), atol=1e-6, same_dtype=False),
        Probe(
            args=(Arg(x, "tensor"),),
            kwargs={"negative_slope": slope},
            expected=leaky_relu(x, slope),
            atol=1e-6,
            same_dtype=False,
        ),
    ]


def _relu_net(rng: np.random.Generator, d: int, dead: tuple[int, int]):
    """A ModelSpec (two ReLU Dense layers, a tanh one, linear logits) whose ReLU layers have
    ``dead[0]`` and ``dead[1]`` units with a bias of −1e3 (0 on every input), and the NumPy
    reference of every layer's output on an input."""
    from relu_course.checks._registry import ModelSpec

    sizes = [
        (int(rng.integers(8, 14)), "relu"),
        (int(rng.integers(6, 11)), "relu"),
        (5, "tanh"),
        (3, "linear"),
    ]
    weights, fan_in = [], d
    for i, (units, _) in enumerate(sizes):
        kernel = rng.normal(scale=1 / np.sqrt(fan_in), size=(fan_in, units)).astype(np.float32)
        bias = rng.normal(scale=0.1, size=units).astype(np.float32)
        if i < 2:
            bias[rng.choice(units, size=dead[i], replace=False)] = -1e3
        weights += [kernel, bias]
        fan_in = units
    return ModelSpec(input_dim=d, layers=tuple(sizes), weights=tuple(weights))


def _dead_fractions(spec, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per ReLU layer of ``spec`` (a ModelSpec), the fraction of units 0 on every row of x."""
    functions = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z}
    out, h = {}, x.astype(np.float32)
    for (_units, activation), name, kernel, bias in zip(
        spec.layers, spec.layer_names(), spec.weights[::2], spec.weights[1::2], strict=True
    ):
        h = functions[activation](h @ kernel + bias)
        if activation == "relu":
            out[name] = np.asarray(float(np.mean(np.all(h == 0, axis=0))))
    return out


def probes_dead_fraction(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for dead in ((3, 2), (0, 4)):
        d = int(rng.integers(5, 10))
        spec = _relu_net(rng, d, dead)
        x = rng.normal(size=(int(rng.integers(40, 80)), d)).astype(np.float32)
        probes.append(
            Probe(
                args=(spec, x),
                expected=_dead_fractions(spec, x),
                atol=1e-6,
                same_dtype=False,
                about="a model with Dense ReLU, tanh and linear layers",
            )
        )
    return probes


def probes_DeadUnitMonitor(rng: np.random.Generator) -> list[Probe]:  # noqa: N802
    import dataclasses

    d = int(rng.integers(4, 8))
    x = rng.normal(size=(int(rng.integers(30, 60)), d)).astype(np.float32)
    first = _relu_net(rng, d, (0, 0))
    epochs, expected = [], {}
    for k in (1, 3, 5):  # more units killed at every "epoch"
        weights = [w.copy() for w in first.weights]
        for layer in (0, 1):
            bias = weights[2 * layer + 1]
            bias[: min(k + layer, bias.size)] = -1e3
        spec = dataclasses.replace(first, weights=tuple(weights))
        epochs.append(tuple(weights))
        for name, value in _dead_fractions(spec, x).items():
            expected.setdefault(name, []).append(float(value))
    return [
        Probe(
            args=(x,),
            mode="callback_epochs",
            model=first,
            epoch_weights=tuple(epochs),
            expected={name: np.asarray(v) for name, v in expected.items()},
            atol=1e-6,
            same_dtype=False,
            about="three epoch ends with more dead units each time",
        )
    ]


def _born_dead_judge(depth: int, width: int, trials: int):
    from relu_course.dead_neurons import born_dead_probability, born_dead_standard_error

    def judge(result) -> str | None:
        value = np.asarray(result, dtype=np.float64)
        if value.size != 1:
            return "did not return one number"
        value = float(value.reshape(()))
        if not 0.0 <= value <= 1.0:
            return "returned a value that is not a probability"
        if abs(value * trials - round(value * trials)) > 1e-6:
            return "returned a value that is not a multiple of 1/trials"
        truth = born_dead_probability(depth, width, trials=20_000, seed=12345)
        p = min(max(truth, 1 / 20_000), 1 - 1 / 20_000)
        tolerance = 4.5 * np.hypot(
            born_dead_standard_error(p, trials), born_dead_standard_error(p, 20_000)
        )
        if abs(value - truth) > tolerance:
            return "is further from the true probability than Monte Carlo noise allows"
        return None

    return judge


def probes_born_dead_probability(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for depth, width in ((2, 2), (int(rng.integers(5, 9)), 2), (4, 3)):
        trials = int(rng.integers(300, 600))
        probes.append(
            Probe(
                args=(depth, width),
                kwargs={"trials": trials, "seed": int(rng.integers(2**31))},
                judge=_born_dead_judge(depth, width, trials),
                about=f"depth {depth}, width {width}, {trials} trials",
            )
        )
    probes.append(
        Probe(
            args=(3, 2),
            kwargs={"trials": 1, "seed": int(rng.integers(2**31))},
            judge=lambda r: (
                None
                if np.asarray(r, dtype=np.float64).size == 1 and float(np.asarray(r)) in (0.0, 1.0)
                else "with trials = 1 the estimate must be 0 or 1"
            ),
            about="one trial",
        )
    )
    return probes


def probes_update_to_data_ratio(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for _, before, after in _ratio_cases(rng):
        b64, a64 = before.astype(np.float64), after.astype(np.float64)
        expected = np.asarray(np.linalg.norm(a64 - b64) / np.linalg.norm(b64))
        rtol = 2e-5 if before.dtype == np.float32 else 1e-7
        probes.append(Probe(args=(before, after), expected=expected, rtol=rtol, same_dtype=False))
    return probes + [
        Probe(args=(before, after), mode="input_after", input_index=i, expected=arg.copy())
        for i, arg in enumerate((before, after))
    ]


EXERCISES = [
    Exercise("dead_units", notebook="04_dead_neurons", points=1, probes=probes_dead_units),
    Exercise("dead_fraction", notebook="04_dead_neurons", points=2, probes=probes_dead_fraction),
    Exercise(
        "born_dead_probability",
        notebook="04_dead_neurons",
        points=3,
        probes=probes_born_dead_probability,
    ),
    Exercise("leaky_relu", notebook="04_dead_neurons", points=2, probes=probes_leaky_relu),
    Exercise(
        "DeadUnitMonitor", notebook="04_dead_neurons", points=3, probes=probes_DeadUnitMonitor
    ),
    Exercise(
        "update_to_data_ratio",
        notebook="04_dead_neurons",
        points=2,
        probes=probes_update_to_data_ratio,
    ),
]
