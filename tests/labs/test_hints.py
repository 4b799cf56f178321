"""Every lab's hints and texts (issue 18): hints go from a question, to a pointer at a lesson
section the learner has had, to the answer, one per call; the task text, the goal and the
criteria's titles never give the answer away."""

from __future__ import annotations

import re

import pytest

from stagelab import labs
from stagelab.course import Course
from stagelab.labs.hints import lesson_notebook

ALL_LABS = labs.all_labs()
LESSONS = Course.find().root / "lessons"
LESSON_MENTION = re.compile(r"\blessons? (\d\d)\b", re.IGNORECASE)


def lesson_source(number: str):
    found = sorted(LESSONS.glob(f"{number}_*.md"))
    return found[0] if found else None


def squash(text: str) -> str:
    return " ".join(text.replace("`", "").split()).lower()


def shown_before_a_check(each) -> str:
    """Everything a learner reads before any check or hint: the task, the goal, the titles."""
    parts = [(each.path / "task.md").read_text(), each.goal]
    parts += [item.title for item in each.criteria]
    return squash("\n".join(parts))


def answer_lines(each) -> list[str]:
    """The lines the solution adds to the file the learner edits, comments and blanks aside;
    for a Dockerfile also each new FROM and COPY with its first argument (`FROM tools`)."""
    edited = each.edited_file
    starter = {squash(line) for line in (each.starter_path / edited).read_text().splitlines()}
    found = []
    for line in (each.solution_path / edited).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or squash(line) in starter:
            continue
        found.append(squash(line))
        words = line.split()
        if words[0].upper() in ("FROM", "COPY") and len(words) > 1:
            short = squash(" ".join(words[:2]))
            if not any(short in known for known in starter):
                found.append(short)
    return found


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_hints_are_a_question_a_pointer_and_the_answer_in_that_order(each):
    assert [hint.kind for hint in each.checks.HINTS] == ["question", "pointer", "answer"]
    assert all(hint.text.strip() for hint in each.checks.HINTS)


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_the_pointer_names_a_section_of_a_lesson_had_by_then(each):
    assert lesson_source(each.after_lesson), f"no lesson {each.after_lesson} in {LESSONS}"
    for hint in each.checks.HINTS:
        if hint.kind != "pointer":
            continue
        assert hint.lesson <= each.after_lesson, (
            f"lab {each.number} is set after lesson {each.after_lesson}; its pointer names "
            f"lesson {hint.lesson}, which the learner has not had yet"
        )
        source = lesson_source(hint.lesson)
        assert source is not None, f"no lesson {hint.lesson}"
        headings = re.findall(r"^#+ (.+?)\s*$", source.read_text(), re.MULTILINE)
        assert hint.section in headings, f"{source.name} has no section “{hint.section}”"
        assert lesson_notebook(hint.lesson) == f"notebooks/{source.stem}.ipynb"


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_every_lesson_a_lab_names_is_one_had_by_then(each):
    texts = [(each.path / "task.md").read_text(), each.goal]
    texts += [hint.text for hint in each.checks.HINTS]
    texts += [f"{item.title} {item.hint}" for item in each.criteria]
    named = {number for text in texts for number in LESSON_MENTION.findall(text)}
    late = sorted(number for number in named if number > each.after_lesson)
    assert not late, f"lab {each.number} (after lesson {each.after_lesson}) names lessons {late}"


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_no_answer_in_the_task_the_goal_or_a_criterions_title(each):
    answers = answer_lines(each)
    assert answers, "the solution adds something to the file the learner edits"
    shown = shown_before_a_check(each)
    given = [line for line in answers if line in shown]
    assert not given, f"lab {each.number} shows the answer before any hint: {given}"


def test_a_leaked_answer_is_caught():
    """The check above fails on the kind of text it exists for (lab 01's old task text)."""
    each = labs.find_lab("01")
    leaked = "The release stage must start `FROM tools`, or use `COPY --from=tools`."
    assert any(line in squash(leaked) for line in answer_lines(each))


LAB_LINK = re.compile(r"\(\.\./labs/(\d\d)-[a-z-]+/task\.ipynb\)")


def lab_links() -> dict[str, set[str]]:
    """Which lessons link each lab's task: {lab number: {lesson number, ...}}."""
    linked: dict[str, set[str]] = {}
    for source in sorted(LESSONS.glob("[0-9][0-9]_*.md")):
        for lab_number in LAB_LINK.findall(source.read_text()):
            linked.setdefault(lab_number, set()).add(source.name[:2])
    return linked


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_lessons_link_a_lab_only_once_the_learner_has_had_what_it_needs(each):
    linking = lab_links().get(each.slug[:2], set())
    assert each.after_lesson in linking, f"lesson {each.after_lesson} should link {each.slug}"
    early = sorted(number for number in linking if number < each.after_lesson)
    assert not early, f"lessons {early} link {each.slug}, which needs lesson {each.after_lesson}"
