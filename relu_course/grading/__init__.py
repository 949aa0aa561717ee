"""Grading tools (top layer): ``relu-course check`` for learners, ``relu-course grade`` for
instructors (nbgrader plus an out-of-kernel re-verification of every awarded exercise).

Modules: :mod:`~relu_course.grading.cells` reads grade cells and outcomes from notebooks,
:mod:`~relu_course.grading.check` runs a learner's notebooks, :mod:`~relu_course.grading.grade`
wraps nbgrader, :mod:`~relu_course.grading.verify` re-checks answers in a clean process, and
:mod:`~relu_course.grading.preprocessors` holds the nbgrader preprocessor the course adds.
"""
