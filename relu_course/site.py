"""``relu-course site``: the course as a static HTML site that can be read without installing
anything (like d2l.ai or the TensorFlow tutorials), built offline with Sphinx, myst-nb and
sphinx-book-theme, maths rendered by a local copy of MathJax (sphinx-mathjax-offline).

Each page is the learner's **release** notebook with the outputs of a run of the reference
solutions: every demo cell shows its printout and figure, while every answer cell shows the
learner's stub, every test cell its visible self-check only, and every written question
its "YOUR ANSWER HERE" — outputs are copied only into cells that are neither answers nor
tests, matched by cell id. So no solution body, hidden test or mark scheme can reach the
site; ``tests/test_site.py`` searches the HTML for them anyway. The landing page has the
learning path, the claims table of this build's run and how to run the course locally.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from relu_course.grading.cells import nbgrader_meta
from relu_course.layout import (
    KERNEL,
    assignments,
    course_root,
    ensure_kernel,
    release_notebook,
    solution_notebook,
)
from relu_course.ledger import read_claims
from relu_course.runtime import KERNEL_ENV

__all__ = ["SiteBuild", "build_site", "page_notebook"]


def _graded_or_answer(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("solution") or meta.get("grade"))


def _live_widget(output) -> bool:
    """Progress-bar widgets mean nothing on a static page, and neither do warnings and logs
    on stderr (they quote library source lines)."""
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return True
    return "application/vnd.jupyter.widget-view+json" in output.get("data", {})


def page_notebook(release, executed_solution):
    """The page for one notebook: the release's cells; outputs copied from the executed
    solution into demo cells only (same cell id, same source), never into answer or test
    cells."""
    page = nbformat.from_dict(json.loads(json.dumps(release)))
    by_id = {cell.get("id"): cell for cell in executed_solution.cells}
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if _graded_or_answer(cell):
            continue
        ran = by_id.get(cell.get("id"))
        if ran is not None and ran.source == cell.source and not _graded_or_answer(ran):
            cell.outputs = [o for o in ran.get("outputs", []) if not _live_widget(o)]
            cell.execution_count = ran.get("execution_count")
    page.metadata["kernelspec"] = dict(KERNEL)
    return page


def _execute(path: Path, claims: Path, timeout: int):
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {
        **KERNEL_ENV,
        "RELU_COURSE_CLAIMS": str(claims),
        # figures as PNG outputs, whatever backend the caller's environment asks for
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the parent's environment
    with tempfile.TemporaryDirectory(prefix="relu-course-kernel-") as sockets:
        # IPC sockets: no network port, no "running over TCP without encryption" warning
        manager = KernelManager(
            kernel_name=KERNEL["name"], transport="ipc", ip=os.path.join(sockets, "k")
        )
        try:
            NotebookClient(
                nb,
                km=manager,
                timeout=timeout,
                resources={"metadata": {"path": str(path.parent)}},
                allow_errors=False,
            ).execute()
        finally:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)  # a kernel we passed in is ours to stop
            os.environ.clear()
            os.environ.update(old)
    return nb


def _claims_table(claims: list[dict]) -> str:
    rows = [
        "| notebook | claim | measured | 95% interval | seeds | expected | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        low, high = c.get("expect", [None, None])
        expected = (
            f"= {low:.4g}"
            if low is not None and low == high
            else f"[{low:.4g}, {high:.4g}]"
            if low is not None and high is not None
            else f"≥ {low:.4g}"
            if low is not None
            else f"≤ {high:.4g}"
        )
        ci = c.get("ci")
        interval = f"{ci[0]:.3g} to {ci[1]:.3g}" if ci else ""
        about = html.escape(c.get("description") or "").replace("|", "\\|")
        rows.append(
            f"| {c.get('notebook', '')} | `{c['id']}` {about} | {c['value']:.4g} | {interval} | "
            f"{c.get('seeds') or ''} | {expected} | {'✓' if c['holds'] else '✗'} |"
        )
    return "\n".join(rows)


def _landing_page(root: Path, names: list[str], claims: list[dict], built: str) -> str:
    titles = []
    for name in names:
        first = nbformat.read(release_notebook(name, root), as_version=4).cells[0].source
        title = first.splitlines()[0].lstrip("# ").strip()
        titles.append(f"- [{title}]({name}.ipynb)")
    latest: dict[str, dict] = {}
    for record in claims:
        latest[record["id"]] = record
    return "\n".join(
        [
            "# The ReLU course",
            "",
            "An open, autograded Keras/TensorFlow course on the rectified linear unit, "
            "ReLU(x) = max(0, x), and on what every popular claim about it looks like when it "
            "is measured. These pages show each notebook as a learner receives it, with the "
            "output of a run of the reference solutions in every demonstration cell; the "
            "exercises show the stub you fill in.",
            "",
            "## Learning path",
            "",
            *titles,
            "",
            "## Run it yourself",
            "",
            "On a machine with Python 3.11 (and, on Debian/Ubuntu, `python3-venv`):",
            "",
            "```bash",
            "git clone <this repository> relu-course && cd relu-course",
            "python3 course.py start    # sets up .venv, opens JupyterLab on notebooks/",
            "python3 course.py test     # the whole test suite",
            "```",
            "",
            "Each exercise has a self-check cell; `relu-course check` scores your notebooks.",
            "",
            "## Claims measured in this build",
            "",
            f"Every claim recorded while the solutions ran for this site ({built}); the "
            "notebooks print the same lines when you run them.",
            "",
            _claims_table(
                sorted(latest.values(), key=lambda c: (c.get("notebook") or "", c["id"]))
            ),
            "",
            "```{toctree}",
            ":hidden:",
            ":maxdepth: 1",
            "",
            *names,
            "```",
            "",
        ]
    )


_CONF = """
project = "The ReLU course"
author = "relu-course contributors"
extensions = ["myst_nb", "sphinx-mathjax-offline"]  # the package names its module so
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
html_theme = "sphinx_book_theme"
html_title = "The ReLU course"
html_theme_options = {"show_toc_level": 2}
html_context = {"default_mode": "light"}  # an explicit mode: no console error on file:// pages
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
"""


@dataclass
class SiteBuild:
    html: Path  # the site: open html/index.html
    pages: list[str]
    claims: list[dict]
    seconds: float


def build_site(
    root: Path | None = None,
    out: Path | None = None,
    names: list[str] | None = None,
    timeout: int = 600,
    execute: bool = True,
) -> SiteBuild:
    """Build the site into ``out`` (default ``<course>/.relu-course/site``); ``names``
    limits it to some notebooks; ``execute=False`` builds pages without outputs."""
    root = root or course_root()
    out = Path(out or root / ".relu-course" / "site").resolve()
    names = names or assignments(root)
    started = time.perf_counter()
    ensure_kernel()
    source = out / "source"
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    claims_file = Path(tempfile.mkdtemp(prefix="relu-course-site-")) / "claims.jsonl"
    for name in names:
        release = nbformat.read(release_notebook(name, root), as_version=4)
        if execute:
            print(f"[site] running the solutions of {name}", flush=True)
            executed = _execute(solution_notebook(name, root), claims_file, timeout)
        else:
            executed = nbformat.read(solution_notebook(name, root), as_version=4)
        nbformat.write(page_notebook(release, executed), source / f"{name}.ipynb")
    claims = read_claims(claims_file)
    built = time.strftime("%Y-%m-%d") + (", solutions executed" if execute else ", no outputs")
    (source / "index.md").write_text(_landing_page(root, names, claims, built), encoding="utf-8")
    (source / "conf.py").write_text(_CONF, encoding="utf-8")
    html_dir = out / "html"
    print("[site] building HTML with Sphinx", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", str(source), str(html_dir)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sphinx failed:\n{result.stderr[-4000:]}")
    return SiteBuild(html_dir, names, claims, time.perf_counter() - started)
