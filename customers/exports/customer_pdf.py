"""The PDF of one customer's detail (spec 2.1.4 支持导出客户详情): profile, stats, tags,
addresses, recent orders with their dishes and recent communications.

Phone, e-mail, the birthday's year, recipients and street addresses are masked unless `reveal`;
the caller (customers.exports.service.export_customer_pdf) decides and audits. Sections the
reader may not see (`show_addresses`, `show_orders`, `show_communications`) are left out.
"""

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from crm.pii import mask_birthday, mask_text
from customers.exports.writers import data_table, paragraph_styles, pdf_document
from customers.models import Address, Communication, Customer, Order
from customers.pii_access import shown_email, shown_phone


def customer_pdf(
    customer: Customer,
    *,
    reveal: bool,
    show_addresses: bool = True,
    show_orders: bool = True,
    show_communications: bool = True,
) -> bytes:
    """`customer` as customers.selectors.customer_detail returns it."""
    buffer = io.BytesIO()
    title = _("Customer %(number)s") % {"number": customer.customer_no}
    document = pdf_document(buffer, title=title, wide=False)
    styles = paragraph_styles()
    width = document.width
    story = [
        Paragraph(_text(f"{title} · {customer.name}"), styles["title"]),
        Paragraph(
            _text(_("Printed %(at)s") % {"at": f"{timezone.localtime():%Y-%m-%d %H:%M}"}),
            styles["small"],
        ),
        Spacer(1, 4 * mm),
    ]

    def section(heading, rows, empty=None):
        story.append(Paragraph(_text(heading), styles["heading"]))
        if len(rows) > 1:
            story.append(data_table(rows, width=width, font_size=8))
        else:
            story.append(Paragraph(_text(empty or _("None.")), styles["body"]))
        story.append(Spacer(1, 4 * mm))

    field = Customer._meta.get_field
    section(
        _("Profile"),
        [
            [_("Field"), _("Value")],
            [field("customer_no").verbose_name, customer.customer_no],
            [field("name").verbose_name, customer.name],
            [field("phone").verbose_name, shown_phone(customer.phone, reveal=reveal) or ""],
            [field("email").verbose_name, shown_email(customer.email, reveal=reveal) or ""],
            [field("gender").verbose_name, customer.get_gender_display()],
            [
                field("birthday").verbose_name,
                _date(customer.birthday)
                if reveal or not customer.birthday
                else mask_birthday(_date(customer.birthday)),
            ],
            [field("level").verbose_name, customer.get_level_display()],
            [field("status").verbose_name, customer.get_status_display()],
            [field("source").verbose_name, customer.get_source_display()],
            [field("register_date").verbose_name, _date(customer.register_date)],
            [field("tags").verbose_name, ", ".join(tag.name for tag in customer.tags.all())],
        ],
    )
    section(
        _("Consumption"),
        [
            [_("Field"), _("Value")],
            [field("total_spent").verbose_name, f"¥{customer.total_spent}"],
            [field("order_count").verbose_name, customer.order_count],
            [field("avg_order_value").verbose_name, f"¥{customer.avg_order_value}"],
            [field("points").verbose_name, customer.points],
            [field("first_order_date").verbose_name, _datetime(customer.first_order_date)],
            [field("last_order_date").verbose_name, _datetime(customer.last_order_date)],
        ],
    )
    if show_addresses:
        address_field = Address._meta.get_field
        section(
            _("Addresses"),
            [
                [
                    address_field("label").verbose_name,
                    address_field("recipient").verbose_name,
                    address_field("phone").verbose_name,
                    _("Region"),
                    address_field("detail").verbose_name,
                    address_field("is_default").verbose_name,
                ]
            ]
            + [
                [
                    address.label,
                    address.recipient if reveal else mask_text(address.recipient),
                    shown_phone(address.phone, reveal=reveal) or "",
                    " ".join(filter(None, [address.province, address.city, address.district])),
                    address.detail if reveal else ("****" if address.detail else ""),
                    "✓" if address.is_default else "",
                ]
                for address in customer.addresses.all()
            ],
        )
    if show_orders:
        order_field = Order._meta.get_field
        rows = [
            [
                order_field("placed_at").verbose_name,
                order_field("external_id").verbose_name,
                order_field("channel").verbose_name,
                _("dishes"),
                order_field("amount").verbose_name,
                order_field("status").verbose_name,
            ]
        ]
        for order in customer.recent_orders:
            rows.append(
                [
                    _datetime(order.placed_at),
                    order.external_id,
                    order.get_channel_display(),
                    ", ".join(f"{item.dish} ×{item.quantity}" for item in order.items.all()),
                    f"¥{order.amount}",
                    order.get_status_display(),
                ]
            )
        section(_("Recent orders"), rows, _("No orders yet."))
    if show_communications:
        communication_field = Communication._meta.get_field
        rows = [
            [
                communication_field("created_at").verbose_name,
                communication_field("channel").verbose_name,
                communication_field("content").verbose_name,
                communication_field("result").verbose_name,
                communication_field("staff").verbose_name,
            ]
        ]
        for communication in customer.recent_communications:
            rows.append(
                [
                    _datetime(communication.created_at),
                    communication.get_channel_display(),
                    communication.content[:200],
                    communication.result[:200],
                    communication.staff.username if communication.staff else "",
                ]
            )
        section(_("Recent communications"), rows, _("No communications yet."))
    document.build(story)
    return buffer.getvalue()


def _text(value) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _date(value) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def _datetime(value) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else ""
