"""The default tiers (普通会员, 会员, VIP, SVIP, the spec's four codes), their benefits, the points
policy, and the nightly job's schedule in django-celery-beat (editable in its admin)."""

from decimal import Decimal

from django.db import migrations

from crm.schedules import daily_task

# code, name, English name, rank, upgrade (spend, orders), retention spend, grace days, benefits
TIERS = [
    ("regular", "普通会员", "Regular", 0, (None, None), None, 0, []),
    (
        "member",
        "会员",
        "Member",
        1,
        (Decimal("1000"), 10),
        Decimal("500"),
        30,
        [
            ("points_multiplier", Decimal("1.2"), "积分1.2倍", "1.2× points", "points"),
            ("discount", Decimal("5"), "菜品95折", "5% off dishes", "discount"),
        ],
    ),
    (
        "vip",
        "VIP",
        "VIP",
        2,
        (Decimal("5000"), 30),
        Decimal("3000"),
        30,
        [
            ("points_multiplier", Decimal("1.5"), "积分1.5倍", "1.5× points", "points"),
            ("discount", Decimal("10"), "菜品9折", "10% off dishes", "discount"),
            ("free_delivery", Decimal("0"), "外卖免配送费", "Free delivery", ""),
            ("birthday", Decimal("0"), "生日赠送长寿面", "Birthday noodles", ""),
        ],
    ),
    (
        "svip",
        "SVIP",
        "SVIP",
        3,
        (Decimal("20000"), 80),
        Decimal("12000"),
        60,
        [
            ("points_multiplier", Decimal("2"), "积分2倍", "2× points", "points"),
            ("discount", Decimal("15"), "菜品85折", "15% off dishes", "discount"),
            ("free_delivery", Decimal("0"), "外卖免配送费", "Free delivery", ""),
            (
                "exclusive_service",
                Decimal("0"),
                "专属客服与包间优先",
                "Personal host, rooms first",
                "",
            ),
            ("birthday", Decimal("0"), "生日赠送长寿面", "Birthday noodles", ""),
        ],
    ),
]


def create_defaults(apps, schema_editor):
    MembershipLevel = apps.get_model("membership", "MembershipLevel")
    Benefit = apps.get_model("membership", "Benefit")
    PointsPolicy = apps.get_model("membership", "PointsPolicy")
    for code, name, name_en, rank, (spent, orders), retain, grace, benefits in TIERS:
        level, created = MembershipLevel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "sort_order": rank,
                "min_spent": spent,
                "min_orders": orders,
                "retain_min_spent": retain,
                "grace_days": grace,
            },
        )
        if created:
            for order, (kind, value, text, text_en, group) in enumerate(benefits):
                Benefit.objects.create(
                    level=level,
                    kind=kind,
                    value=value,
                    description=text,
                    description_en=text_en,
                    exclusive_group=group,
                    sort_order=order,
                )
    PointsPolicy.objects.get_or_create(pk=1)


def schedule_nightly(apps, schema_editor):
    daily_task(
        apps,
        name="membership.nightly",
        hour=2,
        minute=30,
        description="Expire memberships and points, evaluate every customer's tier.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("membership", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
        migrations.RunPython(schedule_nightly, migrations.RunPython.noop),
    ]
