"""The clean process of the re-verification (see :mod:`relu_course.grading.verify`).

``python -m relu_course.grading._verify_child SCRATCH`` runs inside the submission's sandbox.
It is driven one step at a time by the grader: each line on stdin is one step (a cell to
run, a probe to call, or the end), carrying a fresh nonce; each reply is one JSON line with
that nonce on the original stdout, which learner code cannot reach through ``print`` (fd 1
and 2 point to ``/dev/null`` before any learner code runs). The grader keeps every verdict;
nothing here decides a score.

Cells run with plain ``exec`` in one namespace — not in an IPython shell, so input
transformers or other shell hooks an answer registers do nothing (IPython syntax was
already turned into Python by the grader; ``get_ipython()`` returns a stub). Before each
test cell (a ``restore`` step) the library functions an answer may have replaced (``relu_course``, NumPy,
TensorFlow, Keras, builtins: the objects, their code and defaults) and the set-up names
it may have rebound are put back, and the reply lists them.
"""

from __future__ import annotations

import json
import os
import sys
import types

_WATCHED_PREFIXES = ("relu_course", "numpy", "tensorflow", "keras")
_WATCHED_EXACT = ("builtins", "math", "operator", "functools")


class _NoShell:
    """``get_ipython()`` in the verifier: magics and shell commands do nothing."""

    input_transformers_post: list = []
    input_transformers_cleanup: list = []

    def run_line_magic(self, *args, **kwargs):
        return None

    run_cell_magic = system = getoutput = ex = run_line_magic

    def __getattr__(self, name):
        return _NoShell()

    def __call__(self, *args, **kwargs):
        return None


def _watched_modules():
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        if name in _WATCHED_EXACT or name.split(".")[0] in _WATCHED_PREFIXES:
            if name.split(".")[0] == "tensorflow" and name.count(".") > 2:
                continue  # TF's private internals: thousands of modules, not a test's concern
            yield name, module


def _snapshot() -> dict:
    """(module, attribute) -> (object, code, defaults, kwdefaults) of every callable."""
    found = {}
    for name, module in _watched_modules():
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items:
            if attr.startswith("__") or not callable(value):
                continue
            found[(name, attr)] = (
                value,
                getattr(value, "__code__", None),
                getattr(value, "__defaults__", None),
                getattr(value, "__kwdefaults__", None),
            )
    return found


def _foreign(value) -> bool:
    """A callable the learner's cells defined (they run as ``__main__``)."""
    module = getattr(value, "__module__", None) or ""
    return callable(value) and (module in ("", "__main__") or module.startswith("<"))


def _restore(saved: dict) -> list[str]:
    """Put back every replaced function or code object, remove learner-defined functions
    added to library modules (``relu_course.checks.check_x = lambda f: None`` where the
    name was not loaded yet); names of what had changed."""
    changed = []
    for name, module in _watched_modules():
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items:
            if (name, attr) not in saved and not attr.startswith("__") and _foreign(value):
                # only learner-defined objects: libraries bind new names lazily too
                try:
                    delattr(module, attr)
                    changed.append(f"{name}.{attr}")
                except (AttributeError, TypeError):
                    changed.append(f"{name}.{attr} (could not be removed)")
    for (name, attr), (value, code, defaults, kwdefaults) in saved.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        try:
            if vars(module).get(attr) is not value:
                setattr(module, attr, value)
                changed.append(f"{name}.{attr}")
            if code is not None and value.__code__ is not code:
                value.__code__ = code
                changed.append(f"{name}.{attr}.__code__")
            if code is not None and (
                value.__defaults__ is not defaults or value.__kwdefaults__ is not kwdefaults
            ):
                value.__defaults__, value.__kwdefaults__ = defaults, kwdefaults
                changed.append(f"{name}.{attr} defaults")
        except (AttributeError, TypeError, ValueError):
            changed.append(f"{name}.{attr} (could not be restored)")
    return sorted(set(changed))


def _imported(name: str, value) -> bool:
    """A set-up name bound to a library module or function (``np``, ``check_relu_np``)."""
    if name.startswith("_"):
        return False
    if isinstance(value, types.ModuleType):
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and module.split(".")[0] in _WATCHED_PREFIXES


def main(scratch: str) -> None:
    import numpy as np

    from relu_course.grading.probe_wire import run_probe

    # Everything the loop uses is bound here, before any learner code runs.
    write, readline, dumps, loads = os.write, sys.stdin.readline, json.dumps, json.loads
    savez, run, compiled = np.savez, run_probe, compile
    replies = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    out = os.path.join(scratch, "out")
    with np.load(os.path.join(scratch, "inputs.npz"), allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    namespace: dict = {"__name__": "__main__", "get_ipython": _NoShell()}
    saved = None
    setup_names: dict = {}

    def reply(message: dict) -> None:
        write(replies, (dumps(message) + "\n").encode("utf-8"))

    while True:
        line = readline()
        if not line:
            break
        step = loads(line)
        message = {"nonce": step["nonce"], "error": None}
        kind = step["kind"]
        if kind == "end":
            reply(message)
            break
        try:
            if kind == "answer" and saved is None:
                saved = _snapshot()
                setup_names = {k: v for k, v in namespace.items() if _imported(k, v)}
            if kind in ("setup", "answer", "test"):
                code = compiled(step["source"], f"<{kind} {step['id']}>", "exec")
                exec(code, namespace)  # noqa: S102
            elif kind == "probe":
                message["result"] = run(
                    step["probe"], namespace.get(step["probe"]["exercise"]), inputs, out, savez
                )
        except BaseException as error:  # noqa: BLE001 - learner code: record anything
            message["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        if saved is not None and kind in ("answer", "restore"):
            # what this answer cell (or, before tests and probes, anything since) replaced
            message["replaced"] = _restore(saved)
            message["rebound"] = sorted(
                k for k, v in setup_names.items() if namespace.get(k) is not v
            )
            namespace.update(setup_names)
        elif saved is not None and kind == "setup":
            # the release's own later cells: their imports and names are the reference
            saved.update({k: v for k, v in _snapshot().items() if k not in saved})
            setup_names.update(
                {
                    k: v
                    for k, v in namespace.items()
                    if _imported(k, v) and k in step["source"] and k not in setup_names
                }
            )
        reply(message)


if __name__ == "__main__":
    main(sys.argv[1])
    os._exit(0)  # skip interpreter teardown: learner objects may hang in __del__ or atexit
