"""Spreadsheet formula injection (OWASP CSV injection): a text cell a spreadsheet would evaluate
is written with a leading single quote, in CSV and XLSX alike."""

import csv

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from customers.exports.writers import FORMULA_PREFIXES, escape_formula, write_csv, write_xlsx

DANGEROUS = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_escapes_formula_cells(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, headers=["=head", "ok"], batches=[[[value, "plain"] for value in DANGEROUS]])
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["'=head", "ok"]
    assert [row[0] for row in rows[1:]] == ["'" + value for value in DANGEROUS]
    assert all(row[1] == "plain" for row in rows[1:])


def test_xlsx_escapes_formula_cells_and_keeps_numbers(tmp_path):
    path = tmp_path / "out.xlsx"
    write_xlsx(path, headers=["name", "n"], batches=[[[value, -5] for value in DANGEROUS]])
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    # XML stores a carriage return as a line feed, so compare with that normalisation.
    assert [row[0] for row in rows[1:]] == ["'" + value.replace("\r", "\n") for value in DANGEROUS]
    # A real number is not text a spreadsheet would parse as a formula: it stays a number.
    assert all(row[1] == -5 for row in rows[1:])
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@given(st.text())
def test_escaped_text_never_starts_with_a_formula_prefix(value):
    escaped = escape_formula(value)
    assert not escaped.startswith(FORMULA_PREFIXES)
    assert escaped in (value, "'" + value)
