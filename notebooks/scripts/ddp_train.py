"""Lesson 14's training script: data-parallel training of a small Fashion-MNIST classifier.

``torchrun`` starts one copy of this file per process and tells each, in its environment, who it
is (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) and where to meet the others (``MASTER_ADDR``,
``MASTER_PORT``). The copies join one process group, each reads its own shard of every batch, and
they keep one model in step by averaging their gradients before every update:

    torchrun --standalone --nproc_per_node=2 scripts/ddp_train.py --sync manual --out manual.pt
    torchrun --standalone --nproc_per_node=2 scripts/ddp_train.py --sync ddp --out ddp.pt
    python scripts/ddp_train.py --reference --world 2 --out reference.pt

``--sync manual`` averages the gradients by hand with ``all_reduce`` (:func:`average_gradients`);
``--sync ddp`` wraps the model in ``DistributedDataParallel``, which does the same during
``backward()``. ``--reference`` is one ordinary process that trains on the combined batches the
``--world`` processes would see together: the run the others must equal.

The backend follows the device that ``dlcourse.env.device.get_device`` chooses (``$DLCOURSE_DEVICE``
overrides it): ``nccl`` with one GPU per process where there are at least two GPUs, else ``gloo``
on the CPU (one GPU, an Apple GPU or none); ``--reference`` runs where rank 0 would. Rank 0 alone writes the
checkpoint after every epoch; ``--resume-from`` makes every rank continue from one.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from dlcourse.data.fashion_mnist import load_fashion_mnist
from dlcourse.env.device import get_device
from dlcourse.env.seeding import seed_everything
from dlcourse.pytorch.batches import images_to_tensor
from dlcourse.pytorch.launch import LAUNCH_CLOCK_ENV, backend_for, process_device
from dlcourse.pytorch.models import mlp_classifier
from dlcourse.pytorch.training import load_checkpoint, save_checkpoint


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sync", choices=["manual", "ddp"], default="ddp", help="how gradients are averaged")
    p.add_argument("--reference", action="store_true", help="one process on the combined batches")
    p.add_argument("--world", type=int, default=2, help="with --reference: the processes to imitate")
    p.add_argument("--data", choices=["subset", "full"], default="subset", help="Fashion-MNIST size")
    p.add_argument("--examples", type=int, default=2048, help="training images used")
    p.add_argument("--batch-per-rank", type=int, default=32, help="images per process and step")
    p.add_argument("--hidden", type=int, default=64, help="hidden units of the MLP")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=None, help="rank 0 saves epoch_N.pt here after epoch N")
    p.add_argument("--resume-from", default=None, help="every rank continues from this checkpoint")
    p.add_argument("--fail-rank", type=int, default=None, help="this rank raises after its first step")
    p.add_argument("--out", default=None, help="rank 0 saves the parameters, losses and timings here")
    return p.parse_args(argv)


def average_gradients(model: nn.Module, world_size: int) -> None:
    """By hand: add up every gradient over all processes (all-reduce), then divide by their number."""
    for param in model.parameters():
        dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)  # every rank now holds the sum
        param.grad /= world_size                           # ... and now the mean


def training_data(args: argparse.Namespace, rank: int, distributed: bool) -> TensorDataset:
    """The first ``--examples`` training images ``(N, 1, 28, 28)`` and their labels ``(N,)``."""
    if distributed and rank != 0:
        dist.barrier()  # rank 0 first: it downloads the data if it is not cached yet ...
    data = load_fashion_mnist("train", size=args.data)
    if distributed and rank == 0:
        dist.barrier()  # ... then the others read the cache
    n = args.examples
    labels = torch.as_tensor(data.labels[:n], dtype=torch.int64)
    return TensorDataset(images_to_tensor(data.images[:n]), labels)


def loaders(data: TensorDataset, args: argparse.Namespace, world: int, ranks: list[int]):
    """One shard per rank: ``DistributedSampler`` deals each epoch's shuffled order out to the ranks."""
    samplers = [DistributedSampler(data, num_replicas=world, rank=r, shuffle=True, seed=args.seed,
                                   drop_last=True) for r in ranks]
    return samplers, [DataLoader(data, batch_size=args.batch_per_rank, sampler=s, drop_last=True)
                      for s in samplers]


def new_model(args: argparse.Namespace, device: torch.device):
    # The same initial weights in every process. (Not torch's deterministic mode: importing it costs
    # each process seconds, and this network's kernels give the same sums every time anyway.)
    seed_everything(args.seed, deterministic=False)
    model = mlp_classifier(hidden=(args.hidden,), dropout=0.0).to(device)
    return model, torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)


@record  # a failing rank writes its traceback where torchrun (and dlcourse's launcher) can read it
def main(argv: list[str] | None = None) -> dict | None:
    """Train; return (rank 0) or save (``--out``) the parameters, the losses and the timings."""
    args = parse_args(argv)
    distributed = not args.reference
    if distributed:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        device = process_device(get_device(), int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend_for(device), timeout=timedelta(seconds=120))
    else:
        rank, world, device = 0, args.world, process_device(get_device(), 0)  # where the ranks would run
    ready_s = time.time() - float(os.environ.get(LAUNCH_CLOCK_ENV, time.time()))

    data = training_data(args, rank, distributed)
    model, optimizer = new_model(args, device)
    start = 0
    if args.resume_from:
        state = load_checkpoint(args.resume_from, map_location=device)  # every rank reads rank 0's file
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    net = DistributedDataParallel(model) if distributed and args.sync == "ddp" else model
    samplers, shards = loaders(data, args, world, [rank] if distributed else list(range(world)))

    losses, images, train_s = [], 0, 0.0
    for epoch in range(start, args.epochs):
        for sampler in samplers:
            sampler.set_epoch(epoch)  # a new shuffle every epoch, the same one in every rank
        tic, total = time.perf_counter(), torch.zeros(2, device=device)
        for step, batches in enumerate(zip(*shards, strict=True)):
            x = torch.cat([b[0] for b in batches]).to(device)  # one shard, or all shards (--reference)
            y = torch.cat([b[1] for b in batches]).to(device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()                                    # DDP averages the gradients here
            if distributed and args.sync == "manual":
                average_gradients(model, world)
            optimizer.step()
            total += torch.stack([loss.detach() * len(y), torch.tensor(len(y), device=device)])
            if step == 0 and rank == args.fail_rank:
                raise RuntimeError(f"rank {rank} failed on purpose (--fail-rank {rank})")
        if distributed:
            dist.all_reduce(total)  # the epoch's mean loss over every rank's examples
        train_s += time.perf_counter() - tic
        images += int(total[1].item())
        losses.append(total[0].item() / total[1].item())
        if rank == 0:
            print(f"epoch {epoch + 1}: mean training loss {losses[-1]:.4f}", flush=True)
            if args.checkpoint_dir:
                save_checkpoint(os.path.join(args.checkpoint_dir, f"epoch_{epoch + 1}.pt"),
                                model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch + 1)
        if distributed:
            dist.barrier()  # nobody starts the next epoch (or resumes) before the checkpoint is written

    result = {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "losses": losses, "world": world,
              "backend": backend_for(device) if distributed else "none", "device": device.type,
              "ready_s": ready_s, "train_s": train_s, "images_per_s": images / train_s if train_s else 0.0}
    if rank == 0 and args.out:
        torch.save(result, args.out)
    if distributed:
        dist.destroy_process_group()
    return result if rank == 0 else None


if __name__ == "__main__":
    main()
