"""CSV files people open in a spreadsheet: the audit log (SPEC 7.1) and the clinic's
outcomes (SPEC 5.4).

* UTF-8 with a byte-order mark, so that a spreadsheet reads accents right instead of guessing
  a legacy code page.
* Formula injection neutralised: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return would be run as a formula by a spreadsheet, so it gets an apostrophe in
  front and is shown as text (OWASP, "CSV Injection"). Numbers the portal computed (an int
  or a float, such as a pain change of -3) cannot hold a formula and stay numbers; text is
  always checked, whatever it looks like.
* Streamed: one line at a time, so a large export is never held whole in memory.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets an
    apostrophe in front."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text_ = "" if value is None else str(value)
    return "'" + text_ if text_.startswith(_FORMULA_START) else text_


def stream(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The byte-order mark with the header line, then one line per row, each cell made
    safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(c) for c in cells])
        return buffer.getvalue()

    yield BOM + line(header)
    for row in rows:
        yield line(row)
