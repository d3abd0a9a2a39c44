"""Demo data for `make run`: about 1,000 realistic customers and a year of their orders, once.

Names follow the real skew of Chinese surnames (王, 李, 张 ... are common) with one or two given
characters, so 2-character names repeat as they do in life. Everything derives from a fixed seed,
so a second run finds the same phone numbers taken and loads nothing.
"""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from crm.encryption import phone_index
from crm.pii import normalize_phone
from crm.roles import CUSTOMER_SERVICE
from customers.devdata.tiers import level_for, points_for
from customers.devdata.words import GIVEN, MOBILE_PREFIXES, SURNAMES, TAGS
from customers.models import (
    Address,
    Communication,
    Customer,
    CustomerSource,
    CustomerTag,
    Gender,
    Order,
    OrderChannel,
    OrderItem,
    PaymentMethod,
    Tag,
)

CITIES = [
    ("北京市", "北京市", "朝阳区"),
    ("上海市", "上海市", "浦东新区"),
    ("广东省", "广州市", "天河区"),
    ("广东省", "深圳市", "南山区"),
    ("四川省", "成都市", "武侯区"),
    ("浙江省", "杭州市", "西湖区"),
]
SEED = 20250120
MENU = [
    ("宫保鸡丁", "川菜", ["辣"], 48),
    ("水煮鱼", "川菜", ["麻辣"], 88),
    ("麻婆豆腐", "川菜", ["麻辣"], 32),
    ("酸菜鱼", "川菜", ["酸辣"], 72),
    ("白切鸡", "粤菜", ["清淡"], 68),
    ("烧鹅", "粤菜", [], 98),
    ("虾饺", "粤菜", ["清淡"], 36),
    ("剁椒鱼头", "湘菜", ["辣"], 78),
    ("红烧肉", "本帮菜", ["甜"], 58),
    ("小笼包", "本帮菜", [], 28),
    ("东坡肉", "浙菜", ["甜"], 62),
    ("扬州炒饭", "淮扬菜", [], 26),
]


def demo_phone(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def load_demo_customers(count: int = 1000) -> int:
    """Create `count` demo customers with a year of orders unless they exist; return how many
    customers were created."""
    rng = random.Random(SEED)
    now = timezone.now()
    demo, seen = [], set()
    while len(demo) < count:
        phone = normalize_phone(demo_phone(rng))
        if phone in seen:
            continue
        seen.add(phone)
        demo.append(_demo_customer(rng, phone, now))
    # Demo phones already taken (a previous run, or a customer since re-phoned) are skipped.
    taken = set(
        Customer.objects.filter(
            phone_index__in=[phone_index(c.phone) for c, _o in demo]
        ).values_list("phone_index", flat=True)
    )
    demo = [(c, o) for c, o in demo if phone_index(c.phone) not in taken]
    if not demo:
        return 0
    with transaction.atomic():
        tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
        for customer, _orders in demo:
            customer.refresh_search_columns()
        bulk_create_with_history([c for c, _o in demo], Customer, batch_size=500)
        ids = dict(
            Customer.objects.filter(phone_index__in=[c.phone_index for c, _o in demo]).values_list(
                "phone_index", "pk"
            )
        )
        for customer, orders in demo:
            customer.pk = ids[bytes(customer.phone_index)]
            for order, _items in orders:
                order.customer_id = customer.pk
        CustomerTag.objects.bulk_create(
            [
                CustomerTag(customer_id=customer.pk, tag=tag)
                for customer, _orders in demo
                for tag in rng.sample(tags, rng.choice([0, 1, 1, 2, 3]))
            ]
        )
        Address.objects.bulk_create(
            [_demo_address(rng, customer) for customer, _orders in demo if rng.random() < 0.6]
        )
        orders = [pair for _customer, orders in demo for pair in orders]
        Order.objects.bulk_create([order for order, _items in orders], batch_size=1000)
        OrderItem.objects.bulk_create(
            [item for order, items in orders for item in _attach(order, items)], batch_size=2000
        )
        Communication.objects.bulk_create(
            _demo_communications(rng, [customer for customer, _orders in demo], now)
        )
    return len(demo)


DEMO_TALKS = [
    ("phone", "询问包间预订", "已预订周六晚包间"),
    ("phone", "反馈上菜慢", "致歉并赠送甜品券"),
    ("online", "咨询会员积分", "已说明积分规则"),
    ("in_person", "生日宴需求", "推荐生日套餐"),
    ("online", "投诉外卖洒漏", "已退款并回访"),
]


def _demo_communications(rng: random.Random, customers: list, now) -> list[Communication]:
    """A front-desk colleague's recent conversations, some with follow-ups overdue, due today
    and upcoming: the admin header and the follow-up lists have something to show."""
    staff, _created = get_user_model().objects.get_or_create(
        username="frontdesk",
        defaults={"is_staff": True, "email": "frontdesk@example.com", "first_name": "小王"},
    )
    staff.groups.add(Group.objects.get(name=CUSTOMER_SERVICE))
    # Overdue, overdue today, later today (half way to midnight, whatever the hour), upcoming.
    midnight = timezone.make_aware(
        datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min)
    )
    follow_ups = [
        -timedelta(days=2),
        -timedelta(minutes=30),
        (midnight - now) / 2,
        timedelta(days=4),
    ]
    communications = []
    for index, customer in enumerate(rng.sample(customers, min(40, len(customers)))):
        channel, content, result = rng.choice(DEMO_TALKS)
        follow_up_at = now + follow_ups[index % 4] if index < 16 else None
        communications.append(
            Communication(
                customer_id=customer.pk,
                channel=channel,
                content=content,
                result=result,
                staff=staff,
                occurred_at=now - timedelta(days=rng.randrange(1, 60), minutes=rng.randrange(600)),
                follow_up_at=follow_up_at,
                follow_up_owner=staff if follow_up_at else None,
            )
        )
    return communications


