"""The import rules of docs/architecture.md ("Which app may import which"), read from the code
with `ast`, so that a new import that breaks them fails here rather than in a review:

- the core (crm, customers) imports no domain app;
- no app imports another app's admin or API (the kernel's API conventions, crm.api, are there
  for every app's API);
- nothing imports analytics (it reads the others; nobody depends on it);
- inside an app, the business layer (models, services, selectors, querysets, filters, imports,
  exports, tasks) imports neither its admin nor its API;
- the registries are filled only from AppConfig.ready (apps.py).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = {"crm", "customers"}
DOMAIN = {"membership", "segments", "profiles", "churn", "outreach", "analytics"}
APPS = CORE | DOMAIN
# The layers an app's screens and endpoints are built on; they never reach up into those.
BUSINESS_LAYER = {
    "models",
    "services",
    "selectors",
    "querysets",
    "filters",
    "imports",
    "exports",
    "tasks",
    "devdata",
}
SCREENS_AND_ENDPOINTS = {"admin", "api"}
# The envelope, errors, pagination and schema every app's API uses (docs/api.md).
SHARED_API = "crm.api."
REGISTER_FUNCTIONS = {
    "register_audit_actions",
    "register_role_permissions",
    "register_dashboard",
    "register_header_links",
    "register_order_hook",
    "register_erasure_hook",
    "register_level_choices",
    "register_customer_panel",
}


def source_files():
    for app in sorted(APPS):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside a function, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append(base)
            # `from customers import admin` imports the module customers.admin.
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def app_of(module: str) -> str:
    return module.split(".")[0]


def violations(rule) -> list[str]:
    broken = []
    for path in source_files():
        importer = module_of(path)
        for imported in imports_of(path):
            if app_of(imported) in APPS and rule(importer, imported):
                broken.append(f"{path.relative_to(ROOT)} imports {imported}")
    return sorted(set(broken))


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_core_imports_no_domain_app():
    assert violations(lambda a, b: app_of(a) in CORE and app_of(b) in DOMAIN) == []


def test_no_app_imports_another_apps_admin_or_api():
    def crosses(importer, imported):
        if imported.startswith(SHARED_API):
            return False
        return app_of(importer) != app_of(imported) and layer(imported) in SCREENS_AND_ENDPOINTS

    assert violations(crosses) == []


def test_nothing_imports_analytics():
    def imports_analytics(importer, imported):
        return app_of(imported) == "analytics" and app_of(importer) != "analytics"

    assert violations(imports_analytics) == []


def test_the_business_layer_does_not_import_the_screens_or_the_api():
    def reaches_up(importer, imported):
        return (
            app_of(importer) == app_of(imported)
            and layer(importer) in BUSINESS_LAYER
            and layer(imported) in SCREENS_AND_ENDPOINTS
        )

    assert violations(reaches_up) == []


class RegisterCalls(ast.NodeVisitor):
    """Each use of a register_* function (a call or a decorator) with the function it is in."""

    def __init__(self):
        self.functions: list[str] = []
        self.found: list[tuple[str | None, str]] = []

    def visit_FunctionDef(self, node):
        for decorator in node.decorator_list:
            self.note(decorator)
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        self.note(node.func)
        self.generic_visit(node)

    def note(self, node):
        name = getattr(node, "id", None) or getattr(node, "attr", None)
        if name in REGISTER_FUNCTIONS:
            self.found.append((self.functions[-1] if self.functions else None, name))


def test_registries_are_filled_only_from_app_config_ready():
    outside = []
    for path in source_files():
        visitor = RegisterCalls()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        outside += [
            f"{path.relative_to(ROOT)}: {name} in {where or 'the module'}"
            for where, name in visitor.found
            if not (path.name == "apps.py" and where == "ready")
        ]

    assert outside == []


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("from customers.admin import forms\n", "customers.admin.forms"),
        ("from . import views\n", "customers.api.views"),
        ("import membership.api.urls\n", "membership.api.urls"),
        ("def f():\n    from analytics import x\n", "analytics.x"),
    ],
)
def test_the_import_reader_sees_every_form_of_import(tmp_path, monkeypatch, source, imported):
    package = tmp_path / "customers" / "api"
    package.mkdir(parents=True)
    path = package / "sample.py"
    path.write_text(source)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)

    assert imported in imports_of(path)
