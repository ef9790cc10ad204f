"""Lesson 14's claim, checked against an independent oracle: in real gloo processes, each with its
own shard of a batch, the script's hand-written ``average_gradients`` and ``DistributedDataParallel``
both leave every rank holding the gradient that autograd computes for the whole batch in one
process. (tests/system/test_distributed.py compares whole training runs with the script's own
``--reference`` loop; here the oracle is plain autograd on the concatenated batch.)"""

from __future__ import annotations

import runpy

import pytest
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dlcourse.pytorch.launch import course_script
from dlcourse.pytorch.process_group import run_in_processes

SCRIPT = runpy.run_path(str(course_script("ddp_train.py")), run_name="ddp_train")
ARGS = SCRIPT["parse_args"](["--hidden", "16", "--seed", "3"])
#: float32 sums of 8 or 16 terms in another order differ by a few ulps (5e-8 measured); a shard's
#: own gradient and the sum over two ranks (not divided) are both off by 0.13.
TOLERANCE = 1e-6


def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random images ``(n, 1, 28, 28)`` and labels ``(n,)``."""
    gen = torch.Generator().manual_seed(n)
    return torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def whole_batch_gradients(x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The oracle: one process, autograd, the mean loss over the whole batch."""
    model, _ = SCRIPT["new_model"](ARGS, torch.device("cpu"))
    nn.functional.cross_entropy(model(x), y).backward()
    return [p.grad for p in model.parameters()]


def shard_gradients(rank: int, world_size: int, x, y, sync: str) -> list[torch.Tensor]:
    """In each process: its shard's mean loss, backward, then the gradients averaged as ``sync`` says."""
    model, _ = SCRIPT["new_model"](ARGS, torch.device("cpu"))
    net = DistributedDataParallel(model) if sync == "ddp" else model
    nn.functional.cross_entropy(net(x[rank::world_size]), y[rank::world_size]).backward()
    if sync == "manual":
        SCRIPT["average_gradients"](model, world_size)
    elif sync == "sum":  # a mistake: summed, not divided
        for param in model.parameters():
            torch.distributed.all_reduce(param.grad)
    return [p.grad for p in model.parameters()]


def largest_difference(got: list[torch.Tensor], want: list[torch.Tensor]) -> float:
    return max((g - w).abs().max().item() for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize(("sync", "world_size", "n"), [("manual", 2, 16), ("ddp", 2, 16), ("manual", 4, 8)])
def test_every_rank_holds_the_whole_batch_gradient(sync, world_size, n):
    x, y = batch(n)
    expected = whole_batch_gradients(x, y)
    for rank, got in enumerate(run_in_processes(shard_gradients, world_size, x, y, sync)):
        assert largest_difference(got, expected) < TOLERANCE, f"{sync}, rank {rank} of {world_size}"


@pytest.mark.parametrize("mistake", ["none", "sum"])
def test_gradients_not_averaged_are_far_from_the_whole_batch_gradient(mistake):
    """The tolerance is meaningful: a shard's own gradient, or the sum over ranks, is far off."""
    x, y = batch(16)
    got = run_in_processes(shard_gradients, 2, x, y, mistake)
    assert largest_difference(got[0], whole_batch_gradients(x, y)) > 1000 * TOLERANCE
