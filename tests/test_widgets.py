"""The interactive demos of Part I: set a control's value as a learner would, check the callback's result."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from dlcourse.demos.widgets import (  # noqa: E402
    APPROACHES,
    SURFACES,
    TRIAGE_QUESTIONS,
    LearningRateExplorer,
    NeuronExplorer,
    TriageQuiz,
    descent_path,
    triage_feedback,
)

# The answers the course's issue fixes, typed in independently of the module's data.
EXPECTED_ANSWERS = [
    "Natural language processing (deep learning)",
    "Supervised machine learning",
    "Collaborative filtering (machine learning)",
    "Convolutional neural networks (deep learning)",
    "Regression analysis (machine learning)",
]


def test_quiz_answers_are_the_intended_ones():
    assert [q.answer for q in TRIAGE_QUESTIONS] == EXPECTED_ANSWERS
    assert all(q.answer in APPROACHES for q in TRIAGE_QUESTIONS)


def test_quiz_starts_unanswered_and_says_so():
    quiz = TriageQuiz()
    assert [r.status for r in quiz.results] == ["unanswered"] * 5
    assert "Not answered yet" in quiz.feedback[0].value
    assert "0 answered, 0 correct" in repr(quiz)


@pytest.mark.parametrize("question", range(5))
def test_quiz_feedback_for_a_correct_choice_gives_the_reasoning(question):
    quiz = TriageQuiz()
    quiz.controls[question].value = EXPECTED_ANSWERS[question]
    result = quiz.results[question]
    assert result.status == "correct"
    assert TRIAGE_QUESTIONS[question].reasoning in result.text
    assert "Correct" in quiz.feedback[question].value
    assert quiz.n_correct == 1 and "1 of 5 correct" in quiz.score.value


def test_quiz_feedback_for_a_wrong_choice_is_specific_and_recovers():
    quiz = TriageQuiz()
    quiz.controls[4].value = "Supervised machine learning"  # tempting for air quality
    assert quiz.results[4].status == "incorrect"
    assert "continuous" in quiz.results[4].text and "Hint" in quiz.results[4].text
    assert "Not the best fit" in quiz.feedback[4].value
    quiz.controls[4].value = EXPECTED_ANSWERS[4]
    assert quiz.results[4].status == "correct"


def test_quiz_rejects_unknown_choices_and_questions():
    with pytest.raises(ValueError, match="must be one of"):
        triage_feedback(0, "Astrology")
    with pytest.raises(IndexError):
        triage_feedback(5, None)


def test_quiz_shows_a_live_widget_and_a_text_description():
    bundle = TriageQuiz()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Triage quiz: 5 problem statements")


def test_neuron_boundary_moves_when_the_bias_changes():
    explorer = NeuronExplorer(w1=1.0, w2=0.0, b=0.0)
    assert explorer.state.offset == pytest.approx(0.0)
    before_image, before_renders = explorer.image.value, explorer.renders
    explorer.b.value = 1.5
    # w = (1, 0): the boundary is the vertical line x1 = -b / w1 = -1.5.
    assert explorer.state.offset == pytest.approx(-1.5)
    assert explorer.renders == before_renders + 1
    assert explorer.image.value != before_image
    assert "b=1.5" in repr(explorer)


def test_neuron_accuracy_matches_a_direct_count():
    explorer = NeuronExplorer(w1=0.5, w2=-2.0, b=0.3)
    X, y = explorer.X, explorer.y
    expected = np.mean([(0.5 * a - 2.0 * c + 0.3 > 0) == label for (a, c), label in zip(X, y, strict=True)])
    assert explorer.state.accuracy == pytest.approx(expected)
    explorer.w1.value, explorer.w2.value = 1.0, 1.0
    assert explorer.state.accuracy > 0.9  # the blobs lie on either side of x1 + x2 = 0


def test_neuron_without_weights_has_no_boundary_and_activation_changes_the_picture():
    explorer = NeuronExplorer(w1=0.0, w2=0.0, b=0.5)
    assert explorer.state.offset is None and "no boundary" in repr(explorer)
    explorer.w1.value = 1.0
    before = explorer.image.value
    explorer.activation.value = "relu"
    assert explorer.state.activation == "relu" and explorer.image.value != before
    with pytest.raises(ValueError, match="activation must be one of"):
        NeuronExplorer(activation="softmax")


def test_descent_path_matches_the_closed_form_on_a_bowl():
    # On f(x) = x^2 each step multiplies x by (1 - 2 lr).
    path = descent_path(lambda p: 2 * p, np.array([2.0]), lr=0.1, steps=5)
    assert path.shape == (6, 1)
    np.testing.assert_allclose(path[:, 0], 2.0 * 0.8 ** np.arange(6))
    with pytest.raises(ValueError, match="positive"):
        descent_path(lambda p: 2 * p, np.array([2.0]), lr=0.0, steps=5)


def test_lr_explorer_converges_for_a_small_rate_and_diverges_for_a_large_one():
    explorer = LearningRateExplorer(lr=0.1, steps=30)
    assert not explorer.state.diverged
    assert explorer.state.final_loss < 1e-3
    explorer.lr.value = 1.2  # above 2 / curvature = 1 for f(x) = x^2
    assert explorer.state.diverged and "DIVERGED" in explorer.status.value
    assert explorer.state.final_loss > explorer.state.losses[0]


def test_lr_explorer_valley_threshold_and_steps():
    name = "2-D valley: f(x, y) = (x² + 10 y²) / 2"
    assert name in SURFACES
    explorer = LearningRateExplorer(surface=name, lr=0.19, steps=60)
    assert not explorer.state.diverged  # below 2 / 10
    explorer.lr.value = 0.21  # above 2 / 10: the steep direction blows up
    assert explorer.state.diverged
    explorer.lr.value = 0.1
    explorer.steps.value = 7
    assert len(explorer.state.path) == 8 and explorer.state.path.shape[1] == 2


def test_lr_explorer_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    for surface in SURFACES.values():
        p = rng.normal(size=surface.dim)
        h = 1e-6
        numeric = [(surface.f(p + h * e) - surface.f(p - h * e)) / (2 * h) for e in np.eye(surface.dim)]
        np.testing.assert_allclose(surface.grad(p), numeric, rtol=1e-5, atol=1e-7)
