"""Exercise 10's surname classifier: a GRU on characters that names a surname's language.

The exercise fixes the model, :class:`dlcourse.pytorch.name_classifier.NameClassifier` with its
default sizes (``Embedding(n_chars, 32, padding_idx=0)``, ``GRU(32, 64, batch_first=True)`` on
packed sequences, ``Linear(64, n_languages)``, as attributes ``embed``, ``rnn``, ``out``), and its
data, :func:`dlcourse.data.sequence_data.names_split`. The trained model is measured on that
split's 1,160 test names. They come from ``data/names.csv``, which a graded kernel can read too
(the exercise's own cell loads it): nothing is held out, and what the grade rests on is that the
grader's process, not the kernel, runs the model on them. The test cell trains the model, so its
time budget is the training's.
"""

from __future__ import annotations

import torch

from dlcourse.data.sequence_data import names_split
from dlcourse.model_tasks.task import ModelTask, Requirement
from dlcourse.pytorch.name_classifier import NameClassifier

#: The held-out accuracy the exercise asks for (always answering the most frequent language
#: scores about 0.2).
ACCURACY = 0.70
#: The test cell's time budget: the exercise asks for training under about 20 s.
SECONDS = 60.0


def build() -> NameClassifier:
    """The classifier the exercise trains: ids ``(B, 20)`` to logits ``(B, 8)``."""
    split = names_split()
    return NameClassifier(len(split.chars), len(split.languages))


def measure(model: NameClassifier) -> dict[str, float]:
    """Accuracy on the test names (1,160)."""
    split = names_split()
    model.eval()
    with torch.no_grad():
        guess = model(torch.from_numpy(split.X_test)).argmax(dim=1).numpy()
    return {"held-out accuracy": float((guess == split.y_test).mean())}


TASK = ModelTask(
    name="char_classifier", architecture="NameClassifier(n_chars, n_languages): "
    "Embedding(n_chars, 32, padding_idx=0), GRU(32, 64, batch_first=True), Linear(64, n_languages)",
    build=build, measure=measure, requirements=(Requirement("held-out accuracy", at_least=ACCURACY),),
    seconds=SECONDS)
