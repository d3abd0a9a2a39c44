"""What each valid row of a customer import becomes (step 3 of customers.imports.customers):
checked against the rows before it and, one query per kind of key and batch, the database."""

import psycopg
from django.db import connection
from django.utils.translation import gettext


class RowChecks:
    """What each valid row becomes: a new customer, an update of an existing one, a skip, or a
    failure (a repeat of an earlier row, an existing customer with on_duplicate="fail", an
    e-mail or customer number of another customer). Counts what it decides."""

    def __init__(self, on_duplicate):
        self.on_duplicate = on_duplicate
        self.seen = {"phone": {}, "email": {}, "customer_no": {}}
        # Translated once per file: the checks run for every row.
        self.messages = {
            "phone": gettext("The same phone number is in row %(row)s."),
            "email": gettext("The same e-mail is in row %(row)s."),
            "customer_no": gettext("The same customer number is in row %(row)s."),
            "exists": gettext("A customer with this phone number already exists."),
            "email_taken": gettext("This e-mail belongs to another customer."),
            "number_taken": gettext("This customer number is already taken; choose another one."),
        }
        self.creates = self.updates = self.skipped = self.duplicates = 0

    def first_occurrences(self, rows, errors) -> list:
        """The rows that repeat no earlier row of the file; the others' reasons go to `errors`."""
        phones, emails, numbers = self.seen["phone"], self.seen["email"], self.seen["customer_no"]
        fresh = []
        for row in rows:
            # None is never a key, so a row without e-mail or number repeats nothing there.
            if row.phone_index in phones or row.email_index in emails or row.customer_no in numbers:
                errors[row.row_no] = self._repeats(row)
                continue
            phones[row.phone_index] = row.row_no
            if row.email_index is not None:
                emails[row.email_index] = row.row_no
            if row.customer_no is not None:
                numbers[row.customer_no] = row.row_no
            fresh.append(row)
        return fresh

    def against_database(self, rows, errors) -> tuple[list, list]:
        """([new rows], [(customer id, row)] to update) of a batch's rows, looked up in the
        database; the reasons of the failed ones go to `errors`."""
        phones = owners("phone_index", [row.phone_index for row in rows])
        emails = owners("email_index", [row.email_index for row in rows if row.email_index])
        numbers = owners("customer_no", [row.customer_no for row in rows if row.customer_no])
        creates, updates = [], []
        for row in rows:
            customer_id = phones.get(row.phone_index)
            if customer_id is not None:
                self.duplicates += 1
                if self.on_duplicate == "fail":
                    errors[row.row_no] = [self.messages["exists"]]
                    continue
                if self.on_duplicate == "skip":
                    self.skipped += 1
                    continue
            owner = emails.get(row.email_index)
            if owner is not None and owner != customer_id:
                errors[row.row_no] = [self.messages["email_taken"]]
            elif customer_id is None and row.customer_no in numbers:
                errors[row.row_no] = [self.messages["number_taken"]]
            elif customer_id is None:
                creates.append(row)
            else:
                updates.append((customer_id, row))
        self.creates += len(creates)
        self.updates += len(updates)
        return creates, updates

    def _repeats(self, row) -> list[str]:
        keys = {"phone": row.phone_index, "email": row.email_index, "customer_no": row.customer_no}
        return [
            self.messages[kind] % {"row": self.seen[kind][key]}
            for kind, key in keys.items()
            if key in self.seen[kind]
        ]


BLIND_INDEXES = {"phone_index", "email_index"}


def owners(column, keys) -> dict:
    """{value: customer id} of the customers whose `column` holds one of `keys`. A blind index
    is also looked for in its second column (`column`_next), where it is between the switch to
    a new key and the end of the re-index (docs/configuration.md, "Personal data encryption")."""
    if not keys:
        return {}
    # The second probe runs only for a key the first did not find (the LIMIT stops the append).
    also = ""
    if column in BLIND_INDEXES:
        also = f"UNION ALL SELECT id FROM customers_customer WHERE {column}_next = k.key"
    # One index probe per key: the LIMIT keeps the planner from flattening the subquery into a
    # join, which it would run as a scan of the whole table (5x slower at 100k customers, and
    # worse as the import grows the table). The keys go apart from the query, in binary:
    # spelled out as a literal, a batch's blind indexes cost more than the look-up itself.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"""
            SELECT k.key, c.id FROM unnest(%b) AS k(key)
            CROSS JOIN LATERAL (
                SELECT id FROM customers_customer WHERE {column} = k.key {also} LIMIT 1
            ) c
            """,
            [keys],
            prepare=False,
        )
        return dict(cursor.fetchall())
