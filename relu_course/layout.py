"""Where the course lives on disk, and the canonical form of its notebooks.

``solutions/<NN_name>/<NN_name>.ipynb`` is the nbgrader source (hand-edited);
``notebooks/<NN_name>/<NN_name>.ipynb`` is the generated student release.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "KERNEL",
    "assignments",
    "canonical",
    "course_root",
    "ensure_kernel",
    "release_notebook",
    "solution_notebook",
]

KERNEL = {"name": "relu-course", "display_name": "Python 3 (relu-course)", "language": "python"}
LANGUAGE_INFO = {"name": "python"}


def course_root(start: str | os.PathLike | None = None) -> Path:
    """The course folder: ``$RELU_COURSE_ROOT``, else the first folder upwards from ``start``
    (default: the working directory) that holds ``nbgrader_config.py`` and ``solutions/``,
    else the checkout this package was installed from."""
    if os.environ.get("RELU_COURSE_ROOT"):
        return Path(os.environ["RELU_COURSE_ROOT"]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    return Path(__file__).resolve().parents[1]


def assignments(root: Path | None = None) -> list[str]:
    """Assignment ids (``00_welcome``, ...) in curriculum order (hidden folders such as
    JupyterLab's ``.ipynb_checkpoints`` are never assignments)."""
    root = root or course_root()
    return sorted(
        p.name
        for p in (root / "solutions").iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / f"{p.name}.ipynb").is_file()
    )


def ensure_kernel(force: bool = False) -> str:
    """Register the ``relu-course`` Jupyter kernel for this Python when it is missing or
    points at another Python (a ``pip install -e .`` or conda install has no bootstrap to do
    it). Returns what happened: ``"ok"``, ``"installed"`` or ``"repaired"``."""
    import sys

    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from relu_course.runtime import KERNEL_ENV

    state = "installed"
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL["name"])
        if os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable) and not force:
            return "ok"
        state = "repaired"
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(
        kernel_name=KERNEL["name"],
        display_name=KERNEL["display_name"],
        prefix=sys.prefix,
        env=dict(KERNEL_ENV),
    )
    return state


def solution_notebook(assignment: str, root: Path | None = None) -> Path:
    return (root or course_root()) / "solutions" / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str, root: Path | None = None) -> Path:
    return (root or course_root()) / "notebooks" / assignment / f"{assignment}.ipynb"


def canonical(nb):
    """The canonical form of a source notebook: no outputs, no execution counts, the
    course kernel, stable cell ids, no editor metadata. Returns a new notebook node."""
    import copy

    from relu_course.grading.cells import grade_id

    nb = copy.deepcopy(nb)
    nb.metadata = {"kernelspec": dict(KERNEL), "language_info": dict(LANGUAGE_INFO)}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for index, cell in enumerate(nb.cells):
        cell["id"] = grade_id(cell) or f"cell-{index:02d}"
        kept = {k: v for k, v in cell.get("metadata", {}).items() if k in ("nbgrader", "tags")}
        cell["metadata"] = kept
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.pop("attachments", None) if not cell.get("attachments") else None
    return nb
