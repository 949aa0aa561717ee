"""The relu_course package: layering, import cost, set-up files, references, ledger."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from relu_course import activations, ledger
from relu_course.checks import CheckFailed, check_relu_np
from relu_course.data import load_digits_split
from relu_course.models import build_mlp
from relu_course.piecewise import kinks, pattern_changes
from relu_course.probes import (
    dead_fraction_per_layer,
    dead_unit_mask,
    gradient_norms,
    hoyer,
    relu_outputs,
    zero_fraction,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "relu_course"

# Layer of each top-level module/package: a module may import only from its layer or below.
LAYERS = {
    # 0: NumPy/SciPy maths and offline data
    "activations": 0,
    "data": 0,
    "piecewise": 0,
    "stats": 0,
    "backprop": 0,
    "batch_norm": 0,
    # 1: runtime, ledger, and the verdicts read from the ledger
    "runtime": 1,
    "ledger": 1,
    "factcheck": 1,
    # 2: Keras/TensorFlow adapters and topic references that need them
    "models": 2,
    "probes": 2,
    "training": 2,
    "ensemble": 2,
    "diagnostics": 2,
    "he_init": 2,
    "sparsity": 2,
    "dead_neurons": 2,
    "after_relu": 2,
    "capstone": 2,
    # 3: figures and experiment runners
    "plots": 3,
    "experiments": 3,
    # 4: self-checks (with their exercise records and grading probes)
    "checks": 4,
    # 5: course files, nbgrader, grading, the site
    "layout": 5,
    "release": 5,
    "notebook": 5,
    "grading": 5,
    "site": 5,
    # 6: the command line
    "cli": 6,
    "__main__": 6,
}


def _top_level(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_course_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "relu_course":
            found.update(alias.name for alias in node.names)  # from relu_course import stats
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("relu_course.")
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("relu_course."):
                    found.add(alias.name.split(".")[1])
    return found


def test_no_module_imports_upward():
    problems = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        mine = _top_level(path)
        if mine not in LAYERS:
            problems.append(f"{path.relative_to(ROOT)}: not in LAYERS, give it a layer")
            continue
        for other in _imported_course_modules(path):
            if other not in LAYERS:
                problems.append(f"{path.relative_to(ROOT)} imports unlisted relu_course.{other}")
            elif LAYERS[other] > LAYERS[mine]:
                problems.append(f"{path.relative_to(ROOT)} imports relu_course.{other}")
    assert not problems, "layering:\n" + "\n".join(problems)


def test_no_utils_grab_bag_and_no_star_imports():
    assert not list(PACKAGE.rglob("utils.py"))
    for path in PACKAGE.rglob("*.py"):
        assert "import *" not in path.read_text(), path


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code + "\nimport sys, json; "
            "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_cli_help_does_not_import_tensorflow():
    code = textwrap.dedent("""
        import contextlib, io
        from relu_course.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["--help"])
            except SystemExit:
                pass
    """)
    assert "tensorflow" not in _modules_after(code)


def test_importing_the_package_and_checks_is_cheap():
    loaded = _modules_after("import relu_course, relu_course.checks, relu_course.ledger")
    assert "tensorflow" not in loaded and "keras" not in loaded


def test_cli_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "relu_course", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("doctor", "release", "check", "grade"):
        assert command in out.stdout


def test_doctor_reports_the_course():
    out = subprocess.run(
        [sys.executable, "-m", "relu_course", "doctor"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for field in ("tensorflow", "keras", "devices", "tf32", "kernel", "course folder"):
        assert field in out.stdout
    assert "01_relu" in out.stdout


def test_environment_yml_installs_the_project_and_nothing_else():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"] and ">=3.11" in project["requires-python"]
    conda_packages = [d for d in deps if isinstance(d, str) and not d.startswith("python")]
    assert conda_packages == ["pip"], "declare dependencies in pyproject.toml, not here"
    pip = [d for d in deps if isinstance(d, dict)]
    assert pip == [{"pip": ["-e .[dev]"]}]
    assert "dev" in project["optional-dependencies"]


def test_readme_commands_exist_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python3 course.py start" in readme
    assert "python3 course.py test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 course.py test" in ci


# ------------------------------------------------------------------ NumPy references
def _tf_reference(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = tf.constant(x)
    fns = {
        "relu": tf.nn.relu,
        "leaky_relu": lambda v: tf.nn.leaky_relu(v, alpha=0.01),
        "elu": tf.nn.elu,
        "gelu": lambda v: tf.nn.gelu(v, approximate=False),
        "softplus": tf.nn.softplus,
        "sigmoid": tf.sigmoid,
        "tanh": tf.tanh,
    }
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = fns[name](t)
    return y.numpy(), tape.gradient(y, t).numpy()


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activations_and_derivatives_match_tensorflow(name):
    x = np.concatenate([np.random.default_rng(1).normal(scale=4, size=500), [0.0, -30, 30]])
    x_before = x.copy()
    value, grad = _tf_reference(name, x)
    np.testing.assert_allclose(activations.ACTIVATIONS[name](x), value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(activations.DERIVATIVES[name](x), grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(x, x_before)  # inputs never mutated


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activations_keep_float_dtype(name):
    for dtype in (np.float32, np.float64):
        x = np.linspace(-3, 3, 7, dtype=dtype)
        assert activations.ACTIVATIONS[name](x).dtype == dtype
        assert activations.DERIVATIVES[name](x).dtype == dtype


def test_derivative_maxima():
    x = np.linspace(-10, 10, 20001)
    assert activations.sigmoid_grad(x).max() == 0.25
    assert activations.tanh_grad(x).max() == 1.0


# ------------------------------------------------------------------ data, models, probes
def test_digits_split_is_standardised_and_deterministic():
    a, b = load_digits_split(), load_digits_split()
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int32
    assert a.num_features == 64 and a.num_classes == 10
    assert len(a.x_train) + len(a.x_val) == 1797
    np.testing.assert_allclose(a.x_train.mean(axis=0), 0, atol=1e-5)


@pytest.mark.parametrize("order", [None, "before", "after"])
def test_build_mlp_layer_order(order):
    model = build_mlp(2, 8, batch_norm=order)
    kinds = [type(layer).__name__ for layer in model.layers]
    block = {
        None: ["Dense", "ReLU"],
        "before": ["Dense", "BatchNormalization", "ReLU"],
        "after": ["Dense", "ReLU", "BatchNormalization"],
    }[order]
    assert kinds == block * 2 + ["Dense"]
    assert model.layers[0].use_bias == (order != "before")


def test_build_mlp_names_keras_traps():
    leaky = build_mlp(1, 4, "leaky_relu").get_layer("act_1")
    assert leaky.get_config()["negative_slope"] == pytest.approx(0.01)  # not Keras's 0.3
    prelu = build_mlp(1, 4, "prelu").get_layer("act_1")
    assert np.allclose(prelu.get_weights()[0], 0.25)  # He et al., not Keras's 0
    assert build_mlp(1, 4, bn_momentum=0.9, batch_norm="after").get_layer("bn_1").momentum == 0.9


def test_build_mlp_with_an_activation_argument_trains():
    model = build_mlp(1, 4, "leaky_relu:0.2", input_dim=3, num_classes=2)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    assert model.get_layer("act_1").get_config()["negative_slope"] == pytest.approx(0.2)


def test_relu_outputs_finds_relu_layers_and_dense_relu():
    inputs = keras.Input((5,))
    h = keras.layers.Dense(4, activation="relu", name="dense_relu")(inputs)
    h = keras.layers.Dense(4, name="plain")(h)
    h = keras.layers.ReLU(name="relu_layer")(h)
    h = keras.layers.LeakyReLU(name="leaky")(h)
    h = keras.layers.Activation("relu", name="act_relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    outputs = relu_outputs(model, x)
    assert list(outputs) == ["dense_relu", "relu_layer", "act_relu"]
    manual = tf.nn.relu(model.get_layer("plain")(model.get_layer("dense_relu")(x))).numpy()
    np.testing.assert_allclose(outputs["relu_layer"], manual, rtol=1e-6)


def test_gradient_norms_match_a_hand_written_tape():
    model = build_mlp(3, 16, "tanh")
    x = np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32)
    y = np.arange(32) % 10
    norms = gradient_norms(model, x, y)
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        logits = model(x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    expected = [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    assert len(norms) == 4


def test_zero_and_dead_unit_measures():
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert zero_fraction(a) == pytest.approx(4 / 6)
    np.testing.assert_array_equal(dead_unit_mask(a), [True, False, False])
    assert zero_fraction(np.array([-1.0, 1e-9])) == 0.0


def test_dead_fraction_per_layer_with_a_killed_unit():
    model = build_mlp(1, 4, input_dim=3, num_classes=2)
    dense = model.get_layer("dense_1")
    kernel, bias = dense.get_weights()
    bias[0] = -1e6  # unit 0 can never switch on
    dense.set_weights([kernel, bias])
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    fractions = dead_fraction_per_layer(model, x)
    assert list(fractions) == ["act_1"] and fractions["act_1"] >= 0.25


def test_hoyer_extremes():
    assert hoyer(np.ones(10)) == pytest.approx(0.0)
    assert hoyer(np.eye(10)[3]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        hoyer(np.zeros(5))


def test_kinks_and_pattern_changes_of_a_hat():
    x = np.linspace(-3, 3, 601)
    y = np.maximum(0, 1 - np.abs(x))
    np.testing.assert_allclose(kinks(x, y), [-1, 0, 1], atol=0.011)
    units = np.stack([x + 1, x, x - 1], axis=1) > 0
    assert len(pattern_changes(units)) == 3


# ------------------------------------------------------------------ ledger
def test_claim_prints_one_line_and_appends_json(tmp_path, monkeypatch, capsys):
    path = tmp_path / "claims.jsonl"
    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(path))
    held = ledger.claim(
        "x_small", 0.5, expect=(None, 1.0), source="Paper 2020, Fig. 1", notebook="99_test"
    )
    failed = ledger.claim("x_big", 3.0, expect=(0, 1), source="Paper 2020")
    nan = ledger.claim("x_nan", float("nan"), expect=(None, 1), source="Paper 2020")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "holds" in lines[0] and "NOT" in lines[1]
    assert held.holds and not failed.holds and not nan.holds
    records = ledger.read_claims(path)
    assert [r["id"] for r in records] == ["x_small", "x_big", "x_nan"]
    assert set(records[0]) >= {"id", "value", "expect", "holds", "source", "notebook"}
    assert records[0]["notebook"] == "99_test" and records[0]["expect"] == [None, 1.0]


def test_claim_records_seeds_and_interval(tmp_path, monkeypatch, capsys):
    path = tmp_path / "claims.jsonl"
    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(path))
    made = ledger.claim("x_seeded", 0.2, expect=(0.1, None), source="s", seeds=5, ci=(0.15, 0.25))
    assert "95% CI 0.15 to 0.25, 5 seeds" in capsys.readouterr().out
    record = ledger.read_claims(path)[0]
    assert record["seeds"] == 5 and record["ci"] == [0.15, 0.25]
    assert made.seeds == 5
    for bad in ({"seeds": 0}, {"seeds": 2.5}, {"ci": (2.0, 1.0)}, {"ci": 0.1}):
        with pytest.raises(ValueError):
            ledger.claim("bad", 1.0, expect=(0, 2), source="s", **bad)


def test_an_interval_must_lie_in_the_expected_range(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RELU_COURSE_CLAIMS", str(tmp_path / "c.jsonl"))
    crossing = ledger.claim("x", 0.82, expect=(0.7, None), source="s", seeds=5, ci=(0.64, 1.0))
    assert not crossing.holds and "interval leaves" in capsys.readouterr().out
    assert ledger.claim("y", 0.82, expect=(0.7, None), source="s", seeds=5, ci=(0.75, 0.9)).holds
    margin = ledger.claim("z", 0.001, expect=(-0.01, 0.01), source="s", seeds=5, ci=(-0.02, 0.02))
    assert not margin.holds  # "no difference" needs the interval inside the margin


def test_recorded_claims_keeps_the_latest_per_id(tmp_path, monkeypatch):
    monkeypatch.delenv("RELU_COURSE_CLAIMS", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert ledger.claims_file() == tmp_path / "state" / "relu-course" / "claims.jsonl"
    ledger.claim("a", 1.0, expect=(0, 2), source="s", notebook="01_x")
    ledger.claim("a", 3.0, expect=(0, 2), source="s", notebook="01_x")
    ledger.claim("b", 1.0, expect=(0, 2), source="s", notebook="02_x")
    with open(ledger.claims_file(), "a", encoding="utf-8") as f:
        f.write('{"id": "cut')  # an interrupted write is skipped
    latest = ledger.recorded_claims()
    assert latest["a"]["value"] == 3.0 and not latest["a"]["holds"] and set(latest) == {"a", "b"}


def test_claim_display_is_shown_once():
    made = ledger.claim("shown", 1.0, expect=(0, 2), source="s")
    assert made._ipython_display_() is None  # IPython shows nothing more for the return value


def test_claim_rejects_bad_ranges():
    with pytest.raises(ValueError):
        ledger.claim("bad", 1.0, expect=(None, None), source="s")
    with pytest.raises(ValueError):
        ledger.claim("bad", 1.0, expect=1.0, source="s")


# ------------------------------------------------------------------ checks framework
MULTI_DEVICE_SCRIPT = textwrap.dedent("""
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from relu_course.checks import CheckFailed, check_relu_np, check_relu_tf
    seen = set()
    def spy(x):
        seen.add(tf.constant(0.0).device.split("device:")[-1])
        return np.maximum(x, 0)
    check_relu_np(spy)
    print("SEEN", sorted(seen))
    def broken_on_second(x):
        if tf.constant(0.0).device.endswith("CPU:1"):
            return tf.abs(x)
        return tf.nn.relu(x)
    try:
        check_relu_tf(broken_on_second)
    except CheckFailed as failure:
        print("FAILED", str(failure).splitlines()[0])
