"""The training loop of lesson 07: resuming gives the same result as not stopping, early
stopping stops and restores the best weights, evaluation matches a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from dlcourse.data.fashion_mnist import load_fashion_mnist
from dlcourse.env.seeding import seed_everything
from dlcourse.pytorch.training import (
    ArrayDataset,
    EarlyStopping,
    History,
    LivePlot,
    StopTraining,
    TensorBatches,
    evaluate,
    fit,
    images_to_tensor,
    load_checkpoint,
    plot_history,
    save_checkpoint,
)


class Interrupted(Exception):
    """Stands for a Colab disconnect in the middle of a run."""


@pytest.fixture(scope="module")
def data():
    train = load_fashion_mnist("train")
    return train.images[:1200], train.labels[:1200], train.images[5000:5400], train.labels[5000:5400]


def make(seed: int = 0):
    seed_everything(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def loaders(data, kind: str):
    x, y, xv, yv = data
    if kind == "dataloader":  # shuffling draws from torch's global generator
        return DataLoader(ArrayDataset(x, y), batch_size=100, shuffle=True), \
            DataLoader(ArrayDataset(xv, yv), batch_size=200)
    xt, yt = images_to_tensor(x), torch.as_tensor(y, dtype=torch.int64)
    xvt, yvt = images_to_tensor(xv), torch.as_tensor(yv, dtype=torch.int64)
    return TensorBatches(xt, yt, 100, shuffle=True), TensorBatches(xvt, yvt, 200)


def without_times(history: History) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.records]


@pytest.mark.parametrize("kind", ["dataloader", "tensors"])
def test_resume_after_interruption_equals_an_uninterrupted_run(data, kind, tmp_path):
    train, val = loaders(data, kind)
    model, opt, sched = make()
    straight = fit(model, opt, train, val, epochs=5, scheduler=sched, verbose=False, progress_bar=False)
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    ckpt = tmp_path / "run.pt"

    def disconnect_after_3(history, model):
        if len(history) == 3:
            raise Interrupted("the connection dropped after epoch 3")

    model, opt, sched = make()
    with pytest.raises(Interrupted, match="dropped after epoch 3"):
        fit(model, opt, train, val, epochs=5, scheduler=sched, checkpoint=ckpt,
            callbacks=[disconnect_after_3], verbose=False, progress_bar=False)
    # a fresh kernel: new objects, other initial weights, generators in another state
    model, opt, sched = make(seed=99)
    resumed = fit(model, opt, train, val, epochs=5, scheduler=sched, checkpoint=ckpt,
                  verbose=False, progress_bar=False)
    assert len(resumed) == 5
    assert without_times(resumed) == without_times(straight)
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert opt.param_groups[0]["lr"] == pytest.approx(3e-3 * 0.5 ** 2)


def test_checkpoint_of_a_finished_run_trains_no_more(data, tmp_path):
    train, val = loaders(data, "tensors")
    model, opt, _ = make()
    fit(model, opt, train, val, epochs=2, checkpoint=tmp_path / "c.pt", verbose=False, progress_bar=False)
    before = [p.clone() for p in model.parameters()]
    model2, opt2, _ = make(seed=5)
    history = fit(model2, opt2, train, val, epochs=2, checkpoint=tmp_path / "c.pt",
                  verbose=False, progress_bar=False)
    assert len(history) == 2
    assert all(torch.equal(a, b) for a, b in zip(before, model2.parameters(), strict=True))


def test_resume_false_starts_over(data, tmp_path):
    train, val = loaders(data, "tensors")
    model, opt, _ = make()
    fit(model, opt, train, val, epochs=1, checkpoint=tmp_path / "c.pt", verbose=False, progress_bar=False)
    model, opt, _ = make()
    history = fit(model, opt, train, val, epochs=2, checkpoint=tmp_path / "c.pt", resume=False,
                  verbose=False, progress_bar=False)
    assert history["epoch"] == [1, 2]
    assert load_checkpoint(tmp_path / "c.pt")["epoch"] == 2


def test_early_stopping_rule():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2, restore_best=False)
    decisions = [stopper.step({"epoch": e, "val_loss": v}, model)
                 for e, v in enumerate([1.0, 0.9, 0.95, 0.91, 0.97], start=1)]
    assert decisions == [False, False, False, True, True]
    assert stopper.best == 0.9 and stopper.best_epoch == 2
    maximise = EarlyStopping(patience=1, monitor="val_acc", mode="max", min_delta=0.05)
    assert maximise.step({"epoch": 1, "val_acc": 0.5}, model) is False
    assert maximise.step({"epoch": 2, "val_acc": 0.52}, model) is True  # not better by 0.05
    with pytest.raises(KeyError, match="validation data"):
        EarlyStopping().step({"epoch": 1, "train_loss": 1.0}, model)


def test_early_stopping_in_fit_stops_and_restores_the_best_weights(data):
    train, val = loaders(data, "tensors")
    model, opt, _ = make()
    fit(model, opt, train, val, epochs=1, verbose=False, progress_bar=False)
    after_epoch_1 = {k: v.clone() for k, v in model.state_dict().items()}
    # Training loss falls every epoch, so "maximise the training loss" is best at epoch 1.
    model, opt, _ = make()
    stopper = EarlyStopping(patience=2, monitor="train_loss", mode="max")
    history = fit(model, opt, train, val, epochs=10, early_stopping=stopper,
                  verbose=False, progress_bar=False)
    assert history["epoch"] == [1, 2, 3]
    assert stopper.best_epoch == 1 and stopper.stopped
    for name, value in model.state_dict().items():
        assert torch.equal(value, after_epoch_1[name]), name


def test_a_callback_can_stop_training(data):
    train, _ = loaders(data, "tensors")
    model, opt, _ = make()

    def stop_at_2(history, model):
        if len(history) == 2:
            raise StopTraining

    history = fit(model, opt, train, epochs=5, callbacks=[stop_at_2], verbose=False, progress_bar=False)
    assert history["epoch"] == [1, 2] and "val_loss" not in history.last


def test_evaluate_matches_a_direct_computation(data):
    _, _, xv, yv = data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x, y = images_to_tensor(xv), torch.as_tensor(yv, dtype=torch.int64)
    metrics = evaluate(model, TensorBatches(x, y, 64))  # uneven last batch: 400 = 6*64 + 16
    with torch.no_grad():
        logits = x.reshape(len(x), -1) @ model[1].weight.T + model[1].bias
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    assert metrics["loss"] == pytest.approx(-log_probs[torch.arange(len(y)), y].mean().item(), rel=1e-5)
    assert metrics["acc"] == pytest.approx(float(np.mean(logits.argmax(1).numpy() == yv)))


def test_fit_learns_fashion_mnist(data):
    train, val = loaders(data, "dataloader")
    model, opt, _ = make()
    history = fit(model, opt, train, val, epochs=4, verbose=False, progress_bar=False)
    assert history["val_acc"][-1] > 0.6  # chance is 0.1
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_amp_false_and_none_are_float32(data):
    train, val = loaders(data, "tensors")
    runs = []
    for amp in (False, None):
        model, opt, _ = make()
        runs.append(without_times(fit(model, opt, train, val, epochs=1, amp=amp,
                                      verbose=False, progress_bar=False)))
    assert runs[0] == runs[1]


class OutputDtypes:
    """A forward hook on the first linear layer: the dtypes it computed in."""

    def __init__(self, layer: nn.Module) -> None:
        self.seen: set[torch.dtype] = set()
        layer.register_forward_hook(lambda _m, _i, out: self.seen.add(out.dtype))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_on_the_cpu_computes_in_16_bits_and_still_learns(data, dtype, tmp_path):
    # The path a GPU takes (autocast, and for float16 the gradient scaler), run on the CPU.
    train, val = loaders(data, "tensors")
    model, opt, _ = make()
    dtypes = OutputDtypes(model[1])
    history = fit(model, opt, train, val, epochs=3, amp=dtype, checkpoint=tmp_path / "run.pt",
                  verbose=False, progress_bar=False)
    assert dtypes.seen == {dtype}
    assert history["val_acc"][-1] > 0.6  # chance is 0.1
    scaler = load_checkpoint(tmp_path / "run.pt")["scaler"]
    # float16 needs loss scaling (its small gradients would round to zero); bfloat16 does not.
    assert bool(scaler) == (dtype == torch.float16)
    if dtype == torch.float16:
        assert scaler["scale"] > 1.0

    model32, opt32, _ = make()
    history32 = fit(model32, opt32, train, val, epochs=3, verbose=False, progress_bar=False)
    assert abs(history["val_loss"][-1] - history32["val_loss"][-1]) < 0.1


def test_amp_true_chooses_the_devices_type_and_evaluate_follows(data):
    train, val = loaders(data, "tensors")
    model, opt, _ = make()
    dtypes = OutputDtypes(model[1])
    fit(model, opt, train, epochs=1, amp=True, verbose=False, progress_bar=False)
    assert dtypes.seen == {torch.bfloat16}  # a CPU autocasts to bfloat16
    dtypes.seen.clear()
    evaluate(model, val, amp=torch.float16)
    assert dtypes.seen == {torch.float16}
    with pytest.raises(ValueError, match="amp must be True, False, None, torch.bfloat16 or torch.float16"):
        fit(model, opt, train, epochs=1, amp=torch.float64, verbose=False, progress_bar=False)


def test_tensor_batches_visit_every_example_once_per_epoch():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    torch.manual_seed(0)
    batches = TensorBatches(x, y, batch_size=4, shuffle=True)
    assert len(batches) == 3
    first = torch.cat([yb for _, yb in batches])
    second = torch.cat([yb for _, yb in batches])
    assert sorted(first.tolist()) == list(range(10)) and not torch.equal(first, second)
    assert all(torch.equal(xb.squeeze(1), yb.float()) for xb, yb in batches)


def test_checkpoints_are_written_atomically_and_bad_ones_are_reported(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, epoch=3, values=[1, 2])
    assert load_checkpoint(path)["epoch"] == 3 and not (tmp_path / "c.pt.tmp").exists()
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_input_validation():
    with pytest.raises(ValueError, match="uint8"):
        images_to_tensor(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="labels"):
        ArrayDataset(np.zeros((2, 28, 28), np.uint8), np.zeros(3))
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_step"):
        fit(model, opt, [], epochs=1, scheduler_step="never")


def test_plot_history_draws_both_curves():
    history = History([{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.2, "val_acc": 0.4},
                       {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.9, "val_acc": 0.6}])
    fig = plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.4, 0.6])
    assert "loss" in loss_ax.get_ylabel() and acc_ax.get_xlabel() == "epoch"
    LivePlot()(history, nn.Linear(1, 1))  # outside Jupyter: does nothing, raises nothing
