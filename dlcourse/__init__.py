"""dlcourse: the helper package of a Jupyter-first deep learning course.

Each module carries one concept that a lesson built, so later lessons reuse it.

Course infrastructure
- :mod:`dlcourse.device`   -- pick ``cuda``, then ``mps``, then ``cpu`` (never assumes a GPU)
- :mod:`dlcourse.seeding`  -- one call for reproducible results (Python, NumPy, torch, threads)
- :mod:`dlcourse.plotting` -- one consistent, colour-blind-safe plotting style; figure checks
- :mod:`dlcourse.progress` -- progress bars that are widgets in JupyterLab and text in logs
- :mod:`dlcourse.widgets`  -- the interactive demos (triage quiz, neuron and learning-rate explorers)
- :mod:`dlcourse.checks`   -- instant feedback for exercises (``with checking(...) as check``)
- :mod:`dlcourse.colab`, :mod:`dlcourse.doctor`, :mod:`dlcourse.cli` -- Colab detection, the
  environment report, ``python -m dlcourse doctor|fetch``

Data
- :mod:`dlcourse.paths`, :mod:`dlcourse.datasets` -- where data lives; which data sets are available
- :mod:`dlcourse.fetch`    -- sha256-verified, atomic downloads into the cache
- :mod:`dlcourse.fashion_mnist`, :mod:`dlcourse.reviews`, :mod:`dlcourse.sequence_data` -- loaders

Part I, the NumPy network (lessons 02-05)
- :mod:`dlcourse.activations`, :mod:`dlcourse.losses`, :mod:`dlcourse.init`,
  :mod:`dlcourse.layers`, :mod:`dlcourse.optimizers`, :mod:`dlcourse.gradcheck`,
  :mod:`dlcourse.numpy_training`

Part II and later (lessons 06-11)
- :mod:`dlcourse.training` -- the PyTorch training loop (checkpoints, early stopping, AMP)
- :mod:`dlcourse.rnn_numpy` -- a vanilla RNN with backpropagation through time
- :mod:`dlcourse.gan`      -- the GAN lesson's data, metrics and outer loop

Heavy modules (torch) are imported by the submodules that need them, not here.
"""

__version__ = "0.1.0"
