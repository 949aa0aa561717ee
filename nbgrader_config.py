"""nbgrader configuration for the ReLU course (read when nbgrader runs in this folder).

``solutions/`` is the nbgrader *source* (solutions and hidden tests, edited by hand);
``notebooks/`` is the generated student *release*.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "relu-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Only notebooks travel from solutions/ to the release: anything else there (a jupytext
# .py or .md pairing, scratch files, data written by a run) could leak solutions.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
    "*.md",
    "*.txt",
    "*.json",
    "*.jsonl",
    "*.csv",
    "*.png",
    "*.npz",
    "*.keras",
    "*.h5",
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Autograding (owned by relu_course/grading; `relu-course grade` relies on these) --------
# Kernel: the course's own kernelspec; minimal tracebacks so an error in a hidden test shows
# its exception type and message, never the hidden test's source lines.
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--InteractiveShell.xmode=Minimal",
]
# Per-cell time limit. A cell that runs past it is interrupted and scored as failed; a kernel
# still busy after the interrupt (code that swallows KeyboardInterrupt) must not fail the
# whole submission, hence raise_on_iopub_timeout=False: later cells time out in turn and the
# notebook is still graded. `relu-course grade --timeout` overrides the value.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = False
# nbgrader scores any cell that wrote to stderr as failed. Warnings and TensorFlow logs must
# never cost points: drop every stderr output before grades are saved.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]*"
# Bound what a runaway print can put into the autograded notebook and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "relu_course.grading.preprocessors.LimitOutputSize",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A deleted or metadata-stripped test cell is put back (and reported by `relu-course grade`)
# instead of being silently left for manual grading.
c.OverwriteCells.add_missing_cells = True
c.Autograde.create_student = True

# --- Feedback --------------------------------------------------------------------------------
# The autograded notebook holds the hidden tests again; strip them before rendering HTML.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
