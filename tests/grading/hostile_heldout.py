"""Submissions of exercise 09 that go after the data its trained model is measured on.

Exercise 09's ``test-train-cnn`` is judged by ``check.model``: the kernel sends the CNN's
parameters, and the grader's own process measures it on the Fashion-MNIST test split, which the
sandbox hides from graded kernels (:func:`dlcourse.model_tasks.held_out_files`). Built from the
real exercise and the answers of its solution, so they follow the exercise when it changes:

- ``correct``: the solution's answers: full marks;
- ``untouched``: the exercise as released: nothing;
- ``reads_test_split``: a ``train_cnn`` that reads the test split wherever a learner could find it
  (``load_fashion_mnist("test")`` of the subset and of the full set, the ``.gz`` files under the
  data folder, ``/usr/share/datasets/fashion-mnist``, the cache) and would train on the test labels
  only; it prints what it found (:data:`FOUND_NOTHING` when nothing) and finds nothing, so it
  trains nothing and earns nothing for that cell;
- ``lookup_forward``: a ``train_cnn`` that trains nothing and gives the model a ``forward`` that
  returns the labels it looks up (the training images' labels, by the image's bytes: all a
  kernel can read); a model is judged by its parameters, so the lookup never runs;
- ``no_training``: a ``train_cnn`` that returns at once.

:data:`EXPECTED` gives each one's autograded points and status. ``tests/system/test_grading_heldout.py``
grades them in one run.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "09_convolution"
EXERCISE = ROOT / "exercises" / f"{ASSIGNMENT}.ipynb"
SOLUTION = ROOT / "solutions" / f"{ASSIGNMENT}.ipynb"
#: The autograded questions and their points (the written answer, 2 points more, is for a person).
QUESTIONS = {"test-conv2d-loop": 3, "test-conv-output-shape": 2, "test-make-small-cnn": 2,
             "test-train-cnn": 3}
ANSWERS = ("conv2d-loop", "conv-output-shape", "make-small-cnn", "train-cnn", "explain-weight-sharing")
#: What ``reads_test_split`` prints when none of its attempts read anything.
FOUND_NOTHING = "held-out test images found: 0"

READS_TEST_SPLIT = '''
def read_test_split():
    """Every way a learner might get the test split's images and labels, tried in turn."""
    import gzip
    import os

    from dlcourse.data.fashion_mnist import load_fashion_mnist, subset_dir
    from dlcourse.data.paths import cache_dir

    tried = []
    for size in ("subset", "full"):
        try:
            test = load_fashion_mnist("test", size=size, download=False)
            return test.images, test.labels, tried
        except Exception as error:
            tried.append(f"load_fashion_mnist(test, {size}): {type(error).__name__}")
    folders = [str(subset_dir()), str(subset_dir().parent / "fashion-mnist"),
               "/usr/share/datasets/fashion-mnist", str(cache_dir() / "fashion-mnist")]
    for folder in folders:
        try:
            with gzip.open(os.path.join(folder, "t10k-images-idx3-ubyte.gz")) as f:
                images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
            with gzip.open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")) as f:
                labels = np.frombuffer(f.read(), np.uint8, offset=8)
            if len(labels) and len(images) == len(labels):
                return images, labels, tried
            tried.append(f"{folder}: empty")
        except Exception as error:
            tried.append(f"{folder}: {type(error).__name__}")
    return None, None, tried


def train_cnn(model, train_batches):
    images, labels, tried = read_test_split()
    print("attempts:", tried)
    if labels is None:
        print("held-out test images found: 0")
        return
    print(f"held-out test images found: {len(labels)}; training on the test labels only")
    test_batches = TensorBatches(images_to_tensor(images), torch.as_tensor(labels, dtype=torch.int64),
                                 64, shuffle=True)
    fit(model, torch.optim.Adam(model.parameters(), lr=2e-3), test_batches, epochs=8, verbose=False,
        progress_bar=False)
'''

LOOKUP_FORWARD = '''
def train_cnn(model, train_batches):
    # No training: the model answers by looking each image up among the images this kernel can read.
    table = {}
    for x, y in train_batches:
        for image, label in zip(x, y):
            table[image.numpy().tobytes()] = int(label)

    def forward(x):
        labels = torch.tensor([table.get(image.numpy().tobytes(), 0) for image in x])
        return torch.nn.functional.one_hot(labels, 10).float() * 100

    model.forward = forward
'''

NO_TRAINING = '''
def train_cnn(model, train_batches):
    return None
'''

#: kind -> (autograded points it must get, status it must get)
EXPECTED = {
    "correct": (10, "graded"),
    "untouched": (0, "graded"),
    "reads_test_split": (7, "graded"),
    "lookup_forward": (7, "graded"),
    "no_training": (7, "graded"),
}


def solution_code(grade_id: str) -> str:
    """The solution cell's source, without the solution markers."""
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", _cell(nbformat.read(SOLUTION, as_version=4),
                                                               grade_id).source, flags=re.M)


def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _filled(train_cnn: str | None = None):
    nb = nbformat.read(EXERCISE, as_version=4)
    for grade_id in ANSWERS:
        _cell(nb, grade_id).source = solution_code(grade_id)
    if train_cnn is not None:
        _cell(nb, "train-cnn").source = train_cnn
    return nb


def build(folder: Path) -> dict[str, Path]:
    """Write one submission of each kind in :data:`EXPECTED` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    notebooks = {"correct": _filled(), "untouched": nbformat.read(EXERCISE, as_version=4),
                 "reads_test_split": _filled(READS_TEST_SPLIT),
                 "lookup_forward": _filled(LOOKUP_FORWARD), "no_training": _filled(NO_TRAINING)}
    written = {}
    for kind, nb in notebooks.items():
        written[kind] = folder / f"{kind}.ipynb"
        nbformat.write(nb, written[kind])
    return written
