"""Bulk test data for the scale benchmarks (issue 6): customers, their tags and two years of orders.

Everything is loaded with PostgreSQL COPY, never the ORM row by row, and derives from one seed:
the same seed, sizes and end date give the same rows. PII is stored exactly as the app stores it
(crm.encryption.encrypt of the E.164 number, blind indexes with purpose "phone"/"email",
crm.pii.phone_last4, customers.search.name_grams), so search, reveal and order recording work on
generated customers as on real ones.

How it runs (timings are printed per step):

1. Customers, one at a time: name, unique mobile, e-mail for some, and the customer's orders
   planned in memory as packed integers (placed_at, customer, basket). The order totals on the
   customer (order_count, total_spent = sum(amount - discount), avg_order_value, first/last order
   date) are what customers.services.record_order would have added up; level and points follow them.
2. Orders and their items, all customers mixed, written in placed_at order as a live system writes
   them. Items come from a table of prebuilt baskets (1-4 dishes), so an order's amount is its
   basket's sum.
3. Indexes and foreign keys that the load does not need are dropped first and rebuilt at the end;
   after the commit, VACUUM ANALYZE.
"""

import math
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from customers.devdata.tiers import level_for, points_for
from customers.devdata.words import GIVEN, MOBILE_PREFIXES, SURNAMES, TAGS
from customers.models import (
    CustomerSource,
    Gender,
    OrderChannel,
    PaymentMethod,
    Tag,
    customer_number,
)
from customers.search import contact_columns, name_grams

EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com"]
MENU = [
    ("宫保鸡丁", "川菜", "{辣}", 4800),
    ("水煮鱼", "川菜", "{麻辣}", 8800),
    ("麻婆豆腐", "川菜", "{麻辣}", 3200),
    ("酸菜鱼", "川菜", "{酸辣}", 7200),
    ("回锅肉", "川菜", "{辣}", 4600),
    ("夫妻肺片", "川菜", "{麻辣}", 3800),
    ("白切鸡", "粤菜", "{清淡}", 6800),
    ("烧鹅", "粤菜", "{}", 9800),
    ("虾饺", "粤菜", "{清淡}", 3600),
    ("叉烧", "粤菜", "{甜}", 5200),
    ("肠粉", "粤菜", "{清淡}", 1800),
    ("剁椒鱼头", "湘菜", "{辣}", 7800),
    ("小炒黄牛肉", "湘菜", "{辣}", 6600),
    ("红烧肉", "本帮菜", "{甜}", 5800),
    ("小笼包", "本帮菜", "{}", 2800),
    ("东坡肉", "浙菜", "{甜}", 6200),
    ("西湖醋鱼", "浙菜", "{酸,甜}", 6800),
    ("扬州炒饭", "淮扬菜", "{}", 2600),
    ("清炖狮子头", "淮扬菜", "{清淡}", 5600),
    ("北京烤鸭", "京菜", "{}", 12800),
    ("炸酱面", "京菜", "{咸}", 2200),
    ("凉拌黄瓜", "凉菜", "{清淡}", 1200),
    ("米饭", "主食", "{}", 300),
    ("酸梅汤", "饮品", "{酸,甜}", 800),
]
BASKETS = 4096
STORES = [f"S{n:03d}" for n in range(1, 51)]
CHANNELS = [
    (OrderChannel.DINE_IN, 55),
    (OrderChannel.TAKEAWAY, 12),
    (OrderChannel.DELIVERY, 18),
    (OrderChannel.MINI_PROGRAM, 10),
    (OrderChannel.APP, 4),
    (OrderChannel.OTHER, 1),
]
PAYMENTS = [
    (PaymentMethod.WECHAT_PAY, 52),
    (PaymentMethod.ALIPAY, 30),
    (PaymentMethod.CARD, 6),
    (PaymentMethod.CASH, 4),
    (PaymentMethod.MEMBER_BALANCE, 7),
    (PaymentMethod.OTHER, 1),
]
MEAL_HOURS = [11, 11, 12, 12, 12, 13, 14, 17, 18, 18, 18, 19, 19, 20, 21]
ORDER_SOURCE = "generated"
ORDER_SPAN_DAYS = 730
CUSTOMER_SPAN_DAYS = 1095
ZONE = ZoneInfo("Asia/Shanghai")
GENERATED_TABLES = [
    "customers_customer",
    "customers_customertag",
    "customers_order",
    "customers_orderitem",
]
# Bits of the packed order: placed_at seconds | customer index | basket.
_BASKET_BITS = 12
_CUSTOMER_BITS = 24


