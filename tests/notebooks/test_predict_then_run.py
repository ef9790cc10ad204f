"""Every lesson asks its learner to predict before running (CONTRIBUTING.md, "Predict, then run").

A question is a Markdown cell containing ``**Predict, then run.**``. The code cells that answer it
come next (one or more: the cell that computes the answer, and any claim cell that checks it), and
then the first Markdown cell after them reveals the answer: it starts with ``**Answer.**``. Every
lesson asks at least two such questions.
"""

from pathlib import Path

import nbformat
import pytest

from tools import notebook_meta

PREDICT = "**Predict, then run.**"
ANSWER = "**Answer.**"
MINIMUM = 2
LESSONS = notebook_meta.course_notebooks(notebook_meta.LESSONS)

def questions(nb: nbformat.NotebookNode) -> list[tuple[int, str, str | None]]:
    """(cell index, the question's first words, what is wrong with it or None) for every question."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or PREDICT not in cell.source:
            continue
        words = " ".join(cell.source.split(PREDICT, 1)[1].split())
        question = words[:90] + ("..." if len(words) > 90 else "")
        following = nb.cells[index + 1:]
        code_cells = 0
        while code_cells < len(following) and following[code_cells].cell_type == "code":
            code_cells += 1
        if code_cells == 0:
            problem = "no code cell follows the question: the learner has nothing to run"
        elif code_cells == len(following):
            problem = f"no Markdown cell starting with {ANSWER} follows the code that answers it"
        elif not following[code_cells].source.lstrip().startswith(ANSWER):
            problem = (f"the first Markdown cell after its code (cell {index + 1 + code_cells}) should start "
                       f"with {ANSWER}")
        else:
            problem = None
        found.append((index, question, problem))
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_question_is_answered_after_its_code(path: Path):
    asked = questions(nbformat.read(path, as_version=4))
    problems = [f"{path.name}, cell {index} ({question!r}): {problem}"
                for index, question, problem in asked if problem]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_asks_at_least_two_questions(path: Path):
    asked = questions(nbformat.read(path, as_version=4))
    listed = "; ".join(f"cell {index}: {question!r}" for index, question, _ in asked) or "none"
    assert len(asked) >= MINIMUM, (
        f"{path.name} asks {len(asked)} predict-then-run question(s), at least {MINIMUM} are needed "
        f"(a Markdown cell with {PREDICT}, the code that answers it, then a cell starting with {ANSWER}). "
        f"Asked: {listed}")


def test_the_rule_catches_a_missing_or_misplaced_answer():
    def notebook(*cells):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:")
                    else nbformat.v4.new_code_cell(s) for s in cells]
        return nb

    good = notebook(f"md:{PREDICT} Will it be 2?", "x = 1 + 1", "assert x == 2", f"md:{ANSWER} Yes.")
    assert questions(good) == [(0, "Will it be 2?", None)]
    no_code = notebook(f"md:{PREDICT} Will it be 2?", f"md:{ANSWER} Yes.")
    assert "no code cell" in questions(no_code)[0][2]
    no_answer = notebook(f"md:{PREDICT} Will it be 2?", "x = 1 + 1", "md:## Next section")
    assert "should start with" in questions(no_answer)[0][2]
    at_the_end = notebook(f"md:{PREDICT} Will it be 2?", "x = 1 + 1")
    assert "no Markdown cell" in questions(at_the_end)[0][2]
