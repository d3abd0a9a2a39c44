"""The segment report of spec 2.3.4 (自动生成分析报告): written at each nightly refresh as an HTML
page and a PDF, in the site's language, from what the segment page shows (selectors.
segment_report). It holds aggregates only: no customer can be identified from it."""

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from customers.exports.writers import data_table, paragraph_styles, pdf_document
from segments.models import SegmentSnapshot
from segments.selectors import segment_report


def write_segment_report(snapshot: SegmentSnapshot, *, everyone: dict | None = None) -> None:
    """Render the report of the snapshot's segment and store it with the snapshot."""
    with translation.override(settings.LANGUAGE_CODE):
        report = segment_report(snapshot.segment, everyone=everyone)
        html = render_to_string("segments/report.html", {"report": report})
        pdf = _pdf(report)
    name = f"{snapshot.segment_id}-{timezone.localtime(snapshot.taken_at):%Y%m%d-%H%M}"
    snapshot.report_html.save(f"{name}.html", ContentFile(html.encode()), save=False)
    snapshot.report_pdf.save(f"{name}.pdf", ContentFile(pdf), save=False)
    snapshot.save(update_fields=["report_html", "report_pdf"])


def _pdf(report: dict) -> bytes:
    buffer = io.BytesIO()
    title = _("Segment report: %(name)s") % {"name": report["segment"]["name"]}
    document = pdf_document(buffer, title=title, wide=False)
    styles = paragraph_styles()
    width = document.width
    refreshed = report["refreshedAt"]
    story = [
        Paragraph(_escape(title), styles["title"]),
        Paragraph(
            _escape(
                _("As of the refresh at %(at)s, beside all customers.")
                % {"at": f"{timezone.localtime(refreshed):%Y-%m-%d %H:%M}" if refreshed else "-"}
            ),
            styles["small"],
        ),
        Spacer(1, 4 * mm),
    ]
    if report["description"]:
        story += [Paragraph(_escape(report["description"]), styles["body"]), Spacer(1, 3 * mm)]
    story.append(
        data_table(
            [
                [_("Figure"), _("This segment"), _("All customers"), _("Difference")],
                *[
                    [
                        row["label"],
                        _shown(row["segment"]),
                        _shown(row["other"]),
                        _shown(row["difference"]),
                    ]
                    for row in report["metrics"]
                ],
            ],
            width=width,
        )
    )
    for title_, rows in report["mixes"]:
        story += [Spacer(1, 4 * mm), Paragraph(_escape(str(title_)), styles["heading"])]
        table = [[_("Value"), _("customers"), _("Share")]]
        table += [[label, count, f"{share * 100:.1f}%"] for label, count, share in rows]
        story.append(data_table(table, width=width))
    story += [Spacer(1, 4 * mm), Paragraph(_escape(_("Trend")), styles["heading"])]
    trend = [[_("Refreshed"), _("customers"), _("joined"), _("left")]]
    trend += [
        [
            f"{timezone.localtime(point['at']):%Y-%m-%d}",
            point["count"],
            point["added"],
            point["removed"],
        ]
        for point in report["trend"]
    ]
    story.append(data_table(trend, width=width))
    document.build(story)
    return buffer.getvalue()


def _shown(value) -> str:
    return "-" if value is None else str(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
