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
    ".*",  # hidden files and folders: .ipynb_checkpoints (full solution copies), .idea, ...
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
# Execution: SandboxedExecute replaces nbgrader's Execute. The kernel runs inside a
# bubblewrap sandbox (no view of the course folder, gradebook or other submissions, no
# network, bounded memory; all its processes die with it) and talks over IPC sockets. A cell
# past the per-cell limit costs that cell: the kernel is killed, a fresh one replays the
# earlier cells, and execution goes on; a dead kernel keeps the cells that ran and fails the
# rest with "kernel died in cell N"; a wall-clock limit caps the notebook. Kernels run with
# minimal tracebacks, and any hidden-test line is scrubbed from outputs whatever the student
# does. `relu-course grade --timeout/--no-sandbox` override these per run.
c.SandboxedExecute.timeout = 120
c.SandboxedExecute.wall_limit = 1800
c.SandboxedExecute.memory_gb = 12.0
c.SandboxedExecute.sandbox = True
# nbgrader scores any cell that wrote to stderr as failed. Warnings and TensorFlow logs must
# never cost points: drop every stderr output before grades are saved.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]*"
# Bound what a runaway print or a huge image can put into the autograded notebook and the
# feedback: lines of text (LimitOutput), then every MIME type and the notebook's total.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60
c.Autograde.autograde_preprocessors = [
    "relu_course.grading.preprocessors.SandboxedExecute",
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
# The autograded notebook holds the hidden tests again; strip them from the test cells before
# rendering HTML (a student's own cell that mentions the delimiters is left alone: it must
# not stop their feedback). Outputs were already scrubbed of hidden-test lines.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "relu_course.grading.preprocessors.ClearHiddenTestsInTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
