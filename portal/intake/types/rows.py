"""``rows``: a short list of rows with the same columns, one name (``short_text``) and
optionally a 0-10 ``scale``: the PSFS activities and how well the patient can do each.
Stored as a list of ``{column id: value}``, every row with every column."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import Field, StrictInt, StrictStr, model_validator
from wtforms import SelectField, StringField

from portal.intake.questionnaires import scoring
from portal.intake.types.base import Question, StepInput
from portal.intake.types.checks import (
    ZERO_TO_TEN,
    ChoiceCheck,
    TextCheck,
    clean_text,
    field_id,
    int_in,
    intensity_choices,
    text_ok,
)
from portal.intake.types.schema import ID, LocalText, Names, Part, Says, problem, text

COLUMN_TYPES = ("short_text", "scale")
ROWS = "max_rows must be 1 to 10 and min_rows 0 to max_rows"
ELSEWHERE = "columns and rows settings are for rows questions"


def same_name(name: str) -> str:
    """Names that mean the same row: case and spacing aside ("Gardening" and " gardening")."""
    return " ".join(name.split()).casefold()


class Column(Part):
    where: ClassVar[str] = " column {id!r}"
    shape: ClassVar[str] = "column id None is not valid"

    id: Annotated[StrictStr, Field(pattern=ID), Says("column id {input!r} is not valid")]
    type: Annotated[Literal["short_text", "scale"],
                    Says(f"column {{id!r}} type must be one of {COLUMN_TYPES}")]
    label: Annotated[LocalText, Names("column {id!r} label")]
    max_length: Annotated[StrictInt, Field(ge=1, le=500),
                          Says("column {id!r} max_length must be from 1 to 500")] = 100

    def cell_ok(self, value: Any) -> bool:
        return text_ok(value, self.max_length) if self.type == "short_text" \
            else int_in(value, 0, 10)


class Rows(Question):
    type: ClassVar[str] = "rows"
    fhir_type: ClassVar[str] = "group"
    template: ClassVar[str] = "intake/types/rows.html"
    elsewhere: ClassVar[dict[str, str]] = {"columns": ELSEWHERE, "max_rows": ELSEWHERE,
                                           "min_rows": ELSEWHERE}

    columns: Annotated[tuple[Column, ...], Field(min_length=1),
                       Says("a rows question needs columns")]
    max_rows: Annotated[StrictInt, Field(ge=1, le=10), Says(ROWS)] = 5
    # At least this many rows when the question is required (1 when not given).
    min_rows: Annotated[StrictInt | None, Field(ge=0), Says(ROWS)] = None

    @model_validator(mode="after")
    def _shape(self) -> Rows:
        if len({c.id for c in self.columns}) != len(self.columns):
            raise problem("column ids must be unique")
        if [c.type for c in self.columns].count("short_text") != 1:
            raise problem("a rows question needs exactly one short_text column (the name)")
        if self.min_rows is None:
            self.min_rows = 1 if self.required else 0
        if self.min_rows > self.max_rows:
            raise problem(ROWS)
        return self

    @property
    def name_column(self) -> Column:
        return next(c for c in self.columns if c.type == "short_text")

    @property
    def score_column(self) -> Column | None:
        return next((c for c in self.columns if c.type == "scale"), None)

    def row_name(self, index: int, column: str) -> str:
        return f"{self.id}-{index}-{column}"

    # --- the form ------------------------------------------------------------------------

    def _cell_field(self, column: Column, index: int, locale: str):
        name, label = self.row_name(index, column.id), text(column.label, locale)
        cell_id = field_id(self.id, str(index), column.id)
        if column.type == "short_text":
            return StringField(label, name=name, id=cell_id, filters=[clean_text],
                               validators=[TextCheck(column.max_length)])
        return SelectField(label, name=name, id=cell_id, choices=intensity_choices(_l("Choose")),
                           validate_choice=False,
                           validators=[ChoiceCheck(ZERO_TO_TEN,
                                                   _l("Choose a number from 0 to 10."))])

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        return {self.row_name(i, c.id): self._cell_field(c, i, locale)
                for i in range(self.max_rows) for c in self.columns}

    def anchor(self) -> str:
        return field_id(self.id, "0", self.columns[0].id)

    def first_field(self, form) -> Any:
        return form[self.row_name(0, self.columns[0].id)]

    def form_values(self, value: Any) -> dict[str, Any]:
        return {self.row_name(i, c.id): "" if row.get(c.id) is None else str(row.get(c.id))
                for i, row in enumerate(value) for c in self.columns}

    def read(self, form, out: StepInput) -> None:
        rows, bad, seen = [], False, set()
        for i in range(self.max_rows):
            cells = {c.id: form[self.row_name(i, c.id)] for c in self.columns}
            row = self._read_row(i, cells, form.locale, out)
            if row and same_name(row[self.name_column.id]) in seen:
                self._refuse_repeat(cells[self.name_column.id], form.locale, out)
                row = False
            if row is False:
                bad = True
            elif row:
                seen.add(same_name(row[self.name_column.id]))
                rows.append(row)
        if not bad:
            out.values[self.id] = rows or None

    def _refuse_repeat(self, name_field, locale: str, out: StepInput) -> None:
        """A name given twice: two rows of one activity would count it twice in the intake's
        PSFS mean and once in the baseline the follow-ups are compared with."""
        name_field.errors = [_("You named this activity already. Give each activity once.")]
        out.fail(self, locale, name_field.errors[0], name_field.id)

    def _read_row(self, index: int, cells: dict, locale: str, out: StepInput):
        """The row's answer, None for an empty row, False for a wrong one."""
        wrong = [f for f in cells.values() if f.errors]
        for f in wrong:
            out.fail(self, locale, f"{f.label.text} {index + 1}: {f.errors[0]}", f.id)
        if wrong:
            return False
        filled = {cid: f.data for cid, f in cells.items() if f.data not in (None, "")}
        if not filled:
            return None
        if len(filled) < len(cells):
            self._ask_for_the_rest(cells, filled, locale, out)
            return False
        return {c.id: int(filled[c.id]) if c.type == "scale" else filled[c.id]
                for c in self.columns}

    def _ask_for_the_rest(self, cells: dict, filled: dict, locale: str,
                          out: StepInput) -> None:
        """A row half filled in: an error by each empty cell."""
        for cid, f in cells.items():
            if cid not in filled:
                f.errors = [_("Name the activity you rated.") if cid == self.name_column.id
                            else _("Give this activity a number from 0 to 10.")]
                out.fail(self, locale, f.errors[0], f.id)

    def required_message(self) -> str:
        return _("Name at least one activity and give it a number.")

    # --- stored answers ------------------------------------------------------------------

    def is_missing(self, value: Any, signed_versions: dict[str, int] | None) -> bool:
        return len(value or []) < max(self.min_rows or 0, 1)

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        if not isinstance(value, list) or not 0 < len(value) <= self.max_rows:
            return False
        ids = {c.id for c in self.columns}
        if not all(isinstance(row, dict) and set(row) == ids
                   and all(c.cell_ok(row[c.id]) for c in self.columns) for row in value):
            return False
        names = [same_name(row[self.name_column.id]) for row in value]
        return len(set(names)) == len(names)

    def lines(self, value: Any, locale: str) -> list[str]:
        name, score = self.name_column, self.score_column
        if score is None:
            return [row[name.id] for row in value]
        return [_("%(activity)s: %(n)d out of 10", activity=row[name.id], n=row[score.id])
                for row in value]

    def fhir_items(self, value: Any, locale: str) -> list[dict[str, Any]]:
        """Each row a repetition of the question's group (same linkId), its cells inside."""
        if not isinstance(value, list):
            return super().fhir_items(value, locale)
        label = text(self.label, locale)
        out = []
        for row in value:
            cells = self._fhir_cells(row, locale) if isinstance(row, dict) else []
            if cells:
                out.append({"linkId": self.id, "text": label, "item": cells})
        return out

    def _fhir_cells(self, row: dict, locale: str) -> list[dict[str, Any]]:
        cells = []
        for column in self.columns:
            cell = row.get(column.id)
            if cell in (None, ""):
                continue
            answer = {"valueInteger": cell} \
                if column.type == "scale" and isinstance(cell, int) else {"valueString": str(cell)}
            cells.append({"linkId": f"{self.id}.{column.id}",
                          "text": text(column.label, locale), "answer": [answer]})
        return cells

    def fhir_question(self, locale: str) -> dict[str, Any]:
        """A repeating group (one repetition a row), an item for each column."""
        cells = [{"linkId": f"{self.id}.{c.id}", "text": text(c.label, locale),
                  "type": "integer" if c.type == "scale" else "string", "required": True}
                 for c in self.columns]
        return {**super().fhir_question(locale), "repeats": True, "item": cells}

    def scores(self, value: Any) -> list[int]:
        score = self.score_column
        return scoring.psfs_scores(value, score.id) if score is not None else []
