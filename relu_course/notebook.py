"""The set-up every notebook runs first (top layer: composes runtime and checks)."""

from __future__ import annotations

import numpy as np

from relu_course import runtime

__all__ = ["setup_notebook"]


def setup_notebook(name: str, seed: int = 0, report: bool = True) -> np.random.Generator:
    """Standard set-up cell of every notebook; returns a seeded NumPy Generator.

    Call it before importing TensorFlow. It silences TensorFlow's start-up logs, seeds
    Python, NumPy and Keras, records the notebook name for the claims ledger, makes check
    failures display as one clear message instead of a traceback, and prints a one-line
    device report.
    """
    runtime.set_current_notebook(name)
    runtime.quiet_tensorflow()
    rng = runtime.set_seed(seed)
    _install_check_display()
    if report:
        info = runtime.device_report()
        print(
            f"{name}: TensorFlow {info['tensorflow']}, Keras {info['keras']} on "
            f"{info['devices']} (TF32 {info['tf32']}); seed {seed}"
        )
    return rng


def _install_check_display() -> None:
    """In IPython, show a failed check as its message alone, in red, without a traceback.

    The cell still ends in error (nbgrader scores it as failed); only the display changes,
    which also keeps hidden-test code out of the feedback.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is None:
        return
    from relu_course.checks import CheckFailed

    def show_check_failure(shell, etype, value, tb, tb_offset=None):
        lines = [
            f"\x1b[31m✗ {line}\x1b[0m" if i == 0 else line
            for i, line in enumerate(str(value).splitlines())
        ]
        shell._showtraceback(etype, value, lines)
        return lines

    shell.set_custom_exc((CheckFailed,), show_check_failure)
