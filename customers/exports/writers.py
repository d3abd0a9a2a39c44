"""Writing an export's rows to a file: CSV, XLSX or PDF. Each writer takes the headers and an
iterable of row batches, and streams them to disk (the PDF, a laid-out document, holds its
rows in memory; the service caps its size).
"""

import csv
import re
from collections.abc import Iterable

from openpyxl import Workbook
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

# reportlab's built-in Adobe CJK font: Chinese renders without shipping a font file.
CJK_FONT = "STSong-Light"
# Compressed page streams in production; tests switch it off to search the text.
PDF_COMPRESSION = 1
# More columns than this and the PDF is landscape.
PORTRAIT_MAX_COLUMNS = 6

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


# OWASP CSV injection: a spreadsheet runs a cell starting with one of these as a formula, so such
# a cell is written as text by prefixing a single quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value):
    """The cell as the spreadsheet should show it: text that a spreadsheet would evaluate gets a
    leading quote; numbers, dates and empty cells are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_row(row) -> list:
    return [escape_formula(value) for value in row]


def write_csv(path, *, headers: list[str], batches: Iterable[list[list]], title: str = "") -> None:
    # utf-8-sig: the byte-order mark makes Excel read the Chinese text as UTF-8.
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(escape_row(headers))
        for batch in batches:
            writer.writerows(escape_row(row) for row in batch)


def write_xlsx(path, *, headers: list[str], batches: Iterable[list[list]], title: str = "") -> None:
    # write_only streams rows to disk instead of building every cell object in memory.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[\\/*?:\[\]]", " ", title or "Sheet1")[:31])
    sheet.append(escape_row(headers))
    for batch in batches:
        for row in batch:
            sheet.append(escape_row(row))
    workbook.save(path)


def register_cjk_font() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def paragraph_styles() -> dict[str, ParagraphStyle]:
    font = register_cjk_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=14, leading=18, spaceAfter=4),
        "heading": ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceAfter=3),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=12),
        "small": ParagraphStyle("small", fontName=font, fontSize=8, leading=10),
    }


def pdf_document(path, *, title: str, wide: bool) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        path if hasattr(path, "write") else str(path),
        pagesize=landscape(A4) if wide else A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        pageCompression=PDF_COMPRESSION,
        invariant=not PDF_COMPRESSION,
    )


def data_table(rows: list[list], *, width: float, font_size: float = 8) -> LongTable:
    """A grid with a repeated header row; column widths from the text they hold."""
    font = register_cjk_font()
    text_rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = _column_widths(text_rows, font=font, font_size=font_size, width=width)
    table = LongTable(text_rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), font_size),
                ("LEADING", (0, 0), (-1, -1), font_size + 2),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def write_pdf(path, *, headers: list[str], batches: Iterable[list[list]], title: str = "") -> None:
    rows = [headers]
    for batch in batches:
        rows.extend(batch)
    document = pdf_document(path, title=title, wide=len(headers) > PORTRAIT_MAX_COLUMNS)
    styles = paragraph_styles()
    document.build(
        [
            Paragraph(_escape(title), styles["title"]),
            Spacer(1, 2 * mm),
            data_table(rows, width=document.width, font_size=7 if len(headers) > 10 else 8),
        ]
    )


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "pdf": write_pdf}


def _column_widths(rows, *, font, font_size, width, sample=200) -> list[float]:
    # Widest text among the header and the first rows, then scaled to the page width.
    natural = [0.0] * len(rows[0])
    for row in rows[:sample]:
        for index, text in enumerate(row):
            natural[index] = max(natural[index], pdfmetrics.stringWidth(text, font, font_size) + 6)
    total = sum(natural) or 1
    return [width * share / total for share in natural]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
