#!/usr/bin/env python3
"""One entry point for a fresh machine: set up the course and start it, or run the tests.

    python3 course.py start                # set up if needed, open JupyterLab on notebooks/
    python3 course.py start --instructor   # the same on the course folder, with nbgrader's UI
    python3 course.py test                 # set up if needed, run the whole test suite
    python3 course.py test --quick         # a few minutes: everything but executing notebooks
    python3 course.py setup                # only create/update the environment

Needs nothing but Python 3.11 (on Debian/Ubuntu also the ``python3-venv`` package). The
environment lives in ``.venv`` next to this file (about 2.3 GB, 1.3 GB of it TensorFlow;
3-6 minutes the first time) and is reinstalled only when ``pyproject.toml`` changes. Extra
arguments after ``test`` go to pytest, after ``start`` to JupyterLab (e.g. ``--no-browser``,
``--port=8899``).

The learner's JupyterLab opens notebooks with the ``relu-course`` kernel, hides nbgrader's
instructor tools (Create Assignment, Formgrader, Courses) and asks no "Jupyter news"
question; ``--instructor`` shows the nbgrader tools and serves the whole course folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".relu-course-installed"
KERNEL_NAME = "relu-course"

# Environment for every kernel and test run: quiet TensorFlow start-up (a copy of
# relu_course.runtime.KERNEL_ENV, which cannot be imported before the install; a test keeps
# them equal).
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def _log(message: str) -> None:
    print(f"[relu-course] {message}", flush=True)


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, env=env)


def _wanted_stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{sys.version_info.major}.{sys.version_info.minor} {digest}"


# nbgrader's instructor tools, hidden in the learner's JupyterLab.
INSTRUCTOR_LAB_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
]
INSTRUCTOR_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
]
MODES = ("learner", "instructor")

# Kernels started by the course's JupyterLab talk to it over Unix sockets (zmq "ipc"), not
# loopback TCP: no "Kernel is running over TCP without encryption" warning on every start,
# and no port other local users could connect to. The socket files go next to each kernel's
# connection file, in Jupyter's private (0700) runtime folder, never among the notebooks.
# A Unix socket path is limited (107 bytes on Linux, 103 on macOS): with a long runtime
# path (a long home folder) the kernels stay on TCP rather than fail to start. A .py
# config, so that the check runs in the server, with the server's runtime folder.
IPC_KERNELS_CONFIG = """\
# Written by course.py (python3 course.py setup/start): edits are overwritten.
import os

from jupyter_core.paths import jupyter_runtime_dir

# The longest socket path: <runtime>/kernel-<uuid4>-ipc-<n>
_longest = os.path.join(jupyter_runtime_dir(), "kernel-" + "0" * 36 + "-ipc-99")
if os.name == "posix" and len(os.fsencode(_longest)) <= 100:
    c.KernelManager.transport = "ipc"  # noqa: F821 - `c` is the config traitlets passes
"""


def _mode_config_dir(mode: str) -> Path:
    return VENV / "etc" / "relu-course" / mode


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def _write_jupyter_config() -> None:
    """Per-mode Jupyter configuration (added with JUPYTER_CONFIG_PATH at start, so the
    user's own ~/.jupyter settings still apply), and lab settings for both modes."""
    kernel = {"MultiKernelManager": {"default_kernel_name": KERNEL_NAME}}
    for mode in MODES:
        path = _mode_config_dir(mode) / "jupyter_server_config.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(IPC_KERNELS_CONFIG)
    learner = _mode_config_dir("learner")
    _write_json(
        learner / "jupyter_server_config.json",
        {
            **kernel,
            "ServerApp": {
                "jpserver_extensions": dict.fromkeys(INSTRUCTOR_SERVER_EXTENSIONS, False)
            },
        },
    )
    _write_json(
        learner / "labconfig" / "page_config.json",
        {"disabledExtensions": dict.fromkeys(INSTRUCTOR_LAB_PLUGINS, True)},
    )
    _write_json(_mode_config_dir("instructor") / "jupyter_server_config.json", kernel)
    # No "would you like to receive official Jupyter news?" pop-up, no update checks.
    _write_json(
        VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json",
        {
            "@jupyterlab/apputils-extension:notification": {
                "fetchNews": "false",
                "checkForUpdates": False,
            }
        },
    )


def setup() -> None:
    if sys.version_info[:2] != (3, 11):
        _log(f"warning: the course is tested on Python 3.11; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        _log(f"step 1/3: creating the virtual environment in {VENV}")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as error:  # noqa: BLE001 - explain the usual cause, then stop
            _log(
                f"could not create {VENV} ({error}). On Debian/Ubuntu install the venv "
                "module first: sudo apt-get install python3-venv"
            )
            raise SystemExit(1) from None
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp():
        _log("environment up to date")
    else:
        _log(
            "step 2/3: installing the course and its dependencies into .venv "
            "(about 2.3 GB, 3-6 minutes the first time; pip reports each package)"
        )
        _run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-e", ".[dev]")
        STAMP.write_text(_wanted_stamp())
    _log("step 3/3: registering the relu-course Jupyter kernel")
    _write_jupyter_config()
    # Always (re)write the kernel spec: cheap, and it must point at this environment.
    env_args: list[str] = []
    for key, value in QUIET_ENV.items():
        env_args += ["--env", key, value]
    _run(
        PYTHON,
        "-m",
        "ipykernel",
        "install",
        "--sys-prefix",
        "--name",
        KERNEL_NAME,
        "--display-name",
        "Python 3 (relu-course)",
        *env_args,
        env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
    )


def _env() -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV, "JUPYTER_PLATFORM_DIRS": "1"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    return env


def start_command(lab_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The JupyterLab command line and environment for ``start`` (learner or instructor)."""
    mode = "instructor" if "--instructor" in lab_args else "learner"
    lab_args = [a for a in lab_args if a != "--instructor"]
    root = ROOT if mode == "instructor" else ROOT / "notebooks"
    args = ["jupyter", "lab", f"--ServerApp.root_dir={root}", *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines often run as root
    env = _env()
    extra = env.get("JUPYTER_CONFIG_PATH")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(_mode_config_dir(mode))] + ([extra] if extra else [])
    )
    return args, env


def start(lab_args: list[str]) -> None:
    setup()
    args, env = start_command(lab_args)
    where = "the course folder (instructor mode)" if "--instructor" in lab_args else "notebooks/"
    _log(f"starting JupyterLab on {where} (Ctrl-C to stop)")
    os.execve(str(BIN / "jupyter"), args, env)


def test(pytest_args: list[str]) -> int:
    setup()
    if "--quick" in pytest_args:
        # everyday subset: unit tests, check catalogues, notebook structure and release sync;
        # no notebook execution (nbval, Validator) and no end-to-end grading batches
        pytest_args = [a for a in pytest_args if a != "--quick"]
        pytest_args = ["tests", "-m", "not slow", *pytest_args]
    env = _env()
    if os.environ.get("CI"):
        env["MPLBACKEND"] = "Agg"
    # One worker per core; --dist loadfile keeps each notebook's nbval cells (and each test
    # file) in one worker, so a notebook's cells share one kernel.
    parallel = ["-n", str(max(1, min(os.cpu_count() or 1, 4))), "--dist", "loadfile"]
    _log("running the test suite")
    return subprocess.run(
        [str(PYTHON), "-m", "pytest", *parallel, *pytest_args], cwd=ROOT, env=env
    ).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "setup":
        setup()
        return 0
    if command == "start":
        start(rest)
        return 0
    if command == "test":
        return test(rest)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
