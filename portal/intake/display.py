"""Stored answers as readable lines, in the reader's language (review, summary, staff)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _

from portal.intake import bodymap
from portal.intake.definitions import Question, text
from portal.intake.types import Question as QuestionType


def lines(question: Question, value: Any, locale: str) -> list[str]:
    """One or more lines; an empty list when the question has no answer."""
    if value in (None, "", [], {}):
        return []
    if isinstance(question, QuestionType):
        return question.lines(value, locale)
    kind = question.type
    if kind == "scale":
        return [_("%(n)d out of 10", n=value)]
    if kind == "number":
        unit = text(question.unit, locale)
        return [f"{value} {unit}".strip()]
    if kind == "date":
        try:
            return [format_date(date.fromisoformat(value), "long")]
        except ValueError:
            return [str(value)]
    if kind == "body_map":
        marks = sorted(value.items(), key=lambda item: (-item[1], item[0]))
        return [_("%(place)s: %(n)d out of 10", place=bodymap.label(code, locale), n=n)
                for code, n in marks]
    if kind == "rows":
        name = next(c for c in question.columns if c.type == "short_text")
        score = next((c for c in question.columns if c.type == "scale"), None)
        out = []
        for row in value:
            if score is not None:
                out.append(_("%(activity)s: %(n)d out of 10", activity=row[name.id],
                             n=row[score.id]))
            else:
                out.append(row[name.id])
        return out
    if kind == "signature":
        return [_("Signed by %(name)s (consent version %(version)d)", name=value["name"],
                  version=value["consent_version"])]
    return [str(value)]


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
