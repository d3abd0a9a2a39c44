"""Bulk import of customers and historical orders (spec 2.8.2).

- columns: the fields a file may hold and the headers (Chinese or English) that map to them;
- reader: CSV/XLSX reading in batches, with clear errors for a wrong, empty or incomplete file;
- validation: one row's values checked and converted, as the services would;
- customers: the customer import service: reads, validates and drives the batches through
  customer_checks (what each row becomes: new, update, skip or failure) and customer_writer
  (COPY of new customers, set-based updates);
- orders: the order import, one customers.services.record_order call per order;
- errorfile: the file of rejected rows, in the input's format, ready to be fixed and re-imported.
"""
