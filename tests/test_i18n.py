"""Translations: Chinese by default, English on request, and every message translated."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.mark.django_db
def test_admin_is_chinese_by_default_and_english_after_switching(client, make_user):
    client.force_login(make_user("staff", roles=["manager"]))

    page = client.get("/admin/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "客户管理" in page and "总客户" in page

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"

    page = client.get("/admin/").content.decode()
    assert 'lang="en"' in page
    assert "Customer management" in page and "Total customers" in page


@pytest.mark.django_db
def test_login_page_has_the_language_switch(client):
    page = client.get("/admin/login/").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert 'name="language" value="en"' in page
    assert "用户名" in page


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr(s), flags (header excluded)."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and entry.get("msgid"):
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := re.match(
            r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?) (\".*\")$", line
        ):
            key = match.group(1)
            value = _unquote(match.group(3))
            if key.startswith("msgstr"):
                entry["msgstr"][key] = value
            else:
                entry[key] = value
        elif line.startswith('"') and key:
            if key.startswith("msgstr"):
                entry["msgstr"][key] += _unquote(line)
            else:
                entry[key] += _unquote(line)
    return entries


def _unquote(text: str) -> str:
    return text[1:-1].encode("raw_unicode_escape").decode("unicode_escape")


def test_every_message_is_translated_to_chinese():
    entries = po_entries(LOCALE / "django.po")
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_compiled_catalogue_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    for entry in po_entries(LOCALE / "django.po"):
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            assert catalog.ngettext(msgid, entry["msgid_plural"], 1) == entry["msgstr"]["msgstr[0]"]
        else:
            assert catalog.gettext(msgid) == entry["msgstr"]["msgstr"], msgid


# Requests that fail in DRF's, Django's and django-filter's own checks as well as ours.
BAD_REQUESTS = [
    ("get", "/api/v1/customers", {"limit": 0}),
    ("get", "/api/v1/customers", {"level": "nope"}),
    ("get", "/api/v1/customers", {"startDate": "yesterday"}),
    ("get", "/api/v1/membership/memberships", {"customerId": "x"}),
    ("get", "/api/v1/audit-events", {"since": "soon"}),
    ("get", "/api/v1/no-such-path", None),
    ("delete", "/api/v1/customers", None),
    ("post", "/api/v1/customers", {"name": "", "birth_day": 1}),
    ("post", "/api/v1/customers", {"name": "张三", "phone": "12345", "gender": "x"}),
    ("post", "/api/v1/orders", {"items": [{"price": -1}], "placedAt": "x", "amount": "x"}),
    ("post", "/api/v1/membership/enroll/batch", {"customerIds": [0], "levelId": 2**70}),
    ("post", "/api/v1/membership/points/adjust", {"customerId": "1", "adjustment": 10**9}),
]


def _messages(error) -> list[str]:
    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            yield from node

    return [error["message"], *walk(error["fields"])]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "data"), BAD_REQUESTS)
def test_api_errors_are_in_the_request_language_only(api_client, make_user, method, path, data):
    client = api_client(make_user("boss", superuser=True), language="zh-hans")
    send = getattr(client, method)

    response = send(path, data, format="json") if method == "post" else send(path, data)

    assert 400 <= response.status_code < 500
    # What may stay in Latin letters: the request's own words echoed back (a value, the
    # method), field paths (items[0].price: ...) and a date-time format (YYYY-MM-DDThh:mm).
    echoed = set(re.findall(r"[A-Za-z]{3,}", f"{method.upper()} {path} {data}"))
    for message in _messages(response.json()["error"]):
        text = re.sub(r"^[\w\[\].-]+: ", "", message)
        text = re.sub(r"\S*YYYY\S*", "", text)
        words = set(re.findall(r"[A-Za-z]{3,}", text)) - echoed
        assert not words, message


def _source_copy(target: Path) -> None:
    """The project's sources (what makemessages reads) and its catalogue, without .venv etc."""
    skipped = {".venv", ".data", ".git", "__pycache__", "node_modules", "static", "bench"}

    def ignore(directory, names):
        return [name for name in names if name in skipped or name.endswith((".mo", ".pyc"))]

    shutil.copytree(settings.BASE_DIR, target, ignore=ignore)


def test_the_catalogue_has_exactly_the_messages_of_the_code(tmp_path):
    """`make messages` run on a copy of the sources leaves the catalogue as it is: a string the
    code has and the .po lacks (or the reverse) fails here, not in front of a user."""
    copy = tmp_path / "src"
    _source_copy(copy)
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings.test"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans"],
        cwd=copy,
        env=environment,
        check=True,
        capture_output=True,
    )
    committed = po_entries(LOCALE / "django.po")
    extracted = po_entries(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")

    def msgids(entries):
        return {(e.get("msgctxt"), e["msgid"]) for e in entries}

    assert sorted(msgids(extracted) - msgids(committed)) == [], "missing from the .po"
    assert sorted(msgids(committed) - msgids(extracted)) == [], "no longer in the code"


@pytest.mark.django_db
def test_the_schema_in_chinese_describes_the_list_filters_in_chinese(api_client, make_user):
    client = api_client(make_user("boss", superuser=True), language="zh-hans")

    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    parameters = schema["paths"]["/api/v1/customers"]["get"]["parameters"]
    level = next(p for p in parameters if p["name"] == "level")
    assert level["description"] == "多个值可以用逗号分隔。"
