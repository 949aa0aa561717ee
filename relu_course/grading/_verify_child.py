"""The clean process of the re-verification (see :mod:`relu_course.grading.verify`).

``python -m relu_course.grading._verify_child JOB.json``: runs the given cells (release
set-up, the learner's answers, source tests) in a fresh IPython shell, reports which ones
failed and which library functions the answers replaced, then calls the learner's
functions on the verifier's inputs and saves the raw results as ``.npy`` files (no pickle)
for the parent process to compare with references it computed itself.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import types


class _Deadline(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Deadline()


_WATCHED = (
    "builtins",
    "numpy",
    "numpy.testing",
    "tensorflow",
    "tensorflow.math",
    "tensorflow.nn",
    "keras",
    "keras.ops",
    "relu_course.checks",
)


def _identities() -> dict[str, tuple[int, int]]:
    """id of every loaded watched function, and of its code object (so a replaced
    ``__code__`` counts as a replacement too)."""
    found = {}
    names = set(_WATCHED) | {m for m in sys.modules if m.startswith("relu_course.checks.")}
    for module_name in names:
        module = sys.modules.get(module_name)
        if not isinstance(module, types.ModuleType):
            continue
        for attr, value in list(vars(module).items()):
            if attr.startswith("__") or not callable(value):
                continue
            found[f"{module_name}.{attr}"] = (id(value), id(getattr(value, "__code__", None)))
    return found


def _imported(name: str, value) -> bool:
    """A set-up name bound to a library module or function (``np``, ``check_relu_np``)."""
    if name.startswith("_"):
        return False
    if isinstance(value, types.ModuleType):
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and module.split(".")[0] in (
        "relu_course",
        "numpy",
        "tensorflow",
        "keras",
    )


def main(job_path: str) -> None:
    import numpy as np

    from relu_course.grading.probe_wire import run_probe

    savez = np.savez  # held before any learner code runs
    job = json.loads(open(job_path, encoding="utf-8").read())
    out = job["out"]
    report = {"cells": {}, "replaced": [], "rebound": [], "probes": {}, "results": {}}

    def write_report():
        with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as handle:
            json.dump(report, handle)

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    signal.signal(signal.SIGALRM, _on_alarm)
    limit = int(job["timeout"])
    before = None
    setup_names: dict[str, int] = {}
    for kind, cell_id, source in job["cells"]:
        if kind == "answer" and before is None:
            before = _identities()
            setup_names = {k: id(v) for k, v in shell.user_ns.items() if _imported(k, v)}
        signal.alarm(limit)
        try:
            result = shell.run_cell(source, silent=True, store_history=False)
            error = result.error_in_exec or result.error_before_exec
        except _Deadline:
            error = TimeoutError(f"time limit {limit} s")
        finally:
            signal.alarm(0)
        report["cells"][cell_id] = (
            None if error is None else f"{type(error).__name__}: {str(error)[:200]}"
        )
        write_report()
    if before is not None:
        after = _identities()
        report["replaced"] = sorted(k for k, v in before.items() if after.get(k, v) != v)
        report["rebound"] = sorted(
            k
            for k, v in setup_names.items()
            if k in shell.user_ns and id(shell.user_ns[k]) != v and not k.startswith("_")
        )
    inputs = np.load(job["inputs"], allow_pickle=False) if job["probes"] else {}
    inputs = {key: inputs[key] for key in (inputs.files if job["probes"] else [])}
    for probe in job["probes"]:
        signal.alarm(limit)
        try:
            structure = run_probe(probe, shell.user_ns.get(probe["exercise"]), inputs, out, savez)
            report["results"][probe["id"]] = structure
            report["probes"][probe["id"]] = None
        except BaseException as error:  # noqa: BLE001 - learner code: record anything
            report["probes"][probe["id"]] = f"{type(error).__name__}: {str(error)[:200]}"
        finally:
            signal.alarm(0)
        write_report()
    write_report()
    builtins.print("done")


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: learner objects may hang in __del__ or atexit
