from django.test import override_settings

from crm.checks import check_pii_keys


def ids(errors):
    return [error.id for error in errors]


def test_configured_keys_pass():
    assert check_pii_keys(None) == []


@override_settings(FIELD_ENCRYPTION_KEYS=[], BLIND_INDEX_KEY="")
def test_missing_keys_stop_the_server():
    assert ids(check_pii_keys(None)) == ["crm.E001", "crm.E003"]


@override_settings(FIELD_ENCRYPTION_KEYS=["not-a-key"])
def test_malformed_key_is_reported():
    assert ids(check_pii_keys(None)) == ["crm.E002"]
