"""Reading CSV and XLSX import files: the header row, then the data rows in batches.

Every problem with the file as a whole (type, encoding, emptiness, missing columns) is an
ImportFileError raised before anything is written.
"""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from crm.errors import BusinessError

FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
# GB18030 is a superset of GBK and GB2312, what Excel writes for Chinese on Windows.
ENCODINGS = ("utf-8-sig", "gb18030")


class ImportFileError(BusinessError):
    code = "import_file_invalid"


class TableFile:
    """One import file: `format` ("csv" or "xlsx"), `headers`, and `rows()`: (row number, cells)
    for each non-blank data row, numbered as a spreadsheet shows them (the header is row 1)."""

    def __init__(self, path, name: str | None = None):
        self.path = Path(path)
        self.name = name or self.path.name
        self.format = file_format(self.name)
        if self.format == "csv":
            self._text = _decode(self.path.read_bytes())
        self.headers = self._read_headers()

    def _read_headers(self) -> list[str]:
        for cells in self._raw_rows():
            headers = [cell.strip() for cell in cells]
            while headers and not headers[-1]:
                headers.pop()
            if any(headers):
                return headers
            break
        raise ImportFileError(_("The file is empty: it has no header row."))

    def _raw_rows(self) -> Iterator[list[str]]:
        if self.format == "csv":
            yield from csv.reader(io.StringIO(self._text, newline=""))
            return
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception:
            raise ImportFileError(
                _("The file cannot be read as an Excel workbook (.xlsx).")
            ) from None
        try:
            sheet = workbook.active
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        finally:
            workbook.close()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.headers)
        rows = self._raw_rows()
        next(rows, None)
        for number, cells in enumerate(rows, start=2):
            # One join rather than a test per cell: this runs for every row, twice.
            if not "".join(cells).strip():
                continue
            if len(cells) < width:
                cells = [*cells, *([""] * (width - len(cells)))]
            yield number, cells[:width] if len(cells) > width else cells

    def batches(self, size: int) -> Iterator[list[tuple[int, list[str]]]]:
        rows = self.rows()
        while batch := list(islice(rows, size)):
            yield batch

    def require(self, mapping: dict[str, str], required, accepted: str) -> None:
        missing = [field for field in required if field not in mapping.values()]
        if missing:
            raise ImportFileError(
                _("Required columns are missing: %(missing)s. Accepted headers: %(accepted)s.")
                % {"missing": ", ".join(missing), "accepted": accepted}
            )

    def require_rows(self) -> None:
        if next(self.rows(), None) is None:
            raise ImportFileError(_("The file is empty: it has a header row but no data rows."))


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ImportFileError(
            _("Upload a CSV or XLSX file; %(name)s is neither.") % {"name": Path(name).name}
        )
    return FORMATS[suffix]


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportFileError(_("The file is empty: it has no header row."))
    if b"\x00" in data[:4096]:
        raise ImportFileError(_("This is not a CSV text file."))
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The CSV file is neither UTF-8 nor GBK text."))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
