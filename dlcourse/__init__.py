"""dlcourse: the helper package of a Jupyter-first deep learning course.

Each module carries one concept that a lesson built, so later lessons reuse it. The subpackages
follow the course (docs/architecture.md draws what depends on what):

- :mod:`dlcourse.env` -- the environment: device (``cuda`` -> ``mps`` -> ``cpu``, never assumes a GPU),
  seeding, Colab detection, progress bars, the plotting style
- :mod:`dlcourse.numpy_nn` -- Part I's network from scratch in NumPy: activations, losses, init,
  layers, optimizers, gradcheck, training, regularisation, conv, rnn
- :mod:`dlcourse.pytorch` -- Part II onward: the PyTorch training loop, the small MLP that lessons 08
  and 12 train, the GAN lesson's loop
- :mod:`dlcourse.data` -- paths, verified fetching, the registry of data sets, one loader per data set
  (fashion_mnist, reviews, compas, sequence_data)
- :mod:`dlcourse.demos` -- the interactive demos, one module per demo on a shared base: triage quiz,
  neuron, learning-rate and overfitting explorers

At the top:

- :mod:`dlcourse.checks` -- instant feedback for exercises (``with checking(...) as check``)
- :mod:`dlcourse.doctor`, :mod:`dlcourse.cli` -- the environment report, ``python -m dlcourse doctor|fetch``

Heavy modules (torch) are imported by the submodules that need them, not here.
"""

__version__ = "0.1.0"
