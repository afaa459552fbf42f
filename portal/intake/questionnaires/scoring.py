"""Scores of the instruments the intake ships (SPEC 2.7; CLINICAL.md "Instruments we ship").

Each function takes answers as stored (integers 0-10, or None when not answered) and
returns None rather than guess when an instrument's rule cannot be applied: a missing score
is shown as missing, never as zero.

* NPRS: the number itself, 0 (no pain) to 10 (worst imaginable). The **baseline** is the
  average pain over the past week. IMMPACT, Dworkin et al., J Pain 2008;9:105-121 (LOINC
  72514-3 for export).
* PEG-3: the mean of three 0-10 items (Pain on average, interference with Enjoyment of life,
  interference with General activity) over the past week. Krebs et al., J Gen Intern Med
  2009;24(6):733-738 (https://link.springer.com/article/10.1007/s11606-009-0981-1). The
  published score is the average of all three items, so any missing item gives no score.
* PSFS: the mean of the activity scores, each 0 (unable) to 10 (able as before the problem),
  up to 5 activities. Stratford et al., Physiotherapy Canada 1995;47:258-263. The mean is
  over the activities the patient named and rated; no activity gives no score.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the question types (rows) score with these rules: no cycle at run time
    from portal.intake.definitions import Questionnaire

SCALE_MIN, SCALE_MAX = 0, 10


def _valid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) \
        and SCALE_MIN <= value <= SCALE_MAX


def nprs(value: Any) -> int | None:
    return value if _valid(value) else None


def peg(pain: Any, enjoyment: Any, activity: Any) -> float | None:
    items = (pain, enjoyment, activity)
    if not all(_valid(v) for v in items):
        return None
    return round(sum(items) / 3, 2)


def psfs(scores: Iterable[Any]) -> float | None:
    valid = [s for s in scores if _valid(s)]
    if not valid:
        return None
    return round(sum(valid) / len(valid), 2)


def psfs_scores(rows: Any, score_column: str = "score") -> list[int]:
    """The rated activities of a stored PSFS answer (a list of rows)."""
    if not isinstance(rows, list):
        return []
    return [row[score_column] for row in rows
            if isinstance(row, dict) and _valid(row.get(score_column))]


def compute(definition: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Every score the definition's [scoring] table names, from stored answers (each read by
    its question's type: ``scores`` gives the 0-10 items an answer holds)."""
    spec = definition.scoring
    out: dict[str, Any] = {}
    for key in ("nprs_now", "nprs_average", "nprs_worst"):
        if key in spec:
            out[key] = nprs(_item(definition, answers, spec[key]))
    if "nprs_average" in out:
        out["nprs_baseline"] = out["nprs_average"]
    if "peg" in spec:
        out["peg"] = peg(*(_item(definition, answers, qid) for qid in spec["peg"]))
    if "psfs" in spec:
        scores = definition.questions[spec["psfs"]].scores(answers.get(spec["psfs"]))
        out["psfs"] = psfs(scores)
        out["psfs_items"] = len(scores)
    return out


def _item(definition: Questionnaire, answers: dict[str, Any], qid: str) -> Any:
    """A one-item answer (a scale), None when it gives no item."""
    items = definition.questions[qid].scores(answers.get(qid))
    return items[0] if items else None
