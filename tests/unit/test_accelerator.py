"""The GPU-only calls lessons make, run here with a faked CUDA device: each calls the right torch
function on CUDA and does nothing (or returns None) elsewhere. Mixed precision and TF32 follow the
compute capability of a pretend GPU (tests/unit/fake_gpu.py) through torch's own checks."""

from __future__ import annotations

import pytest
import torch

from dlcourse.env import accelerator as acc
from dlcourse.env import gpu_memory as mem
from dlcourse.env.device import describe_device
from dlcourse.env.profile import run_profile
from dlcourse.pytorch.training import fit, load_checkpoint
from tests.unit.fake_gpu import pretend_gpu

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


@pytest.fixture
def fake_cuda(monkeypatch):
    """Record every CUDA call instead of making it."""
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("sync", device)))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: calls.append(("reset", device)))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 3 * 2**20 + 2**19)
    return calls


def test_cuda_calls_go_to_torch_cuda(fake_cuda):
    acc.synchronize(CUDA)
    mem.reset_peak_memory("cuda")
    assert fake_cuda == [("sync", CUDA), ("reset", torch.device("cuda"))]
    assert mem.peak_memory_mib(CUDA) == pytest.approx(3.5)


def test_cpu_calls_do_nothing(fake_cuda):
    acc.synchronize(CPU)
    mem.reset_peak_memory(CPU)
    assert fake_cuda == []
    assert mem.peak_memory_mib(CPU) is None
    assert mem.peak_memory_mib("mps") is None


def test_seconds_per_call_waits_for_the_device_around_the_clock(fake_cuda):
    ran = []
    seconds = acc.seconds_per_call(lambda: ran.append(len(fake_cuda)), CUDA, repeats=3)
    # a warm-up, a synchronisation, three timed calls, a synchronisation
    assert ran == [0, 1, 1, 1] and len(fake_cuda) == 2
    assert seconds >= 0
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        acc.seconds_per_call(lambda: None, CPU, repeats=0)


@pytest.mark.parametrize(("gpu", "expected"), [("Tesla T4", torch.float16),
                                             ("NVIDIA A100-SXM4-40GB", torch.bfloat16),
                                             ("NVIDIA H100 80GB HBM3", torch.bfloat16)])
def test_mixed_precision_is_bfloat16_only_where_the_gpu_has_it_natively(monkeypatch, gpu, expected):
    props = pretend_gpu(monkeypatch, gpu)
    assert describe_device(CUDA).name == gpu
    assert torch.cuda.get_device_capability() == (props.major, props.minor)
    # torch's default check counts the T4's emulated bfloat16 as supported: the trap avoided
    assert torch.cuda.is_bf16_supported()
    assert torch.cuda.is_bf16_supported(including_emulation=False) == (props.major >= 8)
    assert acc.mixed_precision_dtype(CUDA) == expected
    assert acc.needs_grad_scaler(expected) == (expected == torch.float16)
    assert acc.tf32_supported(CUDA) == (props.major >= 8) and not acc.tf32_supported(CPU)


@pytest.mark.parametrize(("gpu", "expected"), [("Tesla T4", torch.float16),
                                             ("NVIDIA A100-SXM4-40GB", torch.bfloat16)])
