"""The segment and RFM screens: the builder, writes through the services, the analysis, the RFM
form and its tier table, and who may see them."""

import json
from decimal import Decimal

import pytest

from crm.models import AuditEvent
from customers.models import Customer
from customers.services import customer_create
from segments.models import RfmRun, Segment, SegmentMember, SegmentSnapshot
from segments.services.segments import segment_refresh
from tests.customers.conftest import next_phone
from tests.segments.test_rfm import END, START

pytestmark = pytest.mark.django_db

CONDITION = {
    "logicalOperator": "and",
    "conditions": [{"field": "totalSpent", "operator": "gte", "value": 1000}],
}


@pytest.fixture
def marketer(client, make_user):
    client.force_login(make_user("marketer", roles=["marketing"]))
    return client


@pytest.fixture
def spenders():
    made = []
    for amount in ("50", "1500", "3000"):
        customer = customer_create(actor=None, name="客户", phone=next_phone())
        Customer.objects.filter(pk=customer.pk).update(total_spent=Decimal(amount))
        made.append(customer)
    return made


def add_segment(client, django_capture_on_commit_callbacks, condition=CONDITION, name="大客户"):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            "/admin/segments/segment/add/",
            {"name": name, "description": "", "scope": "", "condition": json.dumps(condition)},
        )


def test_a_segment_added_in_the_admin_goes_through_the_service(
    marketer, spenders, django_capture_on_commit_callbacks
):
    response = add_segment(marketer, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.customer_count == 2
    assert SegmentMember.objects.filter(segment=segment).count() == 2
    assert AuditEvent.objects.filter(object_type="segments.segment", action="create").count() == 1


def test_a_bad_condition_shows_on_the_form_and_saves_nothing(
    marketer, spenders, django_capture_on_commit_callbacks
):
    bad = {
        "logicalOperator": "and",
        "conditions": [{"field": "nope", "operator": "eq", "value": 1}],
    }

    response = add_segment(marketer, django_capture_on_commit_callbacks, condition=bad)

    assert response.status_code == 200
    assert "condition.conditions[0].field" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_builder_gets_the_registry_and_the_page_shows_the_analysis(
    marketer, spenders, django_capture_on_commit_callbacks
):
    add_segment(marketer, django_capture_on_commit_callbacks)
    segment = Segment.objects.get()

    page = marketer.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert 'class="crm-condition-builder"' in page and "rfmTier" in page
    assert "crm/segment_builder.js" in page
    assert "/api/v1/customers/segments/preview" in page
    assert "crm-segment-analysis" in page and "分析" in page
    assert spenders[2].customer_no in page  # a member


def test_the_refresh_action_and_the_delete_use_the_services(
    marketer, spenders, django_capture_on_commit_callbacks
):
    add_segment(marketer, django_capture_on_commit_callbacks)
    segment = Segment.objects.get()

    marketer.post(
        "/admin/segments/segment/",
        {"action": "refresh_selected", "_selected_action": [segment.pk]},
    )
    assert SegmentSnapshot.objects.filter(segment=segment).count() == 2
    marketer.post(f"/admin/segments/segment/{segment.pk}/delete/", {"post": "yes"})
    assert not Segment.objects.exists() and not SegmentMember.objects.exists()


def test_an_rfm_run_started_in_the_admin_shows_its_tiers(marketer, shop):
    response = marketer.post(
        "/admin/segments/rfmrun/add/",
        {
            "start": START.isoformat(),
            "end": END.isoformat(),
            "tiers": 3,
            "weight_r": "1",
            "weight_f": "1",
            "weight_m": "1",
        },
    )

    assert response.status_code == 302
    run = RfmRun.objects.get()
    assert run.status == "done" and run.created_by.username == "marketer"
    page = marketer.get(f"/admin/segments/rfmrun/{run.pk}/change/").content.decode()
    assert "crm-rfm-report" in page and "重要价值客户" in page


def test_the_rfm_form_refuses_bad_parameters_with_the_services_message(marketer):
    response = marketer.post(
        "/admin/segments/rfmrun/add/",
        {
            "start": END.isoformat(),
            "end": START.isoformat(),
            "tiers": 5,
            "weight_r": "0",
            "weight_f": "0",
            "weight_m": "0",
        },
    )

    assert response.status_code == 200
    assert not RfmRun.objects.exists()
    page = response.content.decode()
    assert "结束日期早于开始日期" in page


def test_a_running_run_shows_its_progress_and_polls(marketer):
    run = RfmRun.objects.create(start=START, end=END, status="running", progress=10)

    page = marketer.get(f"/admin/segments/rfmrun/{run.pk}/change/").content.decode()

    assert "<progress" in page and "crm/rfm_progress.js" in page
    assert f"/api/v1/segments/rfm-runs/{run.pk}" in page


def test_roles_without_segments_do_not_see_them(client, make_user, spenders):
    client.force_login(make_user("desk", roles=["customer_service"]))

    assert client.get("/admin/segments/segment/").status_code == 403
    assert client.get("/admin/segments/rfmrun/add/").status_code == 403


def test_refresh_needs_its_own_permission(client, make_user, spenders):
    client.force_login(make_user("reader", roles=["customer_service"]))
    segment = Segment.objects.create(name="x", condition=CONDITION)
    segment_refresh(segment_id=segment.pk)

    response = client.post(
        "/admin/segments/segment/", {"action": "refresh_selected", "_selected_action": [segment.pk]}
    )
    assert response.status_code == 403
