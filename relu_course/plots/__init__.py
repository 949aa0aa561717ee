"""Plotting: every function returns a Matplotlib ``Figure`` and changes no global state.

One module per topic (``curves`` for notebook 01, and so on). Figures use the object API
(``fig, ax = plt.subplots()``), never ``plt.rcParams``.
"""
