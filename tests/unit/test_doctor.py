"""The environment report: correct facts, a verdict line, and an exit status that means something."""

import subprocess
import sys
from importlib import metadata

import torch

from dlcourse import doctor
from dlcourse.env.device import DeviceInfo


def test_command_line_report_on_this_machine():
    result = subprocess.run([sys.executable, "-m", "dlcourse", "doctor"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"torch         {torch.__version__}" in out
    assert f"numpy         {metadata.version('numpy')}" in out
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"device        {expected_device}" in out
    assert "colab         no" in out
    assert "digits" in out and "bundled with scikit-learn" in out
    assert out.strip().splitlines()[-1].startswith("VERDICT: ready")


def test_missing_package_makes_the_verdict_not_ready(monkeypatch):
    real_version = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda dist: None if dist == "tqdm" else real_version(dist))
    report = doctor.collect()
    text = doctor.format_report(report)
    assert not report.ok
    assert "tqdm          MISSING" in text
    assert "problem: tqdm is not installed" in text
    assert text.splitlines()[-1].startswith("VERDICT: not ready -- 1 problem(s)")


def test_missing_package_gives_exit_status_1(monkeypatch, capsys):
    from dlcourse import cli

    monkeypatch.setattr(doctor, "_version", lambda dist: None)
    assert cli.main(["doctor"]) == 1
    assert "VERDICT: not ready" in capsys.readouterr().out


def test_gpu_name_and_memory_are_reported(monkeypatch):
    import dlcourse.env.device as device

    monkeypatch.setattr(device, "get_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(device, "describe_device",
                        lambda d: DeviceInfo("cuda", "NVIDIA H100 80GB HBM3", 79.2))
    text = doctor.format_report(doctor.collect())
    assert "device        cuda (NVIDIA H100 80GB HBM3, 79.2 GiB)" in text
    assert "No GPU found" not in text


def test_colab_is_detected(monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-20261101")
    assert doctor.collect().colab
    assert "colab         yes" in doctor.format_report(doctor.collect())


def test_unavailable_requested_device_is_a_problem_not_a_crash(monkeypatch):
    monkeypatch.setenv("DLCOURSE_DEVICE", "tpu")
    report = doctor.collect()
    assert not report.ok
    assert any("Unknown device 'tpu'" in problem for problem in report.problems)


def test_missing_data_is_noted(monkeypatch, tmp_path):
    import dlcourse.data.fashion_mnist as fashion_mnist

    monkeypatch.setattr(fashion_mnist, "fashion_mnist_search_path", lambda: [tmp_path])
    report = doctor.collect()
    assert report.datasets["fashion-mnist"] is None
    assert any("fashion-mnist" in note for note in report.notes)
