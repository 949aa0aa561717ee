"""Grading tools (top layer): ``relu-course check`` for learners, ``relu-course grade`` for
instructors (nbgrader with every submission's code in its own sandbox, plus an
out-of-kernel re-verification of every awarded exercise).

Modules: :mod:`~relu_course.grading.cells` reads grade cells and outcomes from notebooks,
:mod:`~relu_course.grading.sanitize` restores tampered nbgrader metadata from the release,
:mod:`~relu_course.grading.sandbox` builds the bubblewrap sandbox,
:mod:`~relu_course.grading.execute` runs a notebook in a kernel it can always take back
(time limits, dead kernels, bounded and scrubbed outputs),
:mod:`~relu_course.grading.check` runs a learner's notebooks, :mod:`~relu_course.grading.grade`
wraps nbgrader, :mod:`~relu_course.grading.verify` re-checks answers in a clean process
(:mod:`~relu_course.grading.probe_wire` carries the probes there and back), and
:mod:`~relu_course.grading.preprocessors` holds the nbgrader preprocessors the course adds.
See ``docs/threat-model.md``.
"""