class TableNotEmpty(Exception):
    pass


@dataclass
class GenerateResult:
    customers: int
    orders: int
    items: int
    timings: dict


def generate_data(
    *,
    customers: int,
    orders: int,
    seed: int = 1,
    end_date: date | None = None,
    force: bool = False,
    batch: int = 50_000,
    log=print,
) -> GenerateResult:
    """Load `customers` customers and exactly `orders` orders (0 when there are no customers).

    Raises TableNotEmpty when customers exist and `force` is false; with `force`, customers,
    orders and every table that references them are truncated first. One transaction, then
    VACUUM ANALYZE (only ANALYZE when called inside a transaction, as in tests).
    """
    if customers >= 2**_CUSTOMER_BITS:
        raise ValueError(f"At most {2**_CUSTOMER_BITS - 1} customers.")
    end_date = end_date or timezone.localdate()
    timings = {}
    clock = _Clock(timings, log)
    outer_transaction = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        cur = cursor.cursor  # the psycopg cursor, for COPY
        # Deferred foreign-key checks still queued by the caller's transaction (tests) would
        # forbid the DDL below: run them now; the rest of this transaction checks immediately.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SELECT EXISTS (SELECT 1 FROM customers_customer)")
        if cur.fetchone()[0]:
            if not force:
                raise TableNotEmpty()
            cur.execute(
                "TRUNCATE customers_customer, customers_order, customers_orderitem, "
                "customers_customertag RESTART IDENTITY CASCADE"
            )
            cur.execute("ALTER SEQUENCE customer_no_seq RESTART")
            clock.step("truncate")
        tag_ids = [Tag.objects.get_or_create(name=name)[0].pk for name in TAGS]
        dropped = _drop_secondary(cur)
        clock.step("drop indexes and foreign keys")

        generator = _Generator(seed=seed, end_date=end_date, customers=customers, orders=orders)
        first_id = _reserve_ids(cur, "customers_customer", customers)
        first_no = _reserve_customer_numbers(cur, customers)
        with cur.copy(
            "COPY customers_customer (id, customer_no, name, name_grams, phone, phone_index, "
            "phone_last4, email, email_index, gender, birthday, avatar, level, points, "
            "total_spent, order_count, avg_order_value, first_order_date, last_order_date, "
            "register_date, status, source, erased_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in generator.customer_rows(first_id, first_no):
                copy.write_row(row)
        clock.step(f"customers ({customers:,} rows, incl. encryption)")

        with cur.copy(
            "COPY customers_customertag (customer_id, tag_id, created_at) FROM STDIN"
        ) as copy:
            for row in generator.tag_rows(first_id, tag_ids):
                copy.write_row(row)
        clock.step("customer tags")

        generator.sort_orders()
        clock.step(f"sort {len(generator.planned):,} orders by placed_at")

        first_order = _reserve_ids(cur, "customers_order", len(generator.planned))
        item_count = 0
        # Orders and items are plain TSV built from generated values that hold no tab, newline
        # or backslash: write() of whole chunks costs less than write_row() per row.
        with cur.copy(
            "COPY customers_order (id, customer_id, source, external_id, store_id, channel, "
            "placed_at, amount, discount, currency, points_used, payment_method, status, "
            "refunded_amount, customer_created, created_at) FROM STDIN"
        ) as order_copy:
            for chunk in generator.order_chunks(first_order, first_id, batch):
                order_copy.write(chunk)
        clock.step(f"orders ({len(generator.planned):,} rows)")
        with cur.copy(
            "COPY customers_orderitem (order_id, dish, category, tastes, quantity, price) "
            "FROM STDIN"
        ) as item_copy:
            for chunk, count in generator.item_chunks(first_order, batch):
                item_copy.write(chunk)
                item_count += count
        clock.step(f"order items ({item_count:,} rows)")

        _restore_secondary(cur, dropped, clock)
    if not outer_transaction:
        clock.step("commit")
    # VACUUM sets the visibility map (index-only scans, e.g. for counts) and hint bits, as on a
    # live system; it cannot run inside a transaction (tests), where ANALYZE alone has to do.
    with connection.cursor() as cursor:
        for table in GENERATED_TABLES:
            cursor.execute(f"{'ANALYZE' if outer_transaction else 'VACUUM (ANALYZE)'} {table}")
    clock.step("analyze" if outer_transaction else "vacuum analyze")
    return GenerateResult(customers, len(generator.planned), item_count, timings)


class _Clock:
    def __init__(self, timings, log):
        self.timings, self.log = timings, log
        self.start = self.last = time.perf_counter()

    def step(self, name):
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 2)
        self.log(f"{name}: {now - self.last:.1f} s (total {now - self.start:.1f} s)")
        self.last = now


