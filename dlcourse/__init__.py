"""dlcourse: the helper package of a Jupyter-first deep learning course.

Each module carries one concept that a lesson built, so later lessons reuse it:

- :mod:`dlcourse.device`   -- pick ``cuda``, then ``mps``, then ``cpu`` (never assumes a GPU)
- :mod:`dlcourse.seeding`  -- one call for reproducible results (Python, NumPy, torch, threads)
- :mod:`dlcourse.paths`    -- where the course and its data live
- :mod:`dlcourse.datasets` -- which data sets the course uses and whether they are available
- :mod:`dlcourse.plotting` -- one consistent, colour-blind-safe plotting style
- :mod:`dlcourse.progress` -- progress bars that are widgets in JupyterLab and text in logs
- :mod:`dlcourse.colab`    -- detecting Google Colab
- :mod:`dlcourse.doctor`   -- the environment report (``python -m dlcourse doctor``)

Heavy modules (torch) are imported by the submodules that need them, not here.
"""

__version__ = "0.1.0"
