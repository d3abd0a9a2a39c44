"""The file of rejected rows: the input's own columns plus ERROR_COLUMN, in the input's format,
so that it can be corrected and imported again as it is."""

import csv
import io

from crm.pii import mask_birthday, mask_email, mask_phone
from customers.imports.columns import ERROR_COLUMN
from customers.imports.reader import TableFile

# The import fields whose cells are personal data, each with its mask (crm.pii). A name is not
# among them: staff who may not see phones see names everywhere else too.
MASKERS = {"phone": mask_phone, "email": mask_email, "birthday": mask_birthday}


def build_error_file(
    table: TableFile, errors: dict[int, list[str]], cells: dict[int, list[str]] | None = None
) -> bytes:
    """The rows of `table` whose row number is in `errors`, each with its reasons. `cells` are
    those rows' cells by row number, in file order, when the caller kept them as it read the
    file; otherwise the file is read again."""
    keep = [i for i, header in enumerate(table.headers) if header != ERROR_COLUMN]
    headers = [table.headers[i] for i in keep] + [ERROR_COLUMN]
    rows = (
        [row[i] for i in keep] + ["; ".join(errors[number])]
        for number, row in (table.rows() if cells is None else cells.items())
        if number in errors
    )
    return table_bytes(headers, rows, table.format)


def masked_error_file(path, name: str, mapping: dict[str, str]) -> bytes:
    """The error file at `path` with the cells of its personal-data columns masked, for staff
    who may not see them unmasked; `mapping` is the import's {header: field}."""
    table = TableFile(path, name)
    maskers = {
        index: MASKERS[mapping[header]]
        for index, header in enumerate(table.headers)
        if mapping.get(header) in MASKERS
    }
    rows = (
        [
            maskers[index](cell) if index in maskers and cell else cell
            for index, cell in enumerate(cells)
        ]
        for _number, cells in table.rows()
    )
    return table_bytes(table.headers, rows, table.format)


def table_bytes(headers, rows, file_format: str) -> bytes:
    """A CSV or XLSX file of `headers` and `rows`."""
    if file_format == "xlsx":
        return _xlsx(headers, rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    # With a BOM, so that Excel opens the Chinese text correctly.
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx(headers, rows) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_file(headers: list[str], file_format: str) -> bytes:
    """An empty file with only the header row."""
    return table_bytes(headers, [], file_format)
