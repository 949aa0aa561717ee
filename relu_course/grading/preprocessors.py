"""nbgrader preprocessors the course adds to autograding (see ``nbgrader_config.py``).

* :class:`SandboxedExecute` replaces nbgrader's ``Execute``: it runs the notebook with
  :func:`relu_course.grading.execute.execute_notebook` in a kernel inside a bubblewrap
  sandbox (a hang costs one cell's time limit, then kill and replay; a dead kernel keeps
  the cells that ran; hidden-test source is scrubbed from outputs). It runs in nbgrader's
  own process, outside the sandbox: only the kernel sees student code.
* :class:`LimitOutputSize` bounds every output of every MIME type.
* :class:`ClearHiddenTestsInTests` removes hidden tests from feedback without letting a
  student's own cell (text that mentions ``BEGIN HIDDEN TESTS``) break their feedback.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

__all__ = ["ClearHiddenTestsInTests", "LimitOutputSize", "SandboxedExecute"]


class ClearHiddenTestsInTests(ClearHiddenTests):
    """nbgrader's ``ClearHiddenTests`` on locked grade cells only.

    Hidden tests live only in test cells, whose source nbgrader restores from the gradebook.
    Applied to every cell, as nbgrader does, a student's answer that merely contains the
    words "BEGIN HIDDEN TESTS" stops their feedback page from being generated ("No end
    hidden tests statement found"); their own cells are left as they wrote them.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not (utils.is_grade(cell) and utils.is_locked(cell)):
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook in a sandboxed kernel (see the module docstring).

    ``relu-course grade`` prepares ``scratch`` (the submission's private copy in ``work/``)
    and reads ``execution-<notebook>.json`` from it afterwards. Run by plain ``nbgrader
    autograde``, it makes its own scratch folder from the autograded folder's files.
    """

    scratch = Unicode("", help="prepared scratch folder (work/ inside it)").tag(config=True)
    sandbox = Bool(True, help="run the kernel in bubblewrap (False: --no-sandbox)").tag(config=True)
    timeout = Integer(120, help="seconds per cell").tag(config=True)
    wall_limit = Integer(1800, help="seconds for the whole notebook").tag(config=True)
    memory_gb = Float(12.0, help="address-space limit of the sandbox, GiB").tag(config=True)

    def preprocess(self, nb, resources):
        from relu_course.grading import sandbox as sandboxing
        from relu_course.grading.execute import execute_notebook, hidden_test_lines

        if self.sandbox and not sandboxing.available():
            raise RuntimeError(sandboxing.MISSING_MESSAGE)
        own = not self.scratch
        scratch = Path(tempfile.mkdtemp(prefix="relu-grade-") if own else self.scratch)
        work = scratch / "work"
        if own:
            source = Path(resources.get("metadata", {}).get("path") or ".")
            shutil.copytree(
                source,
                work,
                symlinks=False,
                ignore=shutil.ignore_patterns(".*", "*.ipynb"),
            )
        work.mkdir(parents=True, exist_ok=True)
        box = (
            sandboxing.Sandbox(scratch, memory_bytes=int(self.memory_gb * sandboxing.GIB))
            if self.sandbox
            else None
        )
        try:
            report = execute_notebook(
                nb,
                work,
                sandbox=box,
                private=scratch / "k",
                timeout=self.timeout,
                wall_limit=self.wall_limit,
                secret_lines=hidden_test_lines(nb),
            )
            name = resources.get("unique_key", "notebook")
            (scratch / f"execution-{name}.json").write_text(
                json.dumps(
                    {
                        "events": report.events,
                        "died_in": report.died_in,
                        "timed_out": report.timed_out,
                        "wall_limit_reached": report.wall_limit_reached,
                        "seconds": round(report.seconds, 1),
                        "sandboxed": box is not None,
                    }
                ),
                encoding="utf-8",
            )
        finally:
            if own:
                shutil.rmtree(scratch, ignore_errors=True)
        return nb, resources


class LimitOutputSize(NbGraderPreprocessor):
    """Bound every output: text to ``max_chars`` characters, any other MIME type (images,
    HTML, JSON) to ``max_rich_bytes``, all outputs of a notebook to ``max_notebook_bytes``.

    nbgrader's ``LimitOutput`` counts lines of text only, so a megabyte-long line or a 50 MB
    PNG would land whole in the autograded notebook and the feedback page.
    """

    max_chars = Integer(20_000, help="maximum characters kept per text output").tag(config=True)
    max_rich_bytes = Integer(300_000, help="maximum bytes per non-text payload").tag(config=True)
    max_notebook_bytes = Integer(2_000_000, help="maximum bytes of all outputs").tag(config=True)

    def preprocess(self, nb, resources):
        from relu_course.grading.execute import OutputBudget, OutputLimits

        budget = OutputBudget(
            OutputLimits(
                text_chars=self.max_chars,
                rich_bytes=self.max_rich_bytes,
                notebook_bytes=self.max_notebook_bytes,
            )
        )
        for cell in nb.cells:
            if cell.get("cell_type") == "code":
                cell.outputs = [budget.admit(output) for output in cell.get("outputs", [])]
        return nb, resources