def test_an_older_pytorch_without_the_emulation_switch_still_picks_by_capability(monkeypatch, gpu, expected):
    """pyproject.toml admits PyTorch releases whose checks take no arguments and that have no
    is_tf32_supported: the pretend GPU's capability decides there too."""
    props = pretend_gpu(monkeypatch, gpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # the old signature
    monkeypatch.delattr(torch.cuda, "is_tf32_supported")
    assert acc.mixed_precision_dtype(CUDA) == expected
    assert acc.tf32_supported(CUDA) == (props.major >= 8) and not acc.tf32_supported(CPU)


def test_use_tf32_on_an_older_pytorch_sets_and_restores_the_allow_tf32_flags(monkeypatch):
    """Where ``fp32_precision`` does not exist yet, the allow_tf32 flags are the switches."""
    from types import SimpleNamespace

    matmul, cudnn = SimpleNamespace(allow_tf32=False), SimpleNamespace(allow_tf32=True)
    monkeypatch.setattr(torch.backends.cuda, "matmul", matmul)
    monkeypatch.setattr(torch.backends, "cudnn", cudnn)
    assert not acc.tf32_enabled()
    with acc.use_tf32():
        assert acc.tf32_enabled() and matmul.allow_tf32 and cudnn.allow_tf32
    with acc.use_tf32(False):
        assert not acc.tf32_enabled() and not cudnn.allow_tf32
    assert (matmul.allow_tf32, cudnn.allow_tf32) == (False, True)


def test_a_t4_trains_the_full_profile_in_float16_with_a_gradient_scaler(monkeypatch, tmp_path):
    pretend_gpu(monkeypatch, "Tesla T4")
    profile = run_profile(device=CUDA)  # no $DLCOURSE_PROFILE: a CUDA device chooses full
    assert profile.full and profile.precision == torch.float16
    assert "precision float16 autocast" in str(profile.settings(mixed_precision=True, epochs=(1, 2)))
    assert torch.amp.GradScaler("cuda", enabled=acc.needs_grad_scaler(profile.precision)).is_enabled()
    # fit's float16 path, the T4's, run on the CPU: it scales the loss and keeps the scale
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(3)]
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), batches, epochs=1, amp=profile.precision,
        checkpoint=tmp_path / "run.pt", verbose=False, progress_bar=False)
    assert load_checkpoint(tmp_path / "run.pt")["scaler"]["scale"] == 2.0**16  # GradScaler's initial scale


@pytest.mark.parametrize(("gpu", "line"), [
    ("Tesla T4", "float16 autocast with a gradient scaler; TF32 tensor cores: no"),
    ("NVIDIA H100 80GB HBM3", "bfloat16 autocast; TF32 tensor cores: yes")])
def test_the_gpu_check_report_says_which_precision_the_full_profile_used(monkeypatch, gpu, line):
    from tools.gpu_check import machine

    pretend_gpu(monkeypatch, gpu)
    assert f"- the full profile's mixed precision: {line}" in machine().splitlines()


def test_mixed_precision_elsewhere():
    assert acc.mixed_precision_dtype(CPU) == torch.bfloat16
    assert acc.mixed_precision_dtype("mps") is None
    assert not acc.needs_grad_scaler(None)


def test_out_of_memory_is_recognised():
    assert mem.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert mem.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not mem.is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not mem.is_out_of_memory(ValueError("out of memory"))


def test_use_tf32_sets_the_current_api_and_restores_the_defaults_exactly():
    switches = (torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn)
    before = [sw.fp32_precision for sw in switches]
    assert not acc.tf32_enabled()  # PyTorch's default: no TF32 for float32 matrix products
    with acc.use_tf32():
        assert acc.tf32_enabled() and [sw.fp32_precision for sw in switches] == ["tf32"] * 3
    with acc.use_tf32(False):
        assert not acc.tf32_enabled() and [sw.fp32_precision for sw in switches] == ["ieee"] * 3
    assert [sw.fp32_precision for sw in switches] == before
    # exactly restored, the legacy readers (torch.compile's still ask them) do not raise
    assert torch.get_float32_matmul_precision() == "highest" and torch.backends.cudnn.allow_tf32
    with pytest.raises(KeyError, match="restored on an error too"), acc.use_tf32():
        raise KeyError("restored on an error too")
    assert [sw.fp32_precision for sw in switches] == before


def test_format_mib():
    assert mem.format_mib(12.5) == "12.50 MiB"
    assert mem.format_mib(None) == "n/a (no CUDA GPU)"


# --- activation memory, counted by hand ----------------------------------------------------------

