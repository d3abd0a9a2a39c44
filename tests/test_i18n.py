"""Translations: Chinese by default, English on request, and every message translated."""

import gettext
import re
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
