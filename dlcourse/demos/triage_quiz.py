"""The triage quiz of lesson 01: which approach fits a real problem statement best, with feedback.

The quiz's answers and reasoning below are course content (lesson 01), not a graded exercise.
:func:`triage_feedback` is the quiz's logic in plain Python; :class:`TriageQuiz` puts one
radio-button question per statement on the screen (see :mod:`dlcourse.demos.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import ipywidgets as widgets

from dlcourse.demos.base import InteractiveDemo
from dlcourse.plots.palette import OKABE_ITO

#: The approaches a learner can choose from, in the order the quiz shows them.
APPROACHES: tuple[str, ...] = (
    "Natural language processing (deep learning)",
    "Supervised machine learning",
    "Collaborative filtering (machine learning)",
    "Convolutional neural networks (deep learning)",
    "Regression analysis (machine learning)",
)

#: What each approach is for, shown when a learner picks it for a problem it does not fit best.
APPROACH_NOTES: dict[str, str] = {
    APPROACHES[0]: "deep NLP models learn features from raw text: worth it when the input is "
                   "free text in large volumes.",
    APPROACHES[1]: "classical supervised learning (logistic regression, gradient-boosted trees) "
                   "works on a table of hand-made features with a labelled outcome.",
    APPROACHES[2]: "collaborative filtering fills in a users x items matrix of ratings or "
                   "purchases from the behaviour of similar users.",
    APPROACHES[3]: "convolutional networks learn features from raw pixels: worth it when the "
                   "input is images or video.",
    APPROACHES[4]: "regression predicts a continuous quantity from a modest number of "
                   "measured input variables.",
}


@dataclass(frozen=True)
class TriageQuestion:
    """One problem statement of the triage quiz, its best-fitting approach and why.

    ``why_not`` holds specific feedback for tempting wrong choices; other wrong choices get
    the general note from :data:`APPROACH_NOTES`.
    """

    statement: str
    answer: str
    reasoning: str
    hint: str
    why_not: dict[str, str] = field(default_factory=dict)


TRIAGE_QUESTIONS: tuple[TriageQuestion, ...] = (
    TriageQuestion(
        statement="Sort large volumes of customer reviews and feedback to find areas of improvement.",
        answer=APPROACHES[0],
        reasoning="The input is raw, unstructured text in large volumes. Hand-made text "
                  "features (keyword counts) miss negation, sarcasm and context; deep NLP "
                  "models learn those features from the text itself, and the volume of data "
                  "is what they need.",
        hint="What kind of data is the input: a table of numbers, pixels, or free text?",
        why_not={APPROACHES[1]: "a classical classifier would first need someone to turn every "
                                "review into a table of hand-made features; the hard part here "
                                "is reading the text."},
    ),
    TriageQuestion(
        statement="Predict credit-default risk from historical transactions and customer profiles.",
        answer=APPROACHES[1],
        reasoning="The data is structured and tabular (amounts, balances, payment history, "
                  "income) with a labelled yes/no outcome: the classical setting of supervised "
                  "learning. Models such as logistic regression or gradient-boosted trees are "
                  "accurate here, cheap to train, and, importantly in lending, explainable to "
                  "customers and regulators.",
        hint="The input is a table, and a lender must be able to explain each decision.",
        why_not={APPROACHES[4]: "regression is also supervised learning, but the outcome here is "
                                "a class (default or not), not a continuous quantity.",
                 APPROACHES[0]: "there is no free text to read: the data is a structured table."},
    ),
    TriageQuestion(
        statement="Give personalised product recommendations on an e-commerce platform.",
        answer=APPROACHES[2],
        reasoning="The signal is the users x products matrix of purchases, clicks and ratings. "
                  "Collaborative filtering recommends what similar users liked, a well-proven "
                  "machine-learning method that needs no hand-labelled data. (Very large "
                  "platforms add deep models on top, but the core idea is this one.)",
        hint="What data does a shop have about every customer, whoever they are?",
        why_not={APPROACHES[1]: "there is no single labelled outcome to predict per row; the "
                                "information is in which users bought which items."},
    ),
    TriageQuestion(
        statement="Detect defects and anomalies on a production line.",
        answer=APPROACHES[3],
        reasoning="The input is camera images of products. Defects (scratches, cracks, "
                  "misalignments) are spatial patterns in raw pixels that are hard to describe "
                  "with hand-made features; convolutional networks learn them from examples.",
        hint="What does the inspection system look at?",
        why_not={APPROACHES[1]: "a classical classifier would need hand-made image features; "
                                "defects vary too much for that to work well."},
    ),
    TriageQuestion(
        statement="Predict urban air quality from atmospheric and weather parameters.",
        answer=APPROACHES[4],
        reasoning="The inputs are a handful of measured numbers (temperature, wind, humidity, "
                  "pressure, emissions) and the target is a continuous quantity (a pollutant "
                  "concentration or an air-quality index). Regression on these variables is "
                  "accurate, fast and interpretable; a deep network brings little on a small, "
                  "structured table.",
        hint="Is the target a category or a number on a scale?",
        why_not={APPROACHES[1]: "close: regression is supervised learning too, but the most "
                                "specific answer names the kind of target, a continuous "
                                "quantity."},
    ),
)


@dataclass(frozen=True)
class Feedback:
    """The quiz's answer to one choice: ``status`` is "unanswered", "correct" or "incorrect"."""

    status: str
    text: str


