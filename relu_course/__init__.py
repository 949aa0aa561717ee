"""relu_course: maths, diagnostics, plots, checks and grading tools for the ReLU course.

Layers, bottom to top (no module imports from a layer above it):

* ``activations``, ``data``: pure NumPy/scikit-learn references and offline data.
* ``runtime``, ``ledger``: seeding, quiet TensorFlow set-up, device report, claims ledger.
* ``models``, ``probes``: thin Keras/TensorFlow adapters (MLP builder, per-layer probes).
* ``plots``: functions that return Matplotlib figures.
* ``checks``: learner self-checks (``relu_course.checks.check_<exercise>``).
* ``course``, ``release``, ``grading``, ``cli``: the nbgrader course, grading, command line.

Importing this package imports nothing heavy: TensorFlow loads only when a module that
needs it is used.
"""

__version__ = "0.1.0"
