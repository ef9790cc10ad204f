"""seed_everything makes Python, NumPy and torch repeat themselves, and fixes the thread count."""

import random

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from dlcourse.env.seeding import DEFAULT_SEED, as_generator, rng_state, seed_everything, set_rng_state


def draws(rng):
    legacy = np.random.rand()  # noqa: NPY002 -- the legacy global generator must be seeded too
    return (random.random(), legacy, rng.normal(), torch.rand(3).tolist())


def test_same_seed_same_numbers_different_seed_different_numbers():
    first = draws(seed_everything(7))
    again = draws(seed_everything(7))
    other = draws(seed_everything(8))
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_threads_are_fixed():
    seed_everything(0, threads=1)
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    seed_everything(0, threads=2)
    assert torch.get_num_threads() == 2
    seed_everything(0, threads=1)


def test_thread_count_comes_from_the_environment_by_default(monkeypatch):
    monkeypatch.setenv("DLCOURSE_THREADS", "2")
    seed_everything(0)
    assert torch.get_num_threads() == 2
    monkeypatch.delenv("DLCOURSE_THREADS")
    seed_everything(0)
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("DLCOURSE_THREADS", "two")
    with pytest.raises(ValueError, match="DLCOURSE_THREADS must be a whole number"):
        seed_everything(0)


def test_deterministic_algorithms_requested():
    seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(seed)


def test_bad_thread_count_is_rejected():
    with pytest.raises(ValueError, match="threads must be at least 1"):
        seed_everything(0, threads=0)


def test_rng_state_round_trip_replays_every_generator():
    seed_everything(3)
    saved = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    seed_everything(4)  # move every generator somewhere else
    set_rng_state(saved)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first  # noqa: NPY002


class OnAnotherDevice:
    """Stands for a state tensor that ``torch.load(map_location="cuda")`` put on a GPU: torch's
    setters reject it; only its ``.cpu()`` copy is a CPU byte tensor."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self._tensor = tensor

    def cpu(self) -> torch.Tensor:
        return self._tensor


def test_rng_state_loaded_onto_a_gpu_is_restored(monkeypatch):
    # A checkpoint resumed on a GPU loads every tensor there, the generator states too.
    seed_everything(3)
    saved = rng_state()
    expected = torch.rand(3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.extend(states))
    gpu_state = {**saved, "torch": OnAnotherDevice(saved["torch"]),
                 "cuda": [OnAnotherDevice(torch.tensor([1, 2], dtype=torch.uint8))]}
    set_rng_state(gpu_state)
    assert torch.equal(torch.rand(3), expected)
    assert [t.tolist() for t in restored] == [[1, 2]]


def test_as_generator_is_the_one_seeded_default():
    assert as_generator().random(3).tolist() == np.random.default_rng(DEFAULT_SEED).random(3).tolist()
    assert as_generator(None).random() == as_generator(None).random(), "never unseeded"
    assert as_generator(7).random() == np.random.default_rng(7).random()
    rng = np.random.default_rng(3)
    assert as_generator(rng) is rng


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_as_generator_rejects_what_is_not_a_seed(bad):
    with pytest.raises(ValueError, match="numpy Generator, a non-negative int seed or None"):
        as_generator(bad)
