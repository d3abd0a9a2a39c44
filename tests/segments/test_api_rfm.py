"""The RFM endpoints (spec 2.3.1): start a run, read its tiers and classes, page its customers."""

from datetime import date

import pytest

from crm.models import AccessLog
from segments.models import RfmRun
from tests.segments.test_rfm import END, START

pytestmark = pytest.mark.django_db

BODY = {"start": START.isoformat(), "end": END.isoformat(), "tiers": 3}


@pytest.fixture
def marketer_client(api_client, make_user):
    return api_client(make_user("marketer", roles=["marketing"]))


def test_a_small_run_is_done_within_the_request(shop, marketer_client):
    response = marketer_client.post("/api/v1/segments/rfm-runs", BODY, format="json")

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["status"] == "done" and data["progress"] == 100
    run = RfmRun.objects.get(pk=data["id"])
    assert (run.scored, run.created_by.username) == (4, "marketer")


def test_the_run_reads_as_tiers_with_shares_and_descriptions_and_classes(shop, marketer_client):
    run_id = marketer_client.post("/api/v1/segments/rfm-runs", BODY, format="json").json()["data"][
        "id"
    ]

    data = marketer_client.get(f"/api/v1/segments/rfm-runs/{run_id}").json()["data"]

    assert (data["scored"], data["unscored"], data["tierCount"]) == (4, 3, 3)
    assert data["weights"] == {"r": 1.0, "f": 1.0, "m": 1.0}
    first = data["tiers"][0]
    assert (first["tier"], first["count"], first["share"]) == (1, 2, 0.5)
    assert first["spendShare"] == round(2600 / 2700, 4)
    assert first["avgMonetary"] == 1300.0
    assert "35.5 days" in first["description"] and "96.3% of the spend" in first["description"]
    important = next(row for row in data["classes"] if row["class"] == "important_value")
    assert important == {"class": "important_value", "label": "Important value", "count": 1}


def test_the_descriptions_follow_the_request_language(shop, api_client, make_user):
    client = api_client(make_user("marketer", roles=["marketing"]), language="zh-hans")
    run_id = client.post("/api/v1/segments/rfm-runs", BODY, format="json").json()["data"]["id"]

    data = client.get(f"/api/v1/segments/rfm-runs/{run_id}").json()["data"]

    assert "天" in data["tiers"][0]["description"]
    assert {row["label"] for row in data["classes"]} >= {"重要价值客户", "一般挽留客户"}


def test_a_tiers_customers_are_listed_best_first(shop, marketer_client):
    run_id = marketer_client.post("/api/v1/segments/rfm-runs", BODY, format="json").json()["data"][
        "id"
    ]

    response = marketer_client.get(f"/api/v1/segments/rfm-runs/{run_id}/customers?tier=1")

    data = response.json()["data"]
    assert [item["name"] for item in data["items"]] == ["A", "C"]
    assert data["pagination"]["total"] == 2
    (entry,) = AccessLog.objects.filter(action="api:rfm-run-customers")
    assert sorted(entry.customer_ids) == sorted([shop["a"].pk, shop["c"].pk])
    assert data["items"][0] == {
        "customerId": str(shop["a"].pk),
        "customerNo": shop["a"].customer_no,
        "name": "A",
        "recencyDays": 1,
        "frequency": 3,
        "monetary": 600.0,
        "rScore": 3,
        "fScore": 4,
        "mScore": 3,
        "score": 3.333,
        "tier": 1,
        "rfmClass": "important_value",
    }
    by_class = marketer_client.get(
        f"/api/v1/segments/rfm-runs/{run_id}/customers?rfmClass=general_retain"
    ).json()["data"]["items"]
    assert [item["name"] for item in by_class] == ["D"]


def test_a_large_run_goes_to_the_background_and_reports_its_progress(
    shop, marketer_client, settings, django_capture_on_commit_callbacks
):
    settings.RFM_SYNC_ORDERS = 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = marketer_client.post("/api/v1/segments/rfm-runs", BODY, format="json")

    data = response.json()["data"]
    assert (data["status"], data["progress"]) == ("pending", 0)
    for callback in callbacks:
        callback()
    detail = marketer_client.get(f"/api/v1/segments/rfm-runs/{data['id']}").json()["data"]
    assert (detail["status"], detail["progress"], detail["scored"]) == ("done", 100, 4)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "tiers": 2}, "tiers"),
        ({**BODY, "tiers": 11}, "tiers"),
        ({**BODY, "start": END.isoformat(), "end": START.isoformat()}, "end"),
        ({"end": END.isoformat()}, "start"),
        ({**BODY, "weights": {"r": 0, "f": 0, "m": 0}}, "weights"),
        ({**BODY, "weights": {"r": 101}}, "weights"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(marketer_client, body, field):
    response = marketer_client.post("/api/v1/segments/rfm-runs", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not RfmRun.objects.exists()


def test_roles_without_segments_may_neither_run_nor_read(api_client, make_user):
    client = api_client(make_user("desk", roles=["customer_service"]))
    run = RfmRun.objects.create(start=date(2025, 1, 1), end=date(2025, 1, 31))

    assert client.post("/api/v1/segments/rfm-runs", BODY, format="json").status_code == 403
    assert client.get(f"/api/v1/segments/rfm-runs/{run.pk}").status_code == 403
    assert client.get("/api/v1/segments/rfm-runs").status_code == 403