""")


def test_checks_run_on_every_logical_device():
    """Without a GPU: split the CPU into two logical devices; the check must use both."""
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SEEN ['CPU:0', 'CPU:1']" in out.stdout
    assert "[on CPU:1]" in out.stdout and "passed" in out.stdout


def test_check_restores_alarm_and_tf32_state():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    check_relu_np(lambda x: np.maximum(x, 0))
    with pytest.raises(CheckFailed):
        check_relu_np(np.abs)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert tf.config.experimental.tensor_float_32_execution_enabled() == tf32


def test_check_keeps_an_outer_time_limit():
    """A grader's per-cell alarm armed around a check survives it (re-armed with what is
    left), and an outer deadline shorter than the check's own still reaches its handler."""
    import signal
    import time

    from relu_course.checks._framework import _run_limited

    class Outer(BaseException):
        pass

    def outer_handler(signum, frame):
        raise Outer()

    previous = signal.signal(signal.SIGALRM, outer_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 20.0)
        check_relu_np(lambda x: np.maximum(x, 0))
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 20.0, "the outer timer was cancelled by the check"
        assert signal.getsignal(signal.SIGALRM) is outer_handler
        signal.setitimer(signal.ITIMER_REAL, 0.2)  # shorter than the check's limit
        with pytest.raises(Outer):
            _run_limited(time.sleep, (5,), {}, 3.0)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # fired once, not re-armed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_failed_check_names_its_seed_and_the_seed_replays_the_inputs(monkeypatch):
    seen = []

    def wrong(x):
        seen.append(np.array(x, copy=True))
        return np.abs(x)

    monkeypatch.setenv("RELU_COURSE_CHECK_SEED", "12345")
    with pytest.raises(CheckFailed) as first:
        check_relu_np(wrong)
    assert "RELU_COURSE_CHECK_SEED=12345" in str(first.value)
    replay = len(seen)
    with pytest.raises(CheckFailed) as second:
        check_relu_np(wrong)
    assert str(first.value) == str(second.value)
    assert all(np.array_equal(a, b) for a, b in zip(seen[:replay], seen[replay:], strict=True))
    monkeypatch.delenv("RELU_COURSE_CHECK_SEED")
    with pytest.raises(CheckFailed) as fresh:
        check_relu_np(wrong)
    assert "RELU_COURSE_CHECK_SEED=12345" not in str(fresh.value)


