"""Reproducible, quiet execution: seeding, TensorFlow start-up, device report.

Nothing happens at import. Notebooks call :func:`relu_course.notebook.setup_notebook`
once, in their set-up cell, *before* importing TensorFlow, so that its start-up log lines
stay off.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import Iterator

import numpy as np

__all__ = [
    "KERNEL_ENV",
    "QUIET_TF_ENV",
    "device_report",
    "no_tf32",
    "quiet_tensorflow",
    "set_seed",
    "current_notebook",
    "set_current_notebook",
    "visible_devices",
]

# TF 2.21 prints oneDNN lines on stderr even at TF_CPP_MIN_LOG_LEVEL=3 unless
# TF_ENABLE_ONEDNN_OPTS=0 is set before TensorFlow is imported (tests/test_package.py checks
# that probing a model writes nothing to stderr).
QUIET_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
}
# Environment of the course's Jupyter kernel and of every process that runs notebooks
# (test suite, grader, benchmarks). The bootstrap ``course.py`` keeps a copy (it runs before
# this package is installed); a test keeps the two equal.
KERNEL_ENV = {**QUIET_TF_ENV, "PYTHONWARNINGS": "ignore::DeprecationWarning"}

_NOTEBOOK: dict[str, str | None] = {"name": None}


def quiet_tensorflow() -> bool:
    """Set the environment that silences TensorFlow's start-up; True if it was in time.

    Returns False when TensorFlow was already imported: then only later log lines are
    affected, and the start-up lines have already been printed.
    """
    for key, value in QUIET_TF_ENV.items():
        os.environ.setdefault(key, value)
    in_time = "tensorflow" not in sys.modules
    import absl.logging  # ships with TensorFlow; cheap

    absl.logging.set_verbosity(absl.logging.ERROR)
    return in_time


def set_seed(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and TensorFlow/Keras in one call; return a fresh NumPy Generator.

    ``keras.utils.set_random_seed`` alone gives bit-identical Keras training runs across
    fresh processes on CPU. Use the returned Generator for NumPy sampling.
    """
    import keras

    keras.utils.set_random_seed(int(seed))
    return np.random.default_rng(seed)


def visible_devices() -> list[str]:
    """Names of the CPU and GPU logical devices TensorFlow sees (CPU first)."""
    import tensorflow as tf

    devices = [d for d in tf.config.list_logical_devices() if d.device_type in ("CPU", "GPU")]
    return [d.name for d in sorted(devices, key=lambda d: (d.device_type != "CPU", d.name))]


@contextlib.contextmanager
def no_tf32() -> Iterator[None]:
    """Disable TensorFloat-32 matmuls (Ampere+ GPUs) inside the block, then restore."""
    import tensorflow as tf

    was_enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(was_enabled)


def device_report() -> dict[str, str]:
    """Versions, devices and TF32 state, as a dict of short strings."""
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras backend": keras.backend.backend(),
        "numpy": np.__version__,
        "devices": ", ".join(visible_devices()),
        "tf32": (
            ("on" if tf.config.experimental.tensor_float_32_execution_enabled() else "off")
            if any(d.device_type == "GPU" for d in tf.config.list_logical_devices())
            else "n/a (no GPU)"
        ),
        "cpu cores": str(os.cpu_count()),
    }


def current_notebook() -> str | None:
    """The notebook name recorded by the set-up cell (or ``$RELU_COURSE_NOTEBOOK``)."""
    return _NOTEBOOK["name"] or os.environ.get("RELU_COURSE_NOTEBOOK")


def set_current_notebook(name: str | None) -> None:
    """Record which notebook is running (used by the claims ledger)."""
    _NOTEBOOK["name"] = name
