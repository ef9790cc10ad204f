"""The interactive demos lessons show as ``ipywidgets``, one module per demo on a shared base
(:mod:`~dlcourse.demos.base`: the live widget in Jupyter, a deterministic text everywhere else): the
triage quiz (lesson 01, :mod:`~dlcourse.demos.triage_quiz`), the neuron explorer (lesson 02,
:mod:`~dlcourse.demos.neuron_explorer`), the learning-rate explorer (lesson 03,
:mod:`~dlcourse.demos.learning_rate_explorer`) and the overfitting explorer (lesson 08,
:mod:`~dlcourse.demos.overfit_explorer`). Each demo keeps the result of its last update as plain
values, so tests and notebooks can check what it shows. What a demo trains lives elsewhere (the
overfitting explorer's networks in :mod:`dlcourse.pytorch.small_mlp`).
"""