def test_check_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)


def test_failed_check_shows_a_message_not_a_traceback_in_a_kernel():
    """In the course kernel a failed check displays only its message (no hidden test code)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from relu_course.notebook import setup_notebook\n"
            'rng = setup_notebook("99_test", report=False)'
        ),
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom relu_course.checks import "
            "check_relu_np\nSECRET_HIDDEN = 1\ncheck_relu_np(np.abs)"
        ),
    ]
    NotebookClient(nb, kernel_name="relu-course", allow_errors=True, timeout=120).execute()
    error = next(o for o in nb.cells[1].outputs if o.output_type == "error")
    assert error.ename == "CheckFailed"
    shown = "\n".join(error.traceback)
    assert "|x|" in shown and "SECRET_HIDDEN" not in shown and "Traceback" not in shown


def test_time_limit_also_works_off_the_main_thread():
    import threading

    outcome = {}
    stop = threading.Event()  # ends the abandoned loop after the test, freeing the core

    def run():
        try:
            check_relu_np(lambda x: [0 for _ in iter(stop.is_set, True)])
        except CheckFailed as failure:
            outcome["message"] = str(failure)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    stop.set()
    assert "did not finish" in outcome.get("message", "")


def test_looping_function_gives_a_message_in_a_kernel():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from relu_course.notebook import setup_notebook\n"
            'rng = setup_notebook("99_test", report=False)\n'
            "from relu_course.checks import check_relu_np\n"
            "def relu_np(x):\n    while True:\n        pass\n"
            "check_relu_np(relu_np)"
        )
    ]
    NotebookClient(nb, kernel_name="relu-course", allow_errors=True, timeout=120).execute()
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    assert "did not finish" in error.evalue


def test_course_kernel_runs_this_environment():
    """nbgrader and the Validator tests launch `relu-course`: it must be this Python."""
    import os

    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("relu-course")
    assert os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable)
    assert spec.env.get("TF_ENABLE_ONEDNN_OPTS") == "0"


def _serve(*extra: str):
    """Start `python3 course.py start --no-browser ...` on a free port; yield a GET helper."""
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "course.py",
            "start",
            *extra,
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=test-token",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def get(path: str) -> tuple[int, str]:
        sep = "&" if "?" in path else "?"
        url = f"http://127.0.0.1:{port}{path}{sep}token=test-token"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, ""

    return server, get


def _wait_for_contents(server, get) -> dict:
    import time

    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        try:
            status, body = get("/api/contents")
            if status == 200:
                return json.loads(body)
        except OSError:
            pass
        assert server.poll() is None, "JupyterLab exited early"
    raise AssertionError("JupyterLab did not answer within 120 s")


@pytest.mark.slow
def test_start_command_serves_the_notebooks_in_learner_mode():
    """`python3 course.py start` (the README's command): JupyterLab on notebooks/, the
    relu-course kernel by default, nbgrader's instructor tools hidden, no news pop-up."""
    server, get = _serve()
    try:
        listing = _wait_for_contents(server, get)
        names = {item["name"] for item in listing["content"]}
        assert {"00_welcome", "01_relu"} <= names and "solutions" not in names
        assert json.loads(get("/api/kernelspecs")[1])["default"] == "relu-course"
        assert get("/formgrader")[0] == 404, "the formgrader must not be served to learners"
        page = get("/lab")[1]
        for plugin in ("formgrader", "create-assignment", "course-list"):
            assert f"@jupyter/nbgrader:{plugin}" in page, f"{plugin} not disabled"
        settings = json.loads(
            get("/lab/api/settings/@jupyterlab/apputils-extension:notification")[1]
        )
        # overrides.json changes the schema's default (the user can still opt in)
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false"
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.slow
def test_start_instructor_mode_shows_the_nbgrader_tools():
    server, get = _serve("--instructor")
    try:
        listing = _wait_for_contents(server, get)
        assert {"solutions", "notebooks", "nbgrader_config.py"} <= {
            i["name"] for i in listing["content"]
        }
        assert get("/formgrader")[0] in (200, 302)
        assert "@jupyter/nbgrader:formgrader" not in get("/lab")[1]
    finally:
        server.terminate()
        server.wait(30)


def test_bootstrap_kernel_environment_matches_the_package():
    """course.py keeps a copy of the kernel environment (it runs before the install)."""
    import importlib.util

    from relu_course.runtime import KERNEL_ENV

    spec = importlib.util.spec_from_file_location("_bootstrap", ROOT / "course.py")
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    assert bootstrap.QUIET_ENV == KERNEL_ENV


def test_missing_kernel_is_registered(tmp_path, monkeypatch):
    """A pip-only or conda install has no bootstrap: ensure_kernel registers the kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    from relu_course.layout import ensure_kernel

    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "prefix" / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    first = ensure_kernel()
    spec = KernelSpecManager().get_kernel_spec("relu-course")
    assert first in ("installed", "repaired", "ok")
    assert os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable)
    assert spec.env.get("TF_ENABLE_ONEDNN_OPTS") == "0"
    assert ensure_kernel() == "ok"


def test_probing_one_layer_writes_nothing_to_stderr():
    code = textwrap.dedent("""
        import numpy as np, keras
        from relu_course.probes import relu_outputs
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"),
                                  keras.layers.Dense(1)])
        print(list(relu_outputs(model, np.ones((4, 3), np.float32))))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "['dense']" and out.stderr.strip() == ""


