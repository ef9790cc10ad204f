"""Exercise 11's GAN: a generator that covers the modes of the ring of Gaussians.

The exercise fixes the generator, ``gan_mlp([2, 64, 64, 2])`` (noise ``(B, 2)`` to points
``(B, 2)``), and the data: :data:`N_MODES` Gaussians of standard deviation :data:`STD` on a circle
of radius :data:`RADIUS` (:func:`dlcourse.pytorch.gan.sample_ring`). The generator is measured on
noise drawn here, from a generator of its own (not the learner's): :data:`N_SAMPLES` points, scored
by :func:`dlcourse.pytorch.gan.mode_coverage`.
"""

from __future__ import annotations

import torch

from dlcourse.model_tasks.task import ModelTask, Requirement
from dlcourse.pytorch.gan import gan_mlp, mode_coverage, ring_centres

N_MODES, RADIUS, STD = 8, 2.0, 0.05
#: The modes a trained generator must cover (of :data:`N_MODES`).
MODES_TO_COVER = 6
LATENT_DIM = 2
N_SAMPLES = 2000
NOISE_SEED = 20_231


def build() -> torch.nn.Module:
    """The generator the exercise trains: ``(B, 2)`` noise to ``(B, 2)`` points."""
    return gan_mlp([LATENT_DIM, 64, 64, 2])


def measure(generator: torch.nn.Module) -> dict[str, float]:
    """Modes covered and the share of high-quality samples, on :data:`N_SAMPLES` fresh points."""
    noise = torch.randn(N_SAMPLES, LATENT_DIM, generator=torch.Generator().manual_seed(NOISE_SEED))
    generator.eval()
    with torch.no_grad():
        samples = generator(noise)
    coverage = mode_coverage(samples, ring_centres(N_MODES, RADIUS), STD)
    return {"modes covered": coverage.covered, "high-quality share": coverage.high_quality}


TASK = ModelTask(
    name="ring_gan", architecture="gan_mlp([2, 64, 64, 2])", build=build, measure=measure,
    requirements=(Requirement("modes covered", at_least=MODES_TO_COVER),
                  Requirement("high-quality share", at_least=0.5)))
