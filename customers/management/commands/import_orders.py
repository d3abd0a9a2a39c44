from customers.imports.orders import orders_import
from customers.management.commands._import_command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import historical orders from a CSV or XLSX file (one row per item; the rows of one "
        "order share externalId). Each order is recorded once, as POST /api/v1/orders does."
    )
    progress_label = "orders"

    def run_import(self, *, path, actor, progress, options):
        return orders_import(actor=actor, path=path, progress=progress)
