"""A prediction's question and its verdict, as HTML for notebooks and the site, and as text."""

from __future__ import annotations

import html

from .html import inline_markdown

_BOX = (
    "border-left:4px solid {colour};background:{background};padding:4px 8px;margin:4px 0;"
    "text-align:left"
)
QUESTION_STYLE = _BOX.format(colour="#6f42c1", background="#f6f0ff")
MARKS = {
    True: ("#1a7f37", "&#10004; right", "right"),
    False: ("#cf222e", "&#10008; not this time", "not this time"),
    None: ("#9a6700", "&#9675; no prediction made", "no prediction made"),
}


def said_text(said: list[str] | None) -> str:
    """Return a learner's answer as words ("none yet" when they made none)."""
    return "none yet" if said is None else ", ".join(said) or "none"


def question_html(
    question: str, choices: list[str], hint: str, said: list[str] | None, note: str = ""
) -> str:
    """Return a prediction's question as static HTML: the question, the choices, how to answer,
    the answer given so far (what the site and a saved notebook show), and `note` on any part of
    the answer that is none of the choices."""
    listed = ", ".join(f"<code>{html.escape(choice)}</code>" for choice in choices)
    return (
        f"<div class='stagelab-prediction' style='{QUESTION_STYLE}'>"
        f"<b>Predict before you build:</b> {inline_markdown(question)}"
        f"<div style='color:#424242'>Choices: {listed}. {inline_markdown(hint)}</div>"
        f"<div>Your prediction: <b>{html.escape(said_text(said))}</b></div>{_note_html(note)}</div>"
    )


def question_heading_html(question: str, hint: str, note: str = "") -> str:
    """Return the text above a prediction's live buttons: the question, how to answer, and
    `note` on any part of the answer given in the cell that is none of the choices."""
    return (
        f"<div style='{QUESTION_STYLE}'><b>Predict before you build:</b> "
        f"{inline_markdown(question)}<div style='color:#424242'>{inline_markdown(hint)}</div>"
        f"{_note_html(note)}</div>"
    )


def question_text(question: str, choices: list[str], said: list[str] | None, note: str = "") -> str:
    """Return a prediction's question as one line of text (and `note`, if any, after it)."""
    return (
        f"predict: {question} (choices: {', '.join(choices)}); your prediction: {said_text(said)}"
        + (f"\n  {note}" if note else "")
    )


def _note_html(note: str) -> str:
    return f"<div style='color:#cf222e'>{html.escape(note)}</div>" if note else ""


def verdict_html(verdict) -> str:
    """Return a verdict as HTML: the question, the prediction and a mark, what the engine did,
    and why. `verdict` has question, said, right, did, why (sentences) and note."""
    colour, mark, _ = MARKS[verdict.right]
    reasons = "".join(f"<li>{inline_markdown(reason)}</li>" for reason in verdict.why)
    note = (
        f"<div style='color:#616161;font-size:90%'>{inline_markdown(verdict.note)}</div>"
        if verdict.note
        else ""
    )
    background = {True: "#eef8f0", False: "#fff0f0", None: "#fff8e6"}[verdict.right]
    return (
        f"<div class='stagelab-verdict' data-right='{str(verdict.right).lower()}' "
        f"style='{_BOX.format(colour=colour, background=background)}'>"
        f"<div><span style='color:{colour};font-weight:bold'>{mark}</span> · "
        f"{inline_markdown(verdict.question)}</div>"
        f"<div>You predicted: <b>{html.escape(said_text(verdict.said))}</b></div>"
        f"<div>The engine: <b>{inline_markdown(verdict.did)}</b></div>"
        + (f"<div>Why:</div><ul style='margin:0'>{reasons}</ul>" if reasons else "")
        + f"{note}</div>"
    )


def verdict_text(verdict) -> str:
    """Return a verdict as lines of text, for terminals."""
    lines = [
        f"{MARKS[verdict.right][2]}: {verdict.question}",
        f"  you predicted: {said_text(verdict.said)}",
        f"  the engine: {verdict.did}",
    ]
    lines += [f"  why: {reason}" for reason in verdict.why]
    if verdict.note:
        lines.append(f"  {verdict.note}")
    return "\n".join(lines)
