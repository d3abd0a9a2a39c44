"""Demo data for `make run`: about 1,000 realistic customers, loaded once.

Names follow the real skew of Chinese surnames (王, 李, 张 ... are common) with one or two given
characters, so 2-character names repeat as they do in life. Everything derives from a fixed seed,
so a second run finds the same phone numbers taken and loads nothing.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from crm.encryption import blind_index
from crm.pii import normalize_phone
from customers.models import (
    Address,
    Customer,
    CustomerLevel,
    CustomerSource,
    CustomerTag,
    Gender,
    Tag,
)

SURNAMES = (
    "王王王王王王王王李李李李李李李张张张张张张张刘刘刘刘刘陈陈陈陈杨杨杨黄黄赵赵吴吴周周"
    "徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯欣怡佳琪"
    "婷雪梅琳晨阳子涵思雨博文轩嘉豪俊杰晓东海燕春燕志强永刚"
)
TAGS = [
    "美食爱好者",
    "价格敏感",
    "追求品质",
    "家庭聚餐",
    "商务宴请",
    "辣味偏好",
    "素食",
    "生日客户",
]
CITIES = [
    ("北京市", "北京市", "朝阳区"),
    ("上海市", "上海市", "浦东新区"),
    ("广东省", "广州市", "天河区"),
    ("广东省", "深圳市", "南山区"),
    ("四川省", "成都市", "武侯区"),
    ("浙江省", "杭州市", "西湖区"),
]
LEVEL_WEIGHTS = [
    (CustomerLevel.REGULAR, 70),
    (CustomerLevel.MEMBER, 18),
    (CustomerLevel.VIP, 9),
    (CustomerLevel.SVIP, 3),
]
SEED = 20250120


MOBILE_PREFIXES = [f"13{d}" for d in range(10)] + ["150", "151", "152", "158", "159", "186", "188"]


def demo_phone(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def load_demo_customers(count: int = 1000) -> int:
    """Create `count` demo customers unless they exist; return how many were created."""
    rng = random.Random(SEED)
    now = timezone.now()
    customers, seen = [], set()
    while len(customers) < count:
        phone = normalize_phone(demo_phone(rng))
        if phone in seen:
            continue
        seen.add(phone)
        customers.append(_demo_customer(rng, phone, now))
    # Demo phones already taken (a previous run, or a customer since re-phoned) are skipped.
    taken = set(
        Customer.objects.filter(
            phone_index__in=[blind_index(c.phone, purpose="phone") for c in customers]
        ).values_list("phone_index", flat=True)
    )
    customers = [c for c in customers if blind_index(c.phone, purpose="phone") not in taken]
    if not customers:
        return 0
    with transaction.atomic():
        tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
        for customer in customers:
            customer.refresh_search_columns()
        bulk_create_with_history(customers, Customer, batch_size=500)
        created = list(Customer.objects.filter(phone_index__in=[c.phone_index for c in customers]))
        CustomerTag.objects.bulk_create(
            [
                CustomerTag(customer=customer, tag=tag)
                for customer in created
                for tag in rng.sample(tags, rng.choice([0, 1, 1, 2, 3]))
            ]
        )
        Address.objects.bulk_create(
            [_demo_address(rng, customer) for customer in created if rng.random() < 0.6]
        )
    return len(created)


def _demo_customer(rng: random.Random, phone: str, now) -> Customer:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
    created_at = now - timedelta(days=rng.randrange(730), minutes=rng.randrange(1440))
    order_count = rng.choice([0, 0, 1, 1, 2, 3, 5, 8, 13, 21, 40])
    total = Decimal(sum(rng.randint(40, 400) for _ in range(order_count)))
    last_order = created_at + (now - created_at) * rng.random() if order_count else None
    level = rng.choices([lvl for lvl, _w in LEVEL_WEIGHTS], [w for _l, w in LEVEL_WEIGHTS])[0]
    return Customer(
        name=name,
        phone=phone,
        email=f"guest{rng.randrange(10**6)}@example.com" if rng.random() < 0.4 else None,
        gender=rng.choice([Gender.MALE, Gender.FEMALE, Gender.UNKNOWN]),
        birthday=(now - timedelta(days=rng.randrange(18 * 365, 65 * 365))).date()
        if rng.random() < 0.7
        else None,
        level=level,
        points=int(total) if level != CustomerLevel.REGULAR else int(total) // 2,
        total_spent=total,
        order_count=order_count,
        avg_order_value=(total / order_count).quantize(Decimal("0.01")) if order_count else 0,
        first_order_date=created_at if order_count else None,
        last_order_date=last_order,
        register_date=timezone.localtime(created_at).date(),
        source=rng.choice(CustomerSource.values),
        created_at=created_at,
    )


def _demo_address(rng: random.Random, customer: Customer) -> Address:
    province, city, district = rng.choice(CITIES)
    return Address(
        customer=customer,
        label=rng.choice(["家", "公司", ""]),
        recipient=customer.name,
        province=province,
        city=city,
        district=district,
        detail=f"{rng.choice(['建国路', '人民路', '解放路', '中山路'])}{rng.randint(1, 300)}号",
        is_default=True,
    )
