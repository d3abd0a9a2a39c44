"""The segment report (spec 2.3.4 自动生成分析报告): written as HTML and PDF at each nightly
refresh, in the site's language, served as the latest report, old ones purged."""

from decimal import Decimal

import pytest

from customers.models import Customer
from customers.services import customer_create
from segments.models import Segment, SegmentSnapshot
from segments.services.nightly import run_nightly
from segments.services.segments import purge_old_reports, refresh_all_segments, segment_refresh
from tests.customers.conftest import next_phone

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def segment():
    for amount in ("50", "1500", "3000"):
        customer = customer_create(actor=None, name="客户", phone=next_phone())
        Customer.objects.filter(pk=customer.pk).update(total_spent=Decimal(amount), level="vip")
    return Segment.objects.create(
        name="大客户",
        description="累计消费超过一千元",
        condition={
            "logicalOperator": "and",
            "conditions": [{"field": "totalSpent", "operator": "gte", "value": 1000}],
        },
    )


def test_the_nightly_refresh_writes_an_html_and_a_pdf_report_in_chinese(segment):
    run_nightly()

    snapshot = SegmentSnapshot.objects.get(segment=segment)
    html = snapshot.report_html.read().decode()
    assert 'lang="zh-hans"' in html and "大客户" in html and "累计消费超过一千元" in html
    assert "平均累计消费" in html and "全部客户" in html
    pdf = snapshot.report_pdf.read()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_a_refresh_on_demand_writes_no_report(segment):
    refreshed = segment_refresh(segment_id=segment.pk)

    assert not refreshed.snapshot.report_pdf


def test_the_latest_report_is_served_as_pdf_or_html(segment, api_client, make_user):
    client = api_client(make_user("marketer", roles=["marketing"]))
    url = f"/api/v1/customers/segments/{segment.pk}/report"
    assert client.get(url).status_code == 404

    refresh_all_segments(with_reports=True)

    pdf = client.get(url)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    html = client.get(url, {"type": "html"})
    assert html["Content-Type"].startswith("text/html") and "大客户".encode() in b"".join(
        html.streaming_content
    )
    assert client.get(url, {"type": "doc"}).status_code == 400
    desk = api_client(make_user("desk", roles=["customer_service"]))
    assert desk.get(url).status_code == 403


def test_only_the_newest_reports_are_kept(segment):
    for _ in range(3):
        refresh_all_segments(with_reports=True)

    purged = purge_old_reports(segment_id=segment.pk, keep=1)

    assert purged == 2
    snapshots = SegmentSnapshot.objects.filter(segment=segment).order_by("-taken_at", "-id")
    assert [bool(s.report_pdf) for s in snapshots] == [True, False, False]
    assert all(s.stats["count"] == 2 for s in snapshots)
