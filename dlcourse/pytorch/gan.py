"""Generative adversarial networks (lesson 11): toy data, small networks, a loop, honest measurements.

What lesson 11 builds and its exercise reuses:

- :func:`ring_centres` and :func:`sample_ring`: the 2-D toy distribution, a ring of Gaussians;
- :func:`mode_coverage`: how many of the ring's modes a generator's samples cover, and what
  fraction of its samples are "high quality" (near some mode);
- :func:`classifier_score`: how confidently a trained classifier recognises generated images and
  how evenly they cover its classes (with the Inception-Score-style summary of Salimans et al. 2016);
- :func:`gan_mlp`: the small fully connected generators and discriminators of the lesson;
- :func:`train_gan`: the outer loop (sample real data and noise, call *your* training step,
  take snapshots of the generator's samples) and :func:`plot_ring_snapshots` to show them.

The GAN losses and the training step itself are deliberately **not** here: the lesson writes them
out and the exercise asks you to implement them; :func:`train_gan` takes the step as an argument.

Why one module of over 300 lines: it is one lesson's toolkit in three short sections (the ring,
the classifier score, the networks and loop), each under 130 lines and each mostly docstring;
lessons 11a and 11b and the exercise import them together, and no other lesson uses any of them.
The two result classes (:class:`ModeCoverage`, :class:`ClassifierScore`) look alike because both
are frozen dataclasses with a ``__str__``, not because one copies the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from dlcourse.env.progress import progress
from dlcourse.env.seeding import as_generator

__all__ = ["ring_centres", "sample_ring", "ModeCoverage", "mode_coverage", "ClassifierScore",
           "classifier_score", "gan_mlp", "GanRun", "train_gan", "plot_ring_snapshots"]


# --------------------------------------------------------------------------------------------
# The ring of Gaussians
# --------------------------------------------------------------------------------------------

def ring_centres(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Return the centres of ``n_modes`` modes evenly spaced on a circle, shape ``(n_modes, 2)``.

    Mode ``k`` sits at angle ``2 pi k / n_modes``: ``radius * (cos, sin)`` of it.
    """
    if int(n_modes) != n_modes or n_modes < 1:
        raise ValueError(f"n_modes must be a positive integer, got {n_modes!r}.")
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius!r}.")
    angles = 2 * np.pi * np.arange(int(n_modes)) / int(n_modes)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.05,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Draw ``n`` points from a mixture of ``n_modes`` equally likely round Gaussians on a ring.

    Each point picks a mode uniformly at random and adds isotropic noise of standard deviation
    ``std`` to its centre (:func:`ring_centres`). ``rng`` draws the modes and the noise; without
    one, ``default_rng(DEFAULT_SEED)`` (:func:`dlcourse.env.seeding.as_generator`): two calls
    without ``rng`` return the same points.

    Returns:
        float32 array of shape ``(n, 2)``.
    """
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}.")
    if std < 0:
        raise ValueError(f"std must be non-negative, got {std!r}.")
    rng = as_generator(rng)
    centres = ring_centres(n_modes, radius)
    which = rng.integers(0, len(centres), size=int(n))
    return (centres[which] + std * rng.standard_normal((int(n), 2))).astype(np.float32)


@dataclass(frozen=True)
class ModeCoverage:
    """How well samples cover the modes of a mixture.

    Attributes:
        covered: the number of modes that received at least ``min_share`` of their fair share
            of samples within ``k`` standard deviations of their centre.
        n_modes: the number of modes.
        high_quality: the fraction of all samples that lie within ``k`` standard deviations of
            some mode's centre.
        counts: ``(n_modes,)`` the number of high-quality samples nearest each mode.
    """

    covered: int
    n_modes: int
    high_quality: float
    counts: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        return (f"{self.covered}/{self.n_modes} modes covered, "
                f"{self.high_quality:.1%} of samples high quality")


def mode_coverage(samples: np.ndarray | torch.Tensor, centres: np.ndarray, std: float,
                  k: float = 3.0, min_share: float = 0.2) -> ModeCoverage:
    """Count the modes that ``samples`` cover (the measure of Metz et al., 2017, made explicit).

    A sample is *high quality* when it lies within ``k * std`` of its nearest centre. A mode is
    *covered* when its high-quality samples number at least ``min_share * N / n_modes``: a
    perfect generator gives every mode ``N / n_modes`` samples, so with the default a mode needs
    a fifth of its fair share (a stray sample or two does not make a mode covered).

    Args:
        samples: ``(N, 2)`` points (NumPy or a torch tensor on any device).
        centres: ``(n_modes, 2)`` the mixture's centres, e.g. :func:`ring_centres`.
        std: the mixture's standard deviation per coordinate.
        k: how many standard deviations count as "near".
        min_share: the fraction of a fair share a mode needs to count as covered (0 < min_share <= 1).

    Returns:
        A :class:`ModeCoverage`.
    """
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    samples, centres = np.asarray(samples, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples must be (N, d) and centres (n_modes, d) with the same d; "
                         f"got {samples.shape} and {centres.shape}.")
    if len(samples) == 0 or len(centres) == 0:
        raise ValueError("need at least one sample and one centre.")
    if std <= 0 or k <= 0:
        raise ValueError(f"std and k must be positive, got std={std!r}, k={k!r}.")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must lie in (0, 1], got {min_share!r}.")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, n_modes)
    nearest = distances.argmin(axis=1)
    near = distances.min(axis=1) <= k * std
    counts = np.bincount(nearest[near], minlength=len(centres))
    needed = min_share * len(samples) / len(centres)
    return ModeCoverage(int((counts >= needed).sum()), len(centres), float(near.mean()), counts)


# --------------------------------------------------------------------------------------------
# A classifier-based score for generated images
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassifierScore:
    """What a trained classifier says about a set of (generated) images.

    Attributes:
        confidence: mean over images of the classifier's largest class probability (1: every
            image is recognised with certainty; ``1 / n_classes``: the classifier is guessing).
        class_entropy: entropy (nats) of the mean class distribution; ``log(n_classes)`` when the
            images cover the classes evenly, 0 when they all look like one class.
        kl_to_uniform: ``log(n_classes) - class_entropy``: the KL divergence from the mean class
            distribution to the uniform one (0 = perfectly even coverage).
        inception_score: ``exp(mean_i KL(p(y|x_i) || p(y)))`` (Salimans et al., 2016), between 1
            and ``n_classes``: high when images are both confidently classified and diverse.
        class_share: ``(n_classes,)`` the mean class distribution ``p(y)``.
    """

    confidence: float
    class_entropy: float
    kl_to_uniform: float
    inception_score: float
    class_share: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        return (f"confidence {self.confidence:.3f}, class entropy {self.class_entropy:.3f} nats, "
                f"KL to uniform {self.kl_to_uniform:.3f}, inception score {self.inception_score:.2f}")


def classifier_score(probs: np.ndarray | torch.Tensor, eps: float = 1e-12) -> ClassifierScore:
    """Summarise a classifier's class probabilities for a set of images.

    Args:
        probs: ``(N, n_classes)`` rows of class probabilities (each row sums to 1), e.g. the
            softmax of a trained classifier's logits on N generated images.
        eps: added inside logarithms so that zero probabilities are allowed.

    Returns:
        A :class:`ClassifierScore`.
    """
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().numpy()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probs must be (N, n_classes) with N >= 1 and n_classes >= 2, got {probs.shape}.")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row of probs must be a probability distribution (non-negative, "
                         "summing to 1): apply a softmax to logits first.")
    n_classes = probs.shape[1]
    share = probs.mean(axis=0)
    entropy = float(-(share * np.log(share + eps)).sum())
    kl_rows = (probs * (np.log(probs + eps) - np.log(share + eps))).sum(axis=1)
    return ClassifierScore(float(probs.max(axis=1).mean()), entropy,
                           float(np.log(n_classes) - entropy), float(np.exp(kl_rows.mean())), share)


# --------------------------------------------------------------------------------------------
# Networks and the outer training loop
# --------------------------------------------------------------------------------------------

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
}


def gan_mlp(sizes: Sequence[int], activation: str = "relu", batch_norm: bool = False,
            output: str | None = None) -> nn.Sequential:
    """A fully connected network for a GAN: ``Linear`` layers of the given sizes.

    ``gan_mlp([2, 64, 64, 2])`` maps ``(B, 2)`` to ``(B, 2)`` through two hidden layers of 64.
    Between layers: optionally ``BatchNorm1d`` (``batch_norm=True``, the DCGAN generator's
    stabiliser), then ``activation`` (``"relu"``, ``"leaky_relu"`` with slope 0.2, or
    ``"tanh"``). The last layer is followed by ``output``: ``None`` (raw: a discriminator's logit
    or a 2-D point) or ``"tanh"`` (an image scaled to [-1, 1]).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output size, all positive; got {sizes}.")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}.")
    if output not in (None, "tanh"):
        raise ValueError(f"output must be None or 'tanh', got {output!r}.")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(_ACTIVATIONS[activation]())
    if output == "tanh":
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


