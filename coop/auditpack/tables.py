"""The pack's two small table writers, CSV and XLSX, kept apart so that the generic writers
of coop.passbooks.tables can replace them.

A cell is a string or a `Number` (a decimal string such as "1250.50", written as a number in
XLSX; never a float). The XLSX is the least a spreadsheet needs (one sheet, inline strings,
no styles) and is deterministic: the same rows give the same bytes, since every part of it
is written with a fixed date (the caller's)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True, slots=True)
class Number:
    text: str  # a decimal string, e.g. "-1250.50"


Cell = str | Number
Row = Sequence[Cell]


def csv_bytes(rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([cell.text if isinstance(cell, Number) else cell for cell in row])
    return out.getvalue().encode("utf-8")


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_ROOT_RELS = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
              f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK_RELS = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                  f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
                  f'Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_NAME_MAX = 31


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _sheet(rows: Sequence[Row]) -> str:
    lines = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, cell in enumerate(row):
            ref = f"{_column(c)}{r}"
            if isinstance(cell, Number):
                cells.append(f'<c r="{ref}"><v>{escape(cell.text)}</v></c>')
            elif cell:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">'
                             f"{escape(cell)}</t></is></c>")
        lines.append(f'<row r="{r}">{"".join(cells)}</row>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(lines)}</sheetData></worksheet>')


def xlsx_bytes(rows: Sequence[Row], *, sheet: str,
               date_time: tuple[int, int, int, int, int, int]) -> bytes:
    """One sheet named `sheet` (cut to Excel's 31 characters); every part dated `date_time`."""
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
                f'<sheet name={quoteattr(sheet[:SHEET_NAME_MAX])} sheetId="1" r:id="rId1"/>'
                f"</sheets></workbook>")
    parts = (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
             ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
             ("xl/worksheets/sheet1.xml", _sheet(rows)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            book.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


__all__ = ["Cell", "Number", "Row", "csv_bytes", "xlsx_bytes"]
