#!/usr/bin/env python3
"""One entry point for a fresh machine: set up the course and start it, or run the tests.

    python3 course.py start   # create .venv if missing, install, open JupyterLab on notebooks/
    python3 course.py test    # create .venv if missing, install, run the whole test suite
    python3 course.py setup   # only create/update the environment

Needs nothing but Python 3.11. The environment lives in ``.venv`` next to this file and is
reinstalled only when ``pyproject.toml`` changes. Extra arguments after ``test`` go to pytest,
after ``start`` to JupyterLab (e.g. ``--no-browser``).
"""

from __future__ import annotations

import hashlib
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

# Environment for every kernel and test run: quiet TensorFlow start-up, headless plots.
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


def setup() -> None:
    if sys.version_info[:2] != (3, 11):
        _log(f"warning: the course is tested on Python 3.11; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        _log(f"creating the virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp():
        _log("environment up to date")
    else:
        _log("installing the course and its dependencies (a few minutes the first time)")
        _run(
            PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]"
        )
        STAMP.write_text(_wanted_stamp())
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


def start(lab_args: list[str]) -> None:
    setup()
    _log("starting JupyterLab on notebooks/ (Ctrl-C to stop)")
    args = ["jupyter", "lab", f"--ServerApp.root_dir={ROOT / 'notebooks'}", *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines often run as root
    os.execve(str(BIN / "jupyter"), args, _env())


def test(pytest_args: list[str]) -> int:
    setup()
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
