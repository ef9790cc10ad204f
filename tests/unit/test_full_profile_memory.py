"""The ``full`` run profile fits Colab's T4 (14.75 GiB as torch reports it), with room to spare.

For every lesson that reads the run profile, its full-profile sizes are read from the lesson's own
``profile.settings(...)`` call, its largest model is built at those sizes, and one training step's
memory is counted on the CPU: the activations autograd saves (``SavedTensorMemory``), in float32
and under float16 autocast (the T4's mixed precision, which adds 16-bit copies of the weights);
the parameters with their gradients and Adam's two moments (16 bytes per parameter); and the data
a lesson keeps on the GPU. Their sum must stay under a quarter of the card: the rest covers what
is not counted (the backward pass's temporary buffers, the allocator's cache, cuDNN's workspace
and the CUDA context, about half a GiB).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.env.gpu_memory import SavedTensorMemory
from dlcourse.pytorch.diffusion import Denoiser
from dlcourse.pytorch.gan import gan_mlp
from dlcourse.pytorch.gpt import GPT, GPTConfig
from dlcourse.pytorch.models import mlp_classifier, small_cnn
from dlcourse.pytorch.modern_gpt import PARTS, ModernConfig, ModernGPT
from tests.unit.fake_gpu import GPUS

ROOT = Path(__file__).resolve().parents[2]
T4_GIB = GPUS["Tesla T4"][1]  # torch.cuda.get_device_properties(0).total_memory on Colab's T4, in GiB
FASHION_MNIST_BYTES = 70_000 * 784 * 4  # every image as float32, kept on the GPU by TensorBatches
REVIEW_CHARACTERS = 110  # lesson 13's vocabulary (the reviews' distinct characters)


def full_settings(lesson: str) -> dict[str, object]:
    """The full column of the lesson's ``profile.settings(...)`` call, read from its code."""
    nb = nbformat.read(ROOT / "notebooks" / lesson, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "profile.settings(" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "settings":
                    return {kw.arg: ast.literal_eval(kw.value)[1] for kw in node.keywords
                            if kw.arg != "mixed_precision"}
    raise LookupError(f"{lesson} has no profile.settings(...) call")


#: a lesson's models, one training step's loss for a batch of the given size, its full batch size, and
#: the bytes of data it keeps on the GPU
Step = tuple[list[nn.Module], Callable[[int], torch.Tensor], int, int]


def fashion_mnist_classifier(model: nn.Module, batch: int, data_bytes: int = FASHION_MNIST_BYTES) -> Step:
    def loss(b):
        return F.cross_entropy(model(torch.rand(b, 1, 28, 28)), torch.randint(0, 10, (b,)))
    return [model], loss, batch, data_bytes


def lesson_07(s) -> Step:
    return fashion_mnist_classifier(mlp_classifier(), s["batch_size"])  # the notebook's make_model


def lesson_09(s) -> Step:
    return fashion_mnist_classifier(small_cnn(s["channels"], s["hidden"], s["dropout"]), s["batch_size"])


def lesson_11b(s) -> Step:
    latent, batch, pixels = 16, 64, 784  # the notebook's LATENT and BATCH, Fashion-MNIST's pixels
    g = gan_mlp([latent, *s["hidden"], pixels], batch_norm=True, output="tanh")
    d = gan_mlp([pixels, *s["hidden"][::-1], 1], activation="leaky_relu")

    def loss(b):  # the discriminator's loss and the generator's, as in the notebook's make_step
        fake = g(torch.randn(b, latent))
        real_logits, fake_logits = d(torch.rand(b, pixels)), d(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        fake_logits = d(fake)
        return loss_d + F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

    return [g, d], loss, batch, s["examples"] * 2 // 3 * pixels * 4  # the real pool: two thirds of the images


def lesson_11c(s) -> Step:
    # its largest model: the wide denoiser of section 5 at the full width, the notebook's T and BATCH
    steps, batch, width = 100, 256, s["wide_width"]
    model = Denoiser(2, steps, hidden=(width, width, width))

    def loss(b):  # the noise-prediction loss on noisy points and their steps
        noise = torch.randn(b, 2)
        return F.mse_loss(model(torch.randn(b, 2), torch.randint(1, steps + 1, (b,))), noise)

    return [model], loss, batch, 0  # the ring's points are drawn per batch


def lesson_13(s) -> Step:
    v, t = REVIEW_CHARACTERS, s["block_size"]
    model = GPT(GPTConfig(v, block_size=t, d_model=s["d_model"], n_heads=s["n_heads"], n_layers=s["n_layers"],
                          dropout=s["dropout"]))

    def loss(b):
        logits = model(torch.randint(0, v, (b, t)))  # (b, t, v)
        return F.cross_entropy(logits.reshape(-1, v), torch.randint(0, v, (b * t,)))
    return [model], loss, s["batch_size"], 0  # the text stays on the CPU; batches are copied


def lesson_13b(s) -> Step:
    # the largest model: the BPE model, 512 ids, with every modern part (the character models are smaller)
    v, t = 512, s["block_size"]
    cfg = ModernConfig(v, block_size=t, d_model=s["d_model"], n_heads=s["n_heads"], n_layers=s["n_layers"])
    model = ModernGPT(cfg.with_parts(*PARTS))

    def loss(b):
        logits = model(torch.randint(0, v, (b, t)))  # (b, t, v)
        return F.cross_entropy(logits.reshape(-1, v), torch.randint(0, v, (b * t,)))
    return [model], loss, s["batch_size"], 0  # the token ids stay on the CPU; batches are copied


def lesson_14(s) -> Step:
    # the DDP script's model, one process per GPU: a T4 holds one rank's batch
    model = mlp_classifier(hidden=(s["hidden"],), dropout=0.0)
    return fashion_mnist_classifier(model, s["batch_per_rank"], data_bytes=0)


LESSONS = {"07_training_in_practice.ipynb": lesson_07, "09_cnns.ipynb": lesson_09,
           "11b_gans_images.ipynb": lesson_11b, "11c_vae_and_diffusion.ipynb": lesson_11c,
           "13_attention_transformers.ipynb": lesson_13, "13b_tokens_and_modern_llms.ipynb": lesson_13b,
           "14_distributed_training.ipynb": lesson_14}


def test_every_lesson_reading_the_profile_is_measured():
    reading = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")
               if any("run_profile(" in c.source for c in nbformat.read(p, as_version=4).cells)}
    assert reading == set(LESSONS)


def saved_bytes(models: list[nn.Module], loss: Callable[[int], torch.Tensor], batch: int,
                autocast: bool) -> int:
    params = [p for m in models for p in m.parameters()]
    for m in models:
        m.train()
    with torch.autocast("cpu", dtype=torch.float16, enabled=autocast), \
            SavedTensorMemory(exclude=params) as saved:
        loss(batch)
    return saved.nbytes


def activations_at(models, loss, batch: int, autocast: bool) -> int:
    """The bytes saved at ``batch``, from steps of 2, 3 and 4 examples (a full GPT step takes half a
    minute on a CPU; batch norm needs two): every saved tensor holds one row per example, or none."""
    two, three, four = (saved_bytes(models, loss, b, autocast) for b in (2, 3, 4))
    per_example = three - two
    assert four - three == per_example, "the saved bytes are not linear in the batch size"
    return two + (batch - 2) * per_example


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_full_profile_fits_a_t4_with_room_to_spare(lesson):
    torch.manual_seed(0)
    models, loss, batch, data_bytes = LESSONS[lesson](full_settings(lesson))
    n_params = sum(p.numel() for m in models for p in m.parameters())
    activations = max(activations_at(models, loss, batch, autocast) for autocast in (False, True))
    total_gib = (activations + 16 * n_params + data_bytes) / 2**30
    print(f"{lesson}: batch {batch}, {n_params:,} parameters, activations {activations / 2**20:.1f} MiB, "
          f"data {data_bytes / 2**20:.1f} MiB, total {total_gib:.3f} GiB of the T4's {T4_GIB}")
    assert total_gib < T4_GIB / 4


def test_the_count_is_what_a_hand_count_gives_for_lesson_07_and_the_extrapolation_is_exact():
    # float32: the input (B, 784), the first ReLU's output (B, 256), dropout's mask (B, 256: float32 on
    # a CPU, one byte on CUDA) and output (B, 256), the second ReLU's output (B, 128), log-softmax's
    # output (B, 10), the int64 targets (B,) and the loss's total weight (one float32)
    models, loss, b, _ = lesson_07(full_settings("07_training_in_practice.ipynb"))
    by_hand = 4 * b * (784 + 3 * 256 + 128 + 10) + 8 * b + 4
    assert saved_bytes(models, loss, b, autocast=False) == by_hand == activations_at(models, loss, b, False)
    for lesson in ("09_cnns.ipynb", "11b_gans_images.ipynb"):  # cheap enough to count at the full batch
        models, loss, b, _ = LESSONS[lesson](full_settings(lesson))
        for autocast in (False, True):
            assert saved_bytes(models, loss, b, autocast) == activations_at(models, loss, b, autocast)
