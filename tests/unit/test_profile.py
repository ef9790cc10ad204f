"""The run profile: chosen by argument, then $DLCOURSE_PROFILE, then the device; sizes and precision
follow it; full-tiny runs the full profile's choices at capped sizes; bad names are clear errors."""

from __future__ import annotations

import pytest
import torch

from dlcourse.env import device as dev
from dlcourse.env.profile import PROFILE_ENV, TINY_LIMITS, run_profile
from tests.unit.fake_gpu import pretend_gpu

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(autouse=True)
def no_profile_variable(monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)


def test_automatic_choice_follows_the_device(monkeypatch):
    pretend_gpu(monkeypatch, "Tesla T4")
    assert run_profile(device=CPU).name == "quick"
    gpu = run_profile(device=CUDA)
    assert gpu.name == "full" and gpu.full and not gpu.tiny
    assert gpu.precision == torch.float16  # an older GPU: float16 (with a scaler in fit)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert run_profile().device == CPU  # the default device is get_device()'s


def test_argument_beats_variable_beats_device(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "full")
    assert run_profile(device=CPU).name == "full"
    assert run_profile("quick", device=CUDA).name == "quick"


def test_settings_pick_the_profiles_column():
    choices = dict(data=("subset", "full"), epochs=(12, 10), examples=(6000, 60000), width=(16, 32))
    quick = run_profile("quick", device=CPU).settings(**choices)
    full = run_profile("full", device=CPU).settings(**choices)
    assert dict(quick) == dict(data="subset", epochs=12, examples=6000, width=16)
    assert (full.data, full.epochs, full.examples, full.width) == ("full", 10, 60000, 32)
    assert run_profile("quick", device=CPU).precision is None
    assert run_profile("full", device=CPU).precision == torch.bfloat16


def test_full_tiny_takes_full_choices_at_capped_sizes():
    tiny = run_profile("full-tiny", device=CPU)
    assert tiny.full and tiny.tiny and tiny.precision == torch.bfloat16
    s = tiny.settings(data=("subset", "full"), epochs=(12, 10), steps=(800, 3000), examples=(10, 60000),
                      seeds=(3, 5), width=(16, 32), judge_epochs=(20, 8), trick_steps=(1500, 3000),
                      stepsize=(7, 9), batch_size=(64, 256), eval_batch_size=(8, 512))
    assert s.data == "full" and s.width == 32  # not a size: the full profile's choice
    assert (s.epochs, s.steps, s.seeds) == (TINY_LIMITS["epochs"], TINY_LIMITS["steps"], TINY_LIMITS["seeds"])
    assert s.examples == TINY_LIMITS["examples"]
    assert (s.judge_epochs, s.trick_steps) == (TINY_LIMITS["epochs"], TINY_LIMITS["steps"])
    assert s.stepsize == 9  # a name that only begins like a size is not one
    assert (s.batch_size, s.eval_batch_size) == (TINY_LIMITS["batch_size"], TINY_LIMITS["batch_size"])
    assert tiny.pick(quick=1, full=2) == 2


def test_the_table_shows_both_columns_and_how_to_switch():
    text = str(run_profile("quick", device=CPU).settings(data=("subset", "full"), epochs=(12, 10)))
    lines = text.splitlines()
    assert lines[0] == "run profile: quick on cpu"
    assert lines[1].split() == ["setting", "quick", "full"]
    assert lines[2].split() == ["data", "subset", "full"] and lines[3].split() == ["epochs", "12", "10"]
    assert "DLCOURSE_PROFILE=full" in lines[-1]
    assert "precision" not in text  # a lesson that does not train in mixed precision does not show it
    mixed = str(run_profile("full-tiny", device=CPU).settings(mixed_precision=True)).splitlines()
    assert mixed[0] == "run profile: full (tiny sizes) on cpu, precision bfloat16 autocast"
    assert mixed[2].split()[:3] == ["precision", "float32", "16-bit"]


def test_bad_names_and_settings_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"run profile 'fast' \(from run_profile\(\)\): use one of quick"):
        run_profile("fast", device=CPU)
    monkeypatch.setenv(PROFILE_ENV, "FULL")
    with pytest.raises(ValueError, match=r"from \$DLCOURSE_PROFILE"):
        run_profile(device=CPU)
    profile = run_profile("quick", device=CPU)
    with pytest.raises(ValueError, match=r"setting 'epochs' must be a \(quick, full\) pair"):
        profile.settings(epochs=12)
    with pytest.raises(AttributeError, match=r"no setting 'epoch'; this lesson's settings are \['epochs'\]"):
        _ = profile.settings(epochs=(1, 2)).epoch