@dataclass
class GanRun:
    """What :func:`train_gan` recorded.

    Attributes:
        d_loss, g_loss: the two losses returned by the step, one entry per step.
        snapshots: ``{step: samples}``: the generator's output on the fixed noise, as a NumPy
            array ``(n_snapshot, ...)``, taken *before* that step (step 0 = untrained).
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)


def train_gan(step: Callable[[torch.Tensor, torch.Tensor], tuple[float, float]],
              generator: nn.Module, sample_real: Callable[[int], torch.Tensor], *, steps: int,
              latent_dim: int, batch_size: int = 128, snapshot_at: Sequence[int] = (),
              n_snapshot: int = 1000, device: torch.device | str = "cpu",
              desc: str = "training the GAN", progress_bar: bool = True) -> GanRun:
    """Train a GAN for ``steps`` steps with *your* training step; return the losses and snapshots.

    Each step draws a real batch ``sample_real(batch_size)`` and noise
    ``z = torch.randn(batch_size, latent_dim)`` (from torch's global generator, so
    ``seed_everything`` makes the run reproducible), moves both to ``device`` and calls
    ``step(real, z)``, which updates the discriminator and the generator and returns
    ``(d_loss, g_loss)`` as floats. The loop knows nothing about losses or optimisers.

    Snapshots: at each step number in ``snapshot_at`` (``steps`` itself allowed: after the last
    step) the generator maps a fixed noise batch of ``n_snapshot`` rows, drawn once at the start,
    in eval mode and without gradients; the result is stored in :attr:`GanRun.snapshots`.

    Args:
        step: ``step(real (B, ...), z (B, latent_dim)) -> (d_loss, g_loss)``.
        generator: maps ``(B, latent_dim)`` to samples; used here for snapshots only.
        sample_real: ``sample_real(B)`` returns a real batch ``(B, ...)`` (on any device).
        steps: the number of training steps (at least 1).
        latent_dim: the width of the noise.
        batch_size: the batch size B.
        snapshot_at: step numbers at which to keep the generator's samples.
        n_snapshot: rows of the fixed snapshot noise.
        device: where ``real`` and ``z`` are sent.
        desc, progress_bar: the progress bar's label, and whether to show it.

    Returns:
        A :class:`GanRun`.
    """
    if steps < 1 or batch_size < 1 or latent_dim < 1:
        raise ValueError(f"steps, batch_size and latent_dim must be positive; got {steps}, "
                         f"{batch_size}, {latent_dim}.")
    bad = [s for s in snapshot_at if not 0 <= s <= steps]
    if bad:
        raise ValueError(f"snapshot steps must lie in [0, {steps}], got {bad}.")
    device = torch.device(device)
    z_fixed = torch.randn(n_snapshot, latent_dim).to(device)
    run, wanted = GanRun(), set(snapshot_at)

    def snapshot(t: int) -> None:
        was_training = generator.training
        generator.eval()
        with torch.no_grad():
            run.snapshots[t] = generator(z_fixed).detach().cpu().numpy()
        generator.train(was_training)

    for t in progress(range(steps), desc=desc, disable=not progress_bar):
        if t in wanted:
            snapshot(t)
        real = sample_real(batch_size).to(device)
        z = torch.randn(batch_size, latent_dim).to(device)
        d_loss, g_loss = step(real, z)
        run.d_loss.append(float(d_loss))
        run.g_loss.append(float(g_loss))
    if steps in wanted:
        snapshot(steps)
    return run


def plot_ring_snapshots(run: GanRun, centres: np.ndarray, std: float, axes: Sequence | None = None,
                        title: str = "", limit: float = 3.0, **coverage_kwargs):
    """Scatter each snapshot of a 2-D GAN over the ring's centres, with its mode coverage.

    Args:
        run: a :class:`GanRun` whose snapshots are ``(n, 2)`` points.
        centres: ``(n_modes, 2)`` the true centres (drawn as black crosses).
        std: the ring's standard deviation (for :func:`mode_coverage`).
        axes: one matplotlib Axes per snapshot (default: a new row of subplots).
        title: put before each panel's "step t" title.
        limit: the panels show ``[-limit, limit]`` in both coordinates.
        **coverage_kwargs: passed to :func:`mode_coverage`.

    Returns:
        ``{step: ModeCoverage}`` for the snapshots, in step order.
    """
    import matplotlib.pyplot as plt

    from dlcourse.plots.style import OKABE_ITO

    steps = sorted(run.snapshots)
    if not steps:
        raise ValueError("this run has no snapshots: pass snapshot_at=... to train_gan.")
    if axes is None:
        _, axes = plt.subplots(1, len(steps), figsize=(2.3 * len(steps), 2.6), squeeze=False)
        axes = axes[0]
    if len(axes) != len(steps):
        raise ValueError(f"{len(steps)} snapshots but {len(axes)} axes.")
    result = {}
    for ax, t in zip(axes, steps, strict=True):
        x = run.snapshots[t]
        cov = mode_coverage(x, centres, std, **coverage_kwargs)
        result[t] = cov
        ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, color=OKABE_ITO[0], label="generated")
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=30, color=OKABE_ITO[7], label="mode centre")
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal",
               title=f"{title}step {t}\n{cov.covered}/{cov.n_modes} modes",
               xlabel="x₁ (unitless)", ylabel="x₂ (unitless)")
    return result
