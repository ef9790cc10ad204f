"""The neural network built from scratch in NumPy (Part I, lessons 02-05, and the NumPy halves of
lessons 08-10 and 13): activations, losses, weight initialisation, layers with forward and backward passes,
optimisers, finite-difference gradient checks, the mini-batch training loop
(:mod:`~dlcourse.numpy_nn.training`), dropout and the L2 penalty, convolution and pooling
(:mod:`~dlcourse.numpy_nn.conv`) and a recurrent layer with backpropagation through time
(:mod:`~dlcourse.numpy_nn.rnn`), and scaled dot-product and multi-head attention with their
backward passes (:mod:`~dlcourse.numpy_nn.attention`); and lesson 05b's automatic differentiation
on scalars, a ``Value`` with ``backward()`` (:mod:`~dlcourse.numpy_nn.scalar_autograd`, on plain
Python floats). NumPy only: nothing here imports torch, so lessons can prove the PyTorch versions
equal to these.
"""