def _reserve_ids(cur, table: str, count: int) -> int:
    """Take `count` ids from the table's identity sequence; returns the first."""
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cur.fetchone()[0]
    cur.execute("SELECT nextval(%s)", [sequence])
    first = cur.fetchone()[0]
    if count > 1:
        cur.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def _reserve_customer_numbers(cur, count: int) -> int:
    """Numbers from customer_no_seq, as next_customer_no() gives them; later inserts go on after."""
    cur.execute("SELECT nextval('customer_no_seq')")
    first = cur.fetchone()[0]
    if count > 1:
        cur.execute("SELECT setval('customer_no_seq', %s)", [first + count - 1])
    return first


def _drop_secondary(cur) -> list[tuple[str, str, str]]:
    """Drop the non-unique indexes and the foreign keys of the generated tables (faster to build
    once after the load than to maintain row by row); returns what to recreate."""
    cur.execute(
        """
        SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%(tables)s::regclass[]) AND NOT i.indisunique
        UNION ALL
        SELECT 'fk', c.conname,
               format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
                      pg_get_constraintdef(c.oid))
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid = ANY(%(tables)s::regclass[])
        """,
        {"tables": GENERATED_TABLES},
    )
    dropped = cur.fetchall()
    for kind, name, _definition in dropped:
        if kind == "index":
            cur.execute(f'DROP INDEX "{name}"')
        else:
            cur.execute(
                "SELECT conrelid::regclass::text FROM pg_constraint WHERE conname = %s", [name]
            )
            table = cur.fetchone()[0]
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return dropped


def _restore_secondary(cur, dropped, clock) -> None:
    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for kind, name, definition in dropped:
        cur.execute(definition)
        clock.step(f"{'index' if kind == 'index' else 'foreign key'} {name}")