def _mlp_loss(batch, n_in=20, hidden=30, classes=5):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, classes))
    x, y = torch.randn(batch, n_in), torch.randint(0, classes, (batch,))
    return model, lambda: torch.nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_saved_tensor_memory_matches_a_hand_count_of_the_activations(batch):
    model, loss = _mlp_loss(batch)
    with mem.SavedTensorMemory(exclude=model.parameters()) as saved:
        loss()
    # the input (B, 20) for the first layer's weight gradient; the ReLU's output (B, 30), which is
    # also the second layer's input, counted once; log-softmax's output (B, 5); the int64 targets
    # (B,); the loss's total weight, one float32
    assert saved.nbytes == 4 * batch * (20 + 30 + 5) + 8 * batch + 4
    assert saved.count == 5
    assert saved.mib == pytest.approx(saved.nbytes / 2**20)


def test_saved_tensor_memory_counts_parameters_unless_excluded_and_nothing_without_a_graph():
    model, loss = _mlp_loss(4)
    with mem.SavedTensorMemory() as with_params:
        loss()
    # the second layer saves its weight (5, 30) for the input's gradient
    assert with_params.nbytes == 4 * 4 * (20 + 30 + 5) + 8 * 4 + 4 + 4 * 5 * 30
    with torch.no_grad(), mem.SavedTensorMemory() as inference:
        loss()
    assert inference.nbytes == 0 and inference.count == 0


def test_saved_tensor_memory_counts_a_shared_storage_once():
    x = torch.ones(10, 10, requires_grad=True)
    base = torch.sigmoid(x)                       # not counted: outside the block
    with mem.SavedTensorMemory() as saved:
        (base[:5] * base[5:]).sum()               # two views of one storage, each saved by mul
    assert saved.count == 1 and saved.nbytes == 4 * 100


def test_a_memory_limit_raises_the_gpus_error_at_the_save_that_goes_past_it():
    model, loss = _mlp_loss(1000)   # the input alone is 80,000 bytes
    message = r"pretend GPU with 0\.05 MiB free .*Use a smaller batch"
    with pytest.raises(torch.OutOfMemoryError, match=message) as err:
        with mem.SavedTensorMemory(limit_mib=0.05):
            loss()
    assert mem.is_out_of_memory(err.value)
    with mem.SavedTensorMemory(model.parameters(), limit_mib=1.0) as saved:   # 4 * 1000 * 55 + 8004 bytes fit
        loss()
    assert saved.nbytes == 228_004
    with pytest.raises(ValueError, match="limit_mib must be positive"):
        mem.SavedTensorMemory(limit_mib=0)


# --- halving the batch on an out-of-memory error ------------------------------------------------

def _step_fitting(largest, log):
    def step(batch_size):
        log.append(batch_size)
        if batch_size > largest:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch_size} MiB")
    return step


def test_fit_batch_size_halves_until_the_step_fits_and_frees_the_cache_between_tries(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: fake_cuda.append(("empty",)))
    ran = []
    size, tries = mem.fit_batch_size(_step_fitting(300, ran), 1024, CUDA)
    assert size == 256 and ran == [1024, 512, 256]
    assert tries == [(1024, "CUDA out of memory. Tried to allocate 1024 MiB"),
                     (512, "CUDA out of memory. Tried to allocate 512 MiB"), (256, "ok")]
    assert fake_cuda == [("empty",), ("empty",)]


def test_fit_batch_size_on_a_cpu_and_with_a_pretend_card():
    assert mem.fit_batch_size(_step_fitting(64, []), 64, CPU) == (64, [(64, "ok")])
    model, _ = _mlp_loss(1)

    def step(batch_size):
        with mem.SavedTensorMemory(exclude=model.parameters(), limit_mib=0.5):
            model(torch.randn(batch_size, 20)).sum().backward()
    # saved per example: the input (20) and the ReLU's output (30), float32: 200 bytes
    assert mem.fit_batch_size(step, 8192, CPU)[0] == 2048   # 409,600 bytes < 0.5 MiB < 819,200


def test_fit_batch_size_gives_up_below_the_minimum_and_reraises_other_errors():
    ran = []
    with pytest.raises(torch.OutOfMemoryError, match="even batch size 4 does not fit: CUDA out of memory"):
        mem.fit_batch_size(_step_fitting(2, ran), 16, CPU, min_batch_size=3)
    assert ran == [16, 8, 4]

    def broken(batch_size):
        ran.append(batch_size)
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    ran.clear()
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        mem.fit_batch_size(broken, 16, CPU)
    assert ran == [16]
    with pytest.raises(ValueError, match="min_batch_size <= batch_size"):
        mem.fit_batch_size(broken, 4, CPU, min_batch_size=8)


