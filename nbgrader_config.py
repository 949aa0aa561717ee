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
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py", "*.md", "*.txt",
    "*.json", "*.jsonl", "*.csv", "*.png", "*.npz", "*.keras", "*.h5",
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
