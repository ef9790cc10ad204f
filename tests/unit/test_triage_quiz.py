"""Lesson 01's triage quiz: pick an answer as a learner would, check the feedback."""

import pytest

from dlcourse.demos.triage_quiz import APPROACHES, TRIAGE_QUESTIONS, TriageQuiz, triage_feedback

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
    with pytest.raises(IndexError, match="question must be between 0 and 4, got 5"):
        triage_feedback(5, None)


def test_quiz_shows_a_live_widget_and_a_text_description():
    bundle = TriageQuiz()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Triage quiz: 5 problem statements")
