"""Customer records: the customer, addresses, tags and notes (spec 2.1, model 5.1)."""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.encryption import EncryptedTextField
from crm.file_vault import encrypted_storage
from customers.levels import base_level, level_choices
from customers.querysets import CustomerQuerySet
from customers.search import contact_columns, name_grams, next_index_columns

# Generated numbers look like C00001; callers may choose any other number.
GENERATED_CUSTOMER_NO = r"^C\d{5,}$"


class NextCustomerNo(Func):
    """`next_customer_no()`, a SQL function over a sequence (migration 0001): no gaps from
    max()+1 races and no duplicates under concurrent inserts."""

    function = "next_customer_no"
    template = "%(function)s()"
    output_field = models.CharField()


def customer_number(n: int) -> str:
    """The n-th generated customer number, as next_customer_no() formats it, for writers that
    take numbers from customer_no_seq themselves (COPY loads)."""
    return "C" + str(n).zfill(max(5, len(str(n))))


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")
    UNKNOWN = "unknown", _("Unknown")


class CustomerLevel(models.TextChoices):
    """The spec's four tier codes: the default tiers, which membership may rename or extend."""

    REGULAR = "regular", _("Regular")
    MEMBER = "member", _("Member")
    VIP = "vip", _("VIP")
    SVIP = "svip", _("SVIP")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    CHURNED = "churned", _("Churned")
    BLOCKED = "blocked", _("Blocked")
    ARCHIVED = "archived", _("Archived")


class CustomerSource(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    DINE_IN = "dine_in", _("Dine-in")
    TAKEAWAY = "takeaway", _("Takeaway")
    DELIVERY = "delivery", _("Delivery")
    MINI_PROGRAM = "mini_program", _("Mini program")
    APP = "app", _("App")
    WECHAT = "wechat", _("WeChat")
    WEBSITE = "website", _("Website")
    PHONE = "phone", _("Phone booking")
    REFERRAL = "referral", _("Referral")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class TagType(models.TextChoices):
    MANUAL = "manual", _("Manual")
    AUTO = "auto", _("Automatic")


class TagManager(models.Manager):
    def named_with_descendants(self, names) -> tuple[dict[str, int], set[int]]:
        """The ids of the tags named (by name; unknown names are left out) and the ids of those
        tags and every tag below them (spec 标签可继承: filtering by a parent tag matches the
        customers carrying any of its descendants). The tag table is small: one query reads it
        whole and the tree is walked here."""
        wanted = set(names)
        children: dict[int | None, list[int]] = {}
        named = {}
        for tag_id, name, parent_id in self.values_list("id", "name", "parent_id"):
            children.setdefault(parent_id, []).append(tag_id)
            if name in wanted:
                named[name] = tag_id
        found, frontier = set(named.values()), list(named.values())
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return named, found


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    type = models.CharField(_("type"), max_length=10, choices=TagType, default=TagType.MANUAL)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, help_text=_("Importance of the tag, 1 (low) to 100 (high).")
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent tag"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TagManager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=1) & Q(weight__lte=100), name="tag_weight_1_to_100"
            ),
        ]

    def __str__(self):
        return self.name


class TagSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    RULE = "rule", _("Tag rule")