def test_hand_written_files_pass_ruff():
    """One linter and formatter on hand-written code; generated notebooks are excluded."""
    ruff = Path(sys.executable).parent / "ruff"
    targets = ["relu_course", "tests", "benchmarks", "course.py", "nbgrader_config.py"]
    lint = subprocess.run([ruff, "check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [ruff, "format", "--check", *targets], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_any_check_rejects_a_candidate_that_trains_the_model():
    """The framework, not each check, guards a Keras model passed to the candidate."""
    from relu_course.checks import check_relu_activations

    def trains_then_probes(model, x):
        model.compile("sgd", "mse")
        model.fit(x, np.zeros((len(x), model.outputs[0].shape[-1]), np.float32), verbose=0)
        from relu_course.probes import relu_outputs

        return relu_outputs(model, x)

    with pytest.raises(CheckFailed, match="changed the model's weights"):
        check_relu_activations(trains_then_probes)


@pytest.mark.slow
def test_pip_only_install_can_check_a_notebook(tmp_path):
    """Installed with plain `pip install -e .` (or conda's pip step), with no bootstrap and
    no relu-course kernel registered, `relu-course check` still runs a filled notebook.

    Simulated without downloading: a fresh venv of the base Python that sees this
    environment's packages through a .pth file, then `pip install -e . --no-deps`."""
    import shutil
    import venv

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(fresh)
    python = fresh / "bin" / "python"
    site_packages = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(target, "course-env.pth").write_text(str(site_packages) + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", ROOT],
        check=True,
        capture_output=True,
        timeout=600,
    )
    # a machine where nobody registered the kernel: no user-level kernels either
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "JUPYTER_PATH")}
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    env["PATH"] = f"{fresh / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the kernels the fresh interpreter itself sees (`jupyter kernelspec list` would dispatch
    # to the first jupyter-kernelspec script on PATH, which may belong to the course's .venv
    # and list that prefix's kernels instead)
    listed = subprocess.run(
        [
            python,
            "-c",
            "from jupyter_client.kernelspec import KernelSpecManager as M; "
            "print(sorted(M().find_kernel_specs()))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "relu-course" not in listed.stdout, "the simulation must start without the kernel"
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "solutions" / "00_welcome" / "00_welcome.ipynb", work / "mine.ipynb")
    out = subprocess.run(
        [fresh / "bin" / "relu-course", "check", "mine.ipynb"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1/1" in out.stdout and "hung" not in out.stdout
