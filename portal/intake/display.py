"""Stored answers as readable lines, in the reader's language (review, summary, staff)."""
from __future__ import annotations

from typing import Any

from portal.intake.definitions import Question


def lines(question: Question, value: Any, locale: str) -> list[str]:
    """One or more lines; an empty list when the question has no answer. How an answer
    reads is its type's business (portal.intake.types)."""
    if value in (None, "", [], {}):
        return []
    return question.lines(value, locale)


def blocks(body: str) -> list[dict]:
    """A consent text as blocks to draw: a heading (the first line of a block of several
    lines), then paragraphs and bulleted lists ("- " lines)."""
    out = []
    for chunk in body.strip().split("\n\n"):
        lines_ = [line.strip() for line in chunk.strip().splitlines() if line.strip()]
        if not lines_:
            continue
        block: dict = {"heading": None, "parts": []}
        if len(lines_) > 1:
            block["heading"], lines_ = lines_[0], lines_[1:]
        for line in lines_:
            if line.startswith("- "):
                if block["parts"] and block["parts"][-1][0] == "list":
                    block["parts"][-1][1].append(line[2:])
                else:
                    block["parts"].append(("list", [line[2:]]))
            else:
                block["parts"].append(("p", line))
        out.append(block)
    return out