# --- pinned memory, TF32, torch.compile ------------------------------------------------------------

def test_pin_memory_pins_only_where_a_cuda_gpu_exists(monkeypatch):
    t = torch.arange(4.0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not acc.can_pin_memory() and acc.pin_memory(t) is t
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: ("pinned", self))
    assert acc.can_pin_memory() and acc.pin_memory(t) == ("pinned", t)


def test_round_to_tf32_keeps_ten_mantissa_bits_rounding_to_nearest_even():
    ulp = 2.0**-10  # TF32's spacing between 1 and 2
    x = torch.tensor([1.0, 1 + ulp, 1 + ulp / 2, 1 + 1.5 * ulp, 1 + 0.7 * ulp, -(1 + 0.7 * ulp), 3.0e-3, 0.0])
    expected = [1.0, 1 + ulp, 1.0, 1 + 2 * ulp, 1 + ulp, -(1 + ulp)]
    got = acc.round_to_tf32(x)
    assert got[:6].tolist() == expected and got[7].item() == 0.0
    assert got.dtype == torch.float32
    y = torch.randn(1000, dtype=torch.float32) * 1e3
    r = acc.round_to_tf32(y)
    rel = ((r.double() - y.double()).abs() / y.double().abs()).max().item()
    assert 2.0**-13 < rel <= 2.0**-11                   # half of TF32's relative spacing
    assert (acc.round_to_tf32(r) == r).all()            # already representable: unchanged
    assert acc.round_to_tf32(y.reshape(10, 100).T).shape == (100, 10)
    with pytest.raises(TypeError, match="takes float32, got torch.float64"):
        acc.round_to_tf32(y.double())


def test_round_to_tf32_agrees_with_rounding_the_mantissa_in_float64():
    # an independent rounding: split x = m * 2**e with 0.5 <= |m| < 1, keep 11 significant bits
    # (TF32's 10 stored and the implicit one) by rounding m * 2**11 half to even
    g = torch.Generator().manual_seed(1)
    x = torch.randn(10_000, generator=g) * 10.0 ** torch.randint(-3, 4, (10_000,), generator=g)
    mantissa, exponent = torch.frexp(x.double())
    expected = torch.ldexp(torch.round(mantissa * 2**11), exponent - 11)  # torch.round: half to even
    assert torch.equal(acc.round_to_tf32(x).double(), expected)


def test_a_new_shape_compiles_once_more_then_one_dynamic_graph_serves_every_size():
    # lesson 06's count, by torch's own compile counter: lengths 1000, 2000, 3000, 4000
    from torch._dynamo.testing import CompileCounter

    def gelu_tanh(x):
        return 0.5 * x * (1 + torch.tanh(0.7978845608 * (x + 0.044715 * x**3)))
    counts = {}
    for dynamic in (None, False):  # None: automatic dynamic shapes, the default
        torch._dynamo.reset()
        counter = CompileCounter()
        compiled = torch.compile(gelu_tanh, backend=counter, dynamic=dynamic)
        for n in (1000, 2000, 3000, 4000):
            assert torch.allclose(compiled(x := torch.randn(n)), gelu_tanh(x))
        counts[dynamic] = counter.frame_count
    torch._dynamo.reset()
    assert counts == {None: 2, False: 4}


def test_compile_backend_is_inductor_on_cuda_only_unless_overridden(monkeypatch):
    monkeypatch.delenv(acc.COMPILE_BACKEND_ENV, raising=False)
    assert acc.compile_backend(CUDA) == "inductor"
    assert acc.compile_backend("cpu") == "eager"
    monkeypatch.setenv(acc.COMPILE_BACKEND_ENV, "aot_eager")
    assert acc.compile_backend(CUDA) == "aot_eager"