def triage_feedback(question: int, choice: str | None) -> Feedback:
    """Return the feedback for ``choice`` (one of :data:`APPROACHES`, or None) on question ``question``.

    Args:
        question: index into :data:`TRIAGE_QUESTIONS` (0 to 4).
        choice: the approach picked, or None when nothing is picked yet.

    Raises:
        IndexError: if ``question`` is out of range.
        ValueError: if ``choice`` is not one of :data:`APPROACHES`.
    """
    if not 0 <= question < len(TRIAGE_QUESTIONS):
        raise IndexError(f"question must be between 0 and {len(TRIAGE_QUESTIONS) - 1}, got {question}")
    q = TRIAGE_QUESTIONS[question]
    if choice is None:
        return Feedback("unanswered", "Not answered yet: pick the approach that fits best.")
    if choice not in APPROACHES:
        raise ValueError(f"choice must be one of {list(APPROACHES)}, got {choice!r}")
    if choice == q.answer:
        return Feedback("correct", f"Correct: {q.answer}. {q.reasoning}")
    why = q.why_not.get(choice, APPROACH_NOTES[choice])
    return Feedback("incorrect", f"Not the best fit: {why[0].upper()}{why[1:]} Hint: {q.hint}")


def triage_answers() -> str:
    """Return every question with its answer and reasoning, as plain text."""
    lines = []
    for i, q in enumerate(TRIAGE_QUESTIONS, start=1):
        lines += [f"{i}. {q.statement}", f"   -> {q.answer}", f"   {q.reasoning}", ""]
    return "\n".join(lines).rstrip()


_STATUS_STYLE = {"unanswered": (OKABE_ITO[7], ""), "correct": (OKABE_ITO[2], "✔ "),
                 "incorrect": (OKABE_ITO[3], "✘ ")}


class TriageQuiz(InteractiveDemo):
    """The lesson-01 quiz: one radio-button question per problem statement, with instant feedback.

    Attributes:
        controls: one ``RadioButtons`` per question (``value`` is the chosen approach or None).
        feedback: one ``HTML`` per question, rewritten whenever its answer changes.
        results: the :class:`Feedback` of each question, updated by the same callback.
    """

    def __init__(self, questions: tuple[TriageQuestion, ...] = TRIAGE_QUESTIONS) -> None:
        self.questions = questions
        self.controls = [widgets.RadioButtons(options=APPROACHES, value=None,
                                              layout=widgets.Layout(width="auto"))
                         for _ in questions]
        self.feedback = [widgets.HTML() for _ in questions]
        self.results = [triage_feedback(i, None) for i in range(len(questions))]
        self.score = widgets.HTML()
        boxes = []
        for i, (q, control) in enumerate(zip(questions, self.controls, strict=True)):
            control.observe(lambda change, i=i: self.update(i), names="value")
            title = widgets.HTML(f"<b>{i + 1}. {escape(q.statement)}</b>")
            boxes.append(widgets.VBox([title, control, self.feedback[i]]))
            self.update(i)
        self.widget = widgets.VBox([*boxes, self.score])

    def update(self, question: int) -> Feedback:
        """Recompute the feedback of one question from its control (the widget's callback)."""
        result = triage_feedback(question, self.controls[question].value)
        self.results[question] = result
        color, mark = _STATUS_STYLE[result.status]
        self.feedback[question].value = f'<span style="color:{color}">{mark}{escape(result.text)}</span>'
        self.score.value = f"<b>Score: {self.n_correct} of {len(self.questions)} correct.</b>"
        return result

    @property
    def n_correct(self) -> int:
        return sum(r.status == "correct" for r in self.results)

    @property
    def n_answered(self) -> int:
        return sum(r.status != "unanswered" for r in self.results)

    def describe(self) -> str:
        lines = [f"Triage quiz: {len(self.questions)} problem statements, {self.n_answered} answered, "
                 f"{self.n_correct} correct. Pick an approach for each in JupyterLab or Colab."]
        lines += [f"  {i}. {q.statement}" for i, q in enumerate(self.questions, start=1)]
        lines += ["Approaches:"] + [f"  - {a}" for a in APPROACHES]
        return "\n".join(lines)