class CustomerTag(models.Model):
    """A tag on a customer (spec 5.4 ProfileTag): set by staff (manual, confidence 1) or by a
    tag rule (with the rule's confidence), which removes it again when the customer no longer
    meets the rule; a rule never removes a manual tag."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    created_at = models.DateTimeField(_("tagged at"), default=timezone.now)
    # Defaults in the database too: imports and the demo data COPY links without these columns.
    source = models.CharField(
        _("source"),
        max_length=10,
        choices=TagSource,
        default=TagSource.MANUAL,
        db_default=TagSource.MANUAL,
    )
    confidence = models.DecimalField(
        _("confidence"), max_digits=3, decimal_places=2, default=Decimal(1), db_default=Decimal(1)
    )
    # The id of the profiles.TagRule that set the tag, a plain column rather than a foreign
    # key because the core never imports profiles (DESIGN.md, "Which app may import which");
    # profiles removes the tags of a rule that is deleted or deactivated.
    rule_id = models.PositiveBigIntegerField(_("tag rule"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [
            models.UniqueConstraint(fields=["tag", "customer"], name="customer_tag_unique"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="customer_tag_confidence_0_to_1",
            ),
            models.CheckConstraint(
                condition=Q(source=TagSource.MANUAL, rule_id__isnull=True, confidence=1)
                | Q(source=TagSource.RULE, rule_id__isnull=False),
                name="customer_tag_source_rule",
            ),
        ]
        indexes = [
            models.Index(fields=["customer"], name="customer_tag_customer_idx"),
            # What a rule's run deletes: the rule-set links of its tag.
            models.Index(
                fields=["tag"],
                condition=Q(source=TagSource.RULE),
                name="customer_tag_rule_set_idx",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id}:{self.tag_id}"


class Customer(models.Model):
    customer_no = models.CharField(
        _("customer number"), max_length=32, unique=True, db_default=NextCustomerNo()
    )
    name = models.CharField(_("name"), max_length=64)
    # Written with the name (see save); the GIN index on it serves Chinese infix search.
    name_grams = ArrayField(models.CharField(max_length=2), default=list, editable=False)
    # Null only after an erasure (spec 3.3); services require a phone for every live customer.
    phone = EncryptedTextField(_("phone"), null=True)
    phone_index = models.BinaryField(max_length=32, unique=True, null=True, editable=False)
    phone_last4 = models.CharField(max_length=4, editable=False)
    email = EncryptedTextField(_("e-mail"), null=True, blank=True)
    email_index = models.BinaryField(max_length=32, unique=True, null=True, editable=False)
    # The indexes under BLIND_INDEX_KEY_NEXT, filled only while the blind indexes move to a new
    # key, and emptied when the move is finished (docs/configuration.md, "Personal data
    # encryption"); lookups match both columns meanwhile (crm.encryption.blind_index_match).
    phone_index_next = models.BinaryField(max_length=32, unique=True, null=True, editable=False)
    email_index_next = models.BinaryField(max_length=32, unique=True, null=True, editable=False)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender, default=Gender.UNKNOWN)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    avatar = models.URLField(_("avatar"), max_length=500, blank=True)
    # A membership tier's code, written only by membership; the choices are read when needed,
    # so that a tier added in the admin needs no migration.
    level = models.CharField(_("level"), max_length=16, choices=level_choices, default=base_level)
    points = models.IntegerField(_("points"), default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2, default=0)
    order_count = models.PositiveIntegerField(_("order count"), default=0)
    avg_order_value = models.DecimalField(
        _("average order value"), max_digits=12, decimal_places=2, default=0
    )
    first_order_date = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_date = models.DateTimeField(_("last order"), null=True, blank=True)
    register_date = models.DateField(_("registration date"), default=timezone.localdate)
    tags = models.ManyToManyField(
        Tag, verbose_name=_("tags"), related_name="customers", blank=True, through=CustomerTag
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CustomerStatus, default=CustomerStatus.ACTIVE
    )
    source = models.CharField(
        _("source"), max_length=20, choices=CustomerSource, default=CustomerSource.OTHER
    )
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CustomerQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=["name_grams", "updated_at", "phone_index_next", "email_index_next"],
        m2m_fields=[tags],
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("reveal_customer_pii", _("Can see unmasked phone and e-mail")),
            ("erase_customer", _("Can erase a customer's personal data")),
            ("export_customer", _("Can export customers")),
            ("import_customer", _("Can import customers")),
            ("batch_update_customer", _("Can edit customers in batch")),
            ("tag_customer", _("Can change a customer's tags (not the profile)")),
        ]
        indexes = [
            models.Index(fields=["created_at", "id"], name="customer_created_idx"),
            models.Index(fields=["total_spent", "id"], name="customer_spent_idx"),
            models.Index(fields=["order_count", "id"], name="customer_orders_idx"),
            models.Index(
                F("last_order_date").desc(nulls_last=True),
                F("id").desc(),
                name="customer_last_order_idx",
            ),
            models.Index(fields=["register_date"], name="customer_register_idx"),
            models.Index(fields=["phone_last4"], name="customer_phone_last4_idx"),
            models.Index(fields=["level"], name="customer_level_idx"),
            # Tier + registration date (+ status, id to count without the heap): the combined
            # list filter, 130 -> 17 ms at 1M customers (docs/performance.md).
            models.Index(
                fields=["level", "register_date"],
                include=["status", "id"],
                name="customer_level_register_idx",
            ),
            models.Index(fields=["status"], name="customer_status_idx"),
            models.Index(fields=["source"], name="customer_source_idx"),
            GinIndex(fields=["name_grams"], name="customer_name_grams_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="customer_points_not_negative"),
        ]

    def __str__(self):
        # Only the number: str() ends up in audit events and logs, which must hold no PII.
        return self.customer_no

    def save(self, *args, **kwargs):
        # The derived search columns follow the values they index, whoever saves the row.
        self.refresh_search_columns()
        super().save(*args, **kwargs)

    def refresh_search_columns(self) -> None:
        self.name = " ".join((self.name or "").split())
        self.name_grams = name_grams(self.name)
        indexed = (self.phone, self.email)
        # One hash per value, however often the row is checked and saved before it changes.
        if getattr(self, "_indexed", None) != indexed:
            columns = contact_columns(self.phone, self.email, encrypted=False)
            self.phone_index, self.phone_last4, self.email_index = (
                columns.phone_index,
                columns.phone_last4,
                columns.email_index,
            )
            self.phone_index_next, self.email_index_next = next_index_columns(
                self.phone, self.email
            )
            self._indexed = indexed


class Address(models.Model):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="addresses"
    )
    label = models.CharField(_("label"), max_length=20, blank=True, help_text=_("Home, office ..."))
    # Free text that names a person: encrypted like the phone and the street address.
    recipient = EncryptedTextField(
        _("recipient"),
        max_length=64,
        blank=True,
        default="",
        validators=[MaxLengthValidator(64)],
    )
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    province = models.CharField(_("province"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    district = models.CharField(_("district"), max_length=32, blank=True)
    detail = EncryptedTextField(_("street address"))
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="address_one_default_per_customer",
            ),
        ]

    def __str__(self):
        return " ".join(part for part in [self.province, self.city, self.district] if part)


class CustomerNote(models.Model):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="notes"
    )
    # Staff write personal details into notes and conversations: encrypted at rest. Nothing
    # searches these texts (docs/configuration.md, "Personal data encryption").
    body = EncryptedTextField(_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        # Not the text: str() ends up in audit events, and notes may hold personal details.
        return f"{self.customer_id}#{self.pk}"


class OrderChannel(models.TextChoices):
    DINE_IN = "dine_in", _("Dine-in")
    TAKEAWAY = "takeaway", _("Takeaway")
    DELIVERY = "delivery", _("Delivery")
    MINI_PROGRAM = "mini_program", _("Mini program")
    APP = "app", _("App")
    OTHER = "other", _("Other")


class PaymentMethod(models.TextChoices):
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    MEMBER_BALANCE = "member_balance", _("Member balance")
    OTHER = "other", _("Other")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class Order(models.Model):
    """One order from the ordering/POS system; (source, external_id) makes recording idempotent.

    The customer's order totals are written only by customers.services.orders (record_order,
    refund_order).
    """

    # No index of its own: order_customer_covering_idx (customer_id, placed_at, id) serves every
    # lookup.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    source = models.CharField(_("source system"), max_length=32)
    external_id = models.CharField(_("external order id"), max_length=64)
    store_id = models.CharField(_("store"), max_length=32, blank=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=OrderChannel, default=OrderChannel.OTHER
    )
    placed_at = models.DateTimeField(_("placed at"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    points_used = models.PositiveIntegerField(_("points used"), default=0)
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod, default=PaymentMethod.OTHER
    )
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus, default=OrderStatus.PAID
    )
    refunded_amount = models.DecimalField(
        _("refunded amount"), max_digits=12, decimal_places=2, default=0
    )
    # True when this order created its customer (spec 2.1.1); a repeat returns the same answer.
    customer_created = models.BooleanField(_("created the customer"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        permissions = [("refund_order", _("Can refund orders"))]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="order_source_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=F("amount")),
                name="order_discount_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="order_refunded_within_amount",
            ),
        ]
        indexes = [
            # A customer's orders newest first (keyset pages), and, with the columns an RFM run
            # sums, an index-only scan of every order in customer order (segments.services.rfm).
            models.Index(
                fields=["customer_id", "-placed_at", "-id"],
                include=["amount", "discount", "refunded_amount", "status"],
                name="order_customer_covering_idx",
            ),
            models.Index(fields=["placed_at"], name="order_placed_at_idx"),
        ]

    def __str__(self):
        return f"{self.source}:{self.external_id}"


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="items"
    )
    dish = models.CharField(_("dish"), max_length=100)
    category = models.CharField(_("category"), max_length=50, blank=True)
    tastes = ArrayField(
        models.CharField(max_length=20), verbose_name=_("tastes"), default=list, blank=True
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_item_quantity_min_1"),
            models.CheckConstraint(condition=Q(price__gte=0), name="order_item_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.dish} x{self.quantity}"


class Refund(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="refunds"
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("refunded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # A retried refund request (crm.idempotency) returns the first refund instead of another.
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=128, null=True, blank=True, unique=True
    )
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self):
        return f"{self.order_id}: {self.amount}"


class CommunicationChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    ONLINE = "online", _("Online")
    IN_PERSON = "in_person", _("In person")


class Communication(models.Model):
    """A conversation a staff member had with a customer (spec 2.5.4), maybe with a follow-up."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="communications",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=16, choices=CommunicationChannel)
    content = EncryptedTextField(_("content"))
    result = EncryptedTextField(_("result"))
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="communications",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="communications",
        db_index=False,
    )
    # When the conversation took place (yesterday's call logged today); created_at is when it
    # was recorded.
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    follow_up_at = models.DateTimeField(_("follow up at"), null=True, blank=True)
    # Who must follow up: the recorder at first, another staff member once reassigned.
    follow_up_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("follow-up owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        db_index=False,
    )
    follow_up_done_at = models.DateTimeField(_("follow-up done at"), null=True, blank=True)
    # Set when an overdue follow-up was reported to the managers, so it is reported once.
    follow_up_escalated_at = models.DateTimeField(
        _("follow-up escalated at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("communication")
        verbose_name_plural = _("communications")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                F("customer_id"),
                F("occurred_at").desc(),
                F("id").desc(),
                name="communication_customer_idx",
            ),
            # Open follow-ups of one owner by due time: the follow-up lists and reminders. Open
            # follow-ups are few (thousands, not millions), so the team's list and the reminder
            # jobs read this small index whole.
            models.Index(
                fields=["follow_up_owner", "follow_up_at"],
                condition=Q(follow_up_at__isnull=False, follow_up_done_at__isnull=True),
                name="communication_followup_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.created_at:%Y-%m-%d}"


class FollowUpDigest(models.Model):
    """One daily reminder e-mail sent to a follow-up owner: the unique day makes the nightly
    job safe to re-run (a second run sends nobody a second digest)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE
    )
    day = models.DateField(_("day"))
    follow_ups = models.PositiveIntegerField(_("follow-ups"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("follow-up digest")
        verbose_name_plural = _("follow-up digests")
        constraints = [
            models.UniqueConstraint(fields=["owner", "day"], name="follow_up_digest_once_a_day")
        ]

    def __str__(self):
        return f"{self.owner_id} {self.day}"


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportRecord(models.Model):
    """One import of customers or orders (spec 2.8.2): options, counts and the file of bad rows."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        ORDERS = "orders", _("Orders")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    file_name = models.CharField(_("file name"), max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus, default=JobStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    error_file = models.FileField(
        _("rows with errors"), upload_to="imports/errors/", storage=encrypted_storage, blank=True
    )
    expires_at = models.DateTimeField(
        _("file expires at"),
        null=True,
        blank=True,
        help_text=_("After this the file of rows with errors is deleted."),
    )
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("started at"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name}"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"


class ExportRecord(models.Model):
    """One export of customers (spec 2.8.1): who, what, how, and the file when it is ready."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("exported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    format = models.CharField(_("format"), max_length=8, choices=ExportFormat)
    fields = models.JSONField(_("fields"), default=list)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    masked = models.BooleanField(_("masked"), default=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus, default=JobStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to="exports/", storage=encrypted_storage, blank=True)
    expires_at = models.DateTimeField(
        _("file expires at"),
        null=True,
        blank=True,
        help_text=_("After this the file is deleted; the export stays in the history."),
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Set for one customer's detail PDF; empty for an export of a list."),
    )
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        permissions = [
            (
                "download_any_file",
                _("Can download other staff members' export and import files"),
            )
        ]

    def __str__(self):
        return f"{self.get_format_display()} {self.created_at:%Y-%m-%d %H:%M}"
