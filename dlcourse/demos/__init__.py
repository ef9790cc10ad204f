"""The interactive demos lessons show as ``ipywidgets``: the triage quiz (lesson 01), the neuron
explorer (lesson 02), the learning-rate explorer (lesson 03) in :mod:`~dlcourse.demos.widgets`, and the
overfitting explorer (lesson 08) in :mod:`~dlcourse.demos.overfit_explorer`. Each demo keeps the result
of its last update as plain values, so tests and notebooks can check what it shows.
"""