def _attach(order: Order, items: list[OrderItem]) -> list[OrderItem]:
    for item in items:
        item.order = order
    return items


def _demo_customer(rng: random.Random, phone: str, now) -> tuple[Customer, list]:
    """A customer and their orders of the last year; the order totals on the customer are
    computed from those orders exactly as customers.services.record_order would have added them."""
    surname = rng.choices([s for s, _w in SURNAMES], [w for _s, w in SURNAMES])[0]
    name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
    created_at = now - timedelta(days=rng.randrange(730), minutes=rng.randrange(1440))
    # Skewed like a restaurant's guests: many come once or twice, a few are regulars.
    order_count = rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4, 6, 9, 14, 24, 40])
    first_possible = max(created_at, now - timedelta(days=365))
    orders = sorted(
        (_demo_order(rng, first_possible, now) for _ in range(order_count)),
        key=lambda pair: pair[0].placed_at,
    )
    paid = sum((order.amount - order.discount for order, _items in orders), Decimal("0"))
    paid_cents = int(paid * 100)
    customer = Customer(
        name=name,
        phone=phone,
        # From the phone, which is unique: a random number collided once in a few hundred.
        email=f"guest{phone[-8:]}@example.com" if rng.random() < 0.4 else None,
        gender=rng.choice([Gender.MALE, Gender.FEMALE, Gender.UNKNOWN]),
        birthday=(now - timedelta(days=rng.randrange(18 * 365, 65 * 365))).date()
        if rng.random() < 0.7
        else None,
        level=level_for(paid_cents),
        points=points_for(paid_cents),
        total_spent=paid,
        order_count=len(orders),
        avg_order_value=(paid / len(orders)).quantize(Decimal("0.01")) if orders else 0,
        first_order_date=orders[0][0].placed_at if orders else None,
        last_order_date=orders[-1][0].placed_at if orders else None,
        register_date=timezone.localtime(created_at).date(),
        source=rng.choice(CustomerSource.values),
        created_at=created_at,
    )
    return customer, orders


def _demo_order(rng: random.Random, start, end) -> tuple[Order, list[OrderItem]]:
    placed_at = start + (end - start) * rng.random()
    # Lunch and dinner peaks.
    placed_at = timezone.localtime(placed_at).replace(
        hour=rng.choice([11, 12, 12, 13, 17, 18, 18, 19, 20]), minute=rng.randrange(60)
    )
    if placed_at > end:
        placed_at -= timedelta(days=1)
    items = [
        OrderItem(
            dish=dish,
            category=category,
            tastes=tastes,
            quantity=rng.choice([1, 1, 2]),
            price=Decimal(price),
        )
        for dish, category, tastes, price in rng.sample(MENU, rng.randint(1, 4))
    ]
    amount = sum((item.price * item.quantity for item in items), Decimal("0"))
    discount = Decimal(rng.choice([0, 0, 0, 5, 10, 20])).min(amount)
    order = Order(
        source="demo",
        external_id=f"DEMO-{rng.randrange(16**12):012x}",
        store_id=rng.choice(["BJ001", "SH001", "GZ001", "CD001"]),
        channel=rng.choice(OrderChannel.values),
        placed_at=placed_at,
        amount=amount,
        discount=discount,
        payment_method=rng.choice(PaymentMethod.values),
    )
    return order, items


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
