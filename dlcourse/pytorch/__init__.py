"""The PyTorch side of the course (Part II onward): the training loop that lesson 07 builds and later
lessons reuse (:mod:`~dlcourse.pytorch.training`: ``fit``, histories, checkpoints, early stopping,
mixed precision), the small MLP on a task that overfits in a second, which lessons 08 and 12 train
(:mod:`~dlcourse.pytorch.small_mlp`), and the GAN lesson's data, networks, loop and measurements
(:mod:`~dlcourse.pytorch.gan`), lesson 09b's residual networks (:mod:`~dlcourse.pytorch.residual`), data
augmentation on tensor batches (:mod:`~dlcourse.pytorch.augment`) and learning-rate range test
(:mod:`~dlcourse.pytorch.lr_range`), lesson 09c's transfer-learning experiment
(:mod:`~dlcourse.pytorch.transfer`), lesson 13's small GPT (:mod:`~dlcourse.pytorch.gpt`), its
character-level training and recurrent baseline (:mod:`~dlcourse.pytorch.char_lm`) and n-gram
baselines (:mod:`~dlcourse.pytorch.ngram`), and lesson 14's launcher of ``torchrun`` jobs from a
notebook (:mod:`~dlcourse.pytorch.launch`), with the forked ``gloo`` processes of its exercise
(:mod:`~dlcourse.pytorch.process_group`), and a look inside a learned embedding: cosine similarities,
nearest neighbours, a 2-D projection (:mod:`~dlcourse.pytorch.embeddings`, lesson 10a). These modules
import torch; import them where a lesson needs them.
"""