class _Generator:
    """The rows, from one random stream per phase (customers, then orders)."""

    def __init__(self, *, seed: int, end_date: date, customers: int, orders: int):
        self.seed = seed
        self.customers = customers
        self.orders = orders if customers else 0
        end = datetime.combine(end_date, datetime.min.time(), tzinfo=ZONE)
        self.order_start = end - timedelta(days=ORDER_SPAN_DAYS)
        self.customer_start = end - timedelta(days=CUSTOMER_SPAN_DAYS)
        self.base_epoch = int(self.customer_start.timestamp())
        self.end_epoch = int(end.timestamp())
        self.order_start_epoch = int(self.order_start.timestamp())
        self.baskets = _baskets(random.Random(f"{seed}:baskets"))
        self.planned: list[int] = []
        self.order_counts = self._order_counts(random.Random(f"{seed}:counts"))

    def _order_counts(self, rng) -> list[int]:
        """20% without orders; the others log-normal with median ~6 and p99 ~100 at 10 orders
        a customer (the median scales with orders/customers); exactly `orders` in all."""
        n = self.customers
        if not n or not self.orders:
            return [0] * n
        ordering = [rng.random() >= 0.2 for _ in range(n)]
        buyers = sum(ordering) or 1
        median = 6 * (self.orders / buyers) / 12.5
        counts = [
            max(1, round(median * math.exp(rng.gauss(0, 1.21)))) if buys else 0 for buys in ordering
        ]
        # Adjust to exactly `orders`: one order more or less for random buyers.
        difference = self.orders - sum(counts)
        buyer_ids = [i for i, buys in enumerate(ordering) if buys] or list(range(n))
        while difference:
            i = rng.choice(buyer_ids)
            if difference > 0:
                counts[i] += 1
                difference -= 1
            elif counts[i] > 1:
                counts[i] -= 1
                difference += 1
        return counts

    def customer_rows(self, first_id: int, first_no: int):
        rng = random.Random(f"{self.seed}:customers")
        surnames = [s for s, _w in SURNAMES]
        cum_weights = list(_cumulative([w for _s, w in SURNAMES]))
        given = GIVEN
        given_weights = list(_cumulative([3 if i < 60 else 1 for i in range(len(given))]))
        seen_phones = set()
        baskets = self.baskets
        planned = self.planned
        span = self.end_epoch - self.base_epoch
        now = timezone.now()
        genders = [Gender.MALE, Gender.FEMALE, Gender.UNKNOWN]
        sources = [s for s in CustomerSource.values if s != CustomerSource.IMPORT]
        uniform, bits = rng.random, rng.getrandbits
        hours = [hour * 3600 for hour in MEAL_HOURS]
        hour_count = len(hours)
        paid = [amount - discount for amount, discount, *_rest in baskets]
        base = self.base_epoch
        shift = _CUSTOMER_BITS + _BASKET_BITS
        for index in range(self.customers):
            surname = rng.choices(surnames, cum_weights=cum_weights)[0]
            length = 1 if rng.random() < 0.3 else 2
            name = surname + "".join(rng.choices(given, cum_weights=given_weights, k=length))
            while True:
                phone = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
                if phone not in seen_phones:
                    seen_phones.add(phone)
                    break
            email = None
            if rng.random() < 0.3:
                letter = rng.choice("abcdefghjkmnpqrstwxyz")
                email = f"{letter}{index + 1}@{rng.choice(EMAIL_DOMAINS)}"
            # Created in id order over three years, like a live system.
            created = self.base_epoch + (span * index) // self.customers + rng.randrange(60)
            count = self.order_counts[index]
            total = first = last = 0
            order_from = max(created, self.order_start_epoch)
            days = max(1, (self.end_epoch - order_from) // 86400)
            day0 = order_from - (order_from - self.base_epoch) % 86400
            customer_bits = index << _BASKET_BITS
            for _ in range(count):
                # random() and getrandbits() cost a fraction of randrange()/choice().
                placed = (
                    day0
                    + int(uniform() * days) * 86400
                    + hours[int(uniform() * hour_count)]
                    + int(uniform() * 3600)
                )
                if placed < order_from:
                    placed = order_from
                elif placed >= self.end_epoch:
                    placed = self.end_epoch - 1
                basket = bits(_BASKET_BITS)
                total += paid[basket]
                if not first or placed < first:
                    first = placed
                if placed > last:
                    last = placed
                planned.append(((placed - base) << shift) | customer_bits | basket)
            created_at = datetime.fromtimestamp(created, ZONE)
            birthday = None
            if rng.random() < 0.6:
                birthday = date(1960, 1, 1) + timedelta(days=rng.randrange(45 * 365))
            yield (
                first_id + index,
                customer_number(first_no + index),
                name,
                name_grams(name),
                *contact_columns(phone, email),
                rng.choice(genders),
                birthday,
                "",
                level_for(total),
                points_for(total),
                _money(total),
                count,
                _money((2 * total + count) // (2 * count)) if count else "0.00",
                datetime.fromtimestamp(first, ZONE) if count else None,
                datetime.fromtimestamp(last, ZONE) if count else None,
                created_at.date(),
                "inactive" if rng.random() < 0.05 else "active",
                rng.choice(sources),
                None,
                created_at,
                now,
            )

    def tag_rows(self, first_id: int, tag_ids: list[int]):
        rng = random.Random(f"{self.seed}:tags")
        now = timezone.now()
        for index in range(self.customers):
            roll = rng.random()
            if roll < 0.7:
                continue
            for tag_id in rng.sample(tag_ids, 1 if roll < 0.9 else 2):
                yield (first_id + index, tag_id, now)

    def sort_orders(self) -> None:
        self.planned.sort()

    def order_chunks(self, first_order: int, first_customer: int, batch: int):
        rng = random.Random(f"{self.seed}:orders")
        baskets = self.baskets
        channels = rng.choices([c for c, _w in CHANNELS], [w for _c, w in CHANNELS], k=997)
        payments = rng.choices([p for p, _w in PAYMENTS], [w for _p, w in PAYMENTS], k=991)
        customer_mask = (1 << _CUSTOMER_BITS) - 1
        basket_mask = (1 << _BASKET_BITS) - 1
        shift = _CUSTOMER_BITS + _BASKET_BITS
        day_text = {}
        lines = []
        for position, packed in enumerate(self.planned):
            seconds = packed >> shift
            customer = (packed >> _BASKET_BITS) & customer_mask
            basket = baskets[packed & basket_mask]
            day, second = divmod(seconds, 86400)
            prefix = day_text.get(day)
            if prefix is None:
                prefix = day_text[day] = datetime.fromtimestamp(
                    self.base_epoch + day * 86400, ZONE
                ).strftime("%Y-%m-%d ")
            hour, rest = divmod(second, 3600)
            minute, sec = divmod(rest, 60)
            placed = f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}+08"
            order_id = first_order + position
            lines.append(
                f"{order_id}\t{first_customer + customer}\t{ORDER_SOURCE}\tG{order_id:010d}\t"
                f"{STORES[customer % 50] if position % 5 else STORES[(customer + position) % 50]}\t"
                f"{channels[position % 997]}\t{placed}\t{basket[2]}\t{basket[3]}\tCNY\t0\t"
                f"{payments[position % 991]}\tpaid\t0\tf\t{placed}\n"
            )
            if len(lines) >= batch:
                yield "".join(lines)
                lines = []
        if lines:
            yield "".join(lines)

    def item_chunks(self, first_order: int, batch: int):
        baskets = self.baskets
        basket_mask = (1 << _BASKET_BITS) - 1
        lines, count = [], 0
        for position, packed in enumerate(self.planned):
            order_id = str(first_order + position)
            items = baskets[packed & basket_mask][4]
            lines.extend(order_id + item for item in items)
            count += len(items)
            if len(lines) >= batch:
                yield "".join(lines), count
                lines, count = [], 0
        if lines:
            yield "".join(lines), count


def _baskets(rng) -> list[tuple[int, int, str, str, list[str]]]:
    """(amount cents, discount cents, amount text, discount text, item TSV tails) per basket."""
    baskets = []
    for _ in range(BASKETS):
        size = rng.choices([1, 2, 3, 4], [30, 35, 25, 10])[0]
        dishes = rng.sample(MENU, size)
        items, amount = [], 0
        for dish, category, tastes, price in dishes:
            quantity = rng.choice([1, 1, 1, 2, 2, 3])
            amount += price * quantity
            items.append(f"\t{dish}\t{category}\t{tastes}\t{quantity}\t{_money(price)}\n")
        discount = min(amount, rng.choice([0, 0, 0, 0, 500, 1000, 2000]))
        baskets.append((amount, discount, _money(amount), _money(discount), items))
    return baskets


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cumulative(weights):
    total = 0
    for weight in weights:
        total += weight
        yield total
