"""The fields an import file may hold and the headers that map to them.

A header maps to a field when, after normalising (lower case, no spaces, underscores or dashes),
it equals one of the field's aliases. A bilingual header such as "姓名 / name" maps when either
side does, so the downloadable template is accepted as is.
"""

import re

from django.utils.translation import gettext_lazy as _

# Written in the error file next to the original columns; ignored when the file is re-imported.
ERROR_COLUMN = "错误原因 / error"

CUSTOMER_FIELDS = {
    "name": _("Name"),
    "phone": _("Phone"),
    "email": _("E-mail"),
    "gender": _("Gender"),
    "birthday": _("Birthday"),
    "tags": _("Tags"),
    "source": _("Source"),
    "register_date": _("Registration date"),
    "customer_no": _("Customer number"),
}
CUSTOMER_REQUIRED = ("name", "phone")
CUSTOMER_ALIASES = {
    "name": ["姓名", "名字", "客户姓名", "客户名称", "name", "fullname", "customername"],
    "phone": ["手机号", "手机", "手机号码", "电话", "联系电话", "phone", "mobile", "phonenumber"],
    "email": ["邮箱", "电子邮箱", "邮件", "电子邮件", "email", "mail", "emailaddress"],
    "gender": ["性别", "gender", "sex"],
    "birthday": ["生日", "出生日期", "birthday", "birthdate", "dateofbirth", "dob"],
    "tags": ["标签", "客户标签", "tags", "tag"],
    "source": ["来源", "客户来源", "source"],
    "register_date": ["注册日期", "注册时间", "registerdate", "registrationdate", "registered"],
    "customer_no": ["客户编号", "编号", "会员编号", "customerno", "customernumber"],
}
# The template's headers: both languages in one cell, accepted by the mapper.
CUSTOMER_TEMPLATE_HEADERS = [
    "姓名 / name",
    "手机号 / phone",
    "邮箱 / email",
    "性别 / gender",
    "生日 / birthday",
    "标签 / tags",
    "来源 / source",
    "注册日期 / registerDate",
    "客户编号 / customerNo",
]

ORDER_FIELDS = {
    "external_id": "externalId",
    "source": "source",
    "store_id": "storeId",
    "channel": "channel",
    "phone": "phone",
    "name": "name",
    "placed_at": "placedAt",
    "amount": "amount",
    "discount": "discount",
    "payment_method": "paymentMethod",
    "dish": "dish",
    "category": "category",
    "tastes": "tastes",
    "quantity": "quantity",
    "price": "price",
}
ORDER_REQUIRED = ("external_id", "phone", "placed_at", "amount", "dish", "price")
ORDER_ALIASES = {
    "external_id": ["externalid", "订单号", "外部订单号"],
    "source": ["source", "来源系统"],
    "store_id": ["storeid", "门店", "门店编号"],
    "channel": ["channel", "渠道"],
    "phone": ["phone", "手机号", "手机"],
    "name": ["name", "姓名"],
    "placed_at": ["placedat", "下单时间"],
    "amount": ["amount", "金额", "订单金额"],
    "discount": ["discount", "优惠", "折扣"],
    "payment_method": ["paymentmethod", "支付方式"],
    "dish": ["dish", "菜品"],
    "category": ["category", "菜系", "分类"],
    "tastes": ["tastes", "口味"],
    "quantity": ["quantity", "数量"],
    "price": ["price", "单价", "价格"],
}


def normalize_header(header) -> str:
    return re.sub(r"[\s_\-]+", "", str(header or "")).lower()


def auto_mapping(headers: list[str], aliases: dict[str, list[str]]) -> dict[str, str]:
    """{file header: field} for the headers we recognise; the first header wins a field."""
    lookup = {alias: field for field, names in aliases.items() for alias in names}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        for part in [header, *str(header or "").split("/")]:
            field = lookup.get(normalize_header(part))
            if field and field not in taken:
                mapping[header] = field
                taken.add(field)
                break
    return mapping


def parse_mapping(text: str) -> dict[str, str]:
    """`'手机=phone,名字=name'` -> {"手机": "phone", "名字": "name"}; an empty field ignores a
    header. Raises ValueError for an entry without "="."""
    mapping = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        if "=" not in entry:
            raise ValueError(entry)
        header, field = entry.rsplit("=", 1)
        mapping[header.strip()] = field.strip()
    return mapping


def resolve_mapping(
    headers: list[str], aliases: dict[str, list[str]], explicit: dict[str, str] | None
) -> dict[str, str]:
    """The automatic mapping, overridden by the explicit one ({header: field or ""})."""
    mapping = auto_mapping(headers, aliases)
    for header, field in (explicit or {}).items():
        if field:
            mapping = {h: f for h, f in mapping.items() if f != field}
            mapping[header] = field
        else:
            mapping.pop(header, None)
    return {header: field for header, field in mapping.items() if header in headers}


def accepted_headers(aliases: dict[str, list[str]], required) -> str:
    return "; ".join(f"{field}: {', '.join(aliases[field])}" for field in required)
