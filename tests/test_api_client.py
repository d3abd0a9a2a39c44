"""A typed client generated from /api/v1/schema/ parses what the API really sends (docs/api.md).

The client is generated as a client's developer would (openapi-python-client, offline, into a
temporary directory) from the schema `manage.py spectacular` writes, the one /api/v1/schema/
serves, then used against a live test server.
"""

import importlib
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from crm.auth.tokens import create_api_token
from customers.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "crm_api_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("client")
    call_command("spectacular", "--format=openapi-json", f"--file={tmp_path / 'schema.json'}")
    # No post hooks: the generated code need not be formatted to be imported.
    (tmp_path / "config.yml").write_text("post_hooks: []\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path=schema.json",
            "--config=config.yml",
            "--meta=none",
            f"--output-path={PACKAGE}",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for module in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[module]


@pytest.fixture
def client(generated, live_server, make_user):
    _token, key = create_api_token(user=make_user("pos", superuser=True), name="client test")
    authenticated = generated("client").AuthenticatedClient
    # Closed at the end, so that no kept-alive connection holds a server thread (and its
    # database session) past the test.
    with authenticated(base_url=live_server.url, token=key, prefix="Token") as client:
        yield client


def test_a_generated_client_round_trips_a_customer_an_order_and_points(generated, client):
    models = generated("models")
    customers_create = generated("api.customers.customers_create")
    customers_retrieve = generated("api.customers.customers_retrieve")
    orders_create = generated("api.orders.orders_create")
    customers_orders_list = generated("api.orders.customers_orders_list")
    points_adjust = generated("api.points.membership_points_adjust_create")

    created = customers_create.sync(
        client=client,
        body=models.CustomerCreateRequest(name="张三", phone="13800138000", tags=["美食爱好者"]),
    )
    customer_id = int(created.data.id)
    assert created.success is True
    assert created.data.customer_no == Customer.objects.get(pk=customer_id).customer_no

    order = orders_create.sync(
        client=client,
        body=models.OrderInputRequest(
            external_id="POS-1",
            source="pos",
            placed_at=datetime.fromisoformat("2025-01-20T12:10:00+08:00"),
            amount=48.0,
            customer_id=customer_id,
            items=[models.OrderItemRequest(dish="宫保鸡丁", quantity=1, price=48.0)],
        ),
    )
    assert order.data.customer_id == str(customer_id)
    assert order.data.customer_created is False

    adjusted = points_adjust.sync(
        client=client,
        body=models.AdjustInputRequest(customer_id=customer_id, adjustment=100, reason="客服补偿"),
    )
    assert adjusted.data.adjustment == 100

    detail = customers_retrieve.sync(client=client, id=customer_id).data
    assert detail.profile.name == "张三"
    assert detail.tags == ["美食爱好者"]
    assert Decimal(str(detail.stats.total_spent)) == Decimal("48")
    assert detail.stats.points == adjusted.data.current_points
    orders = customers_orders_list.sync(client=client, id=customer_id).data
    assert [item.external_id for item in orders.items] == ["POS-1"]
    assert orders.pagination.total == 1


def test_a_generated_client_parses_the_error_envelope(generated, client):
    models = generated("models")
    customers_create = generated("api.customers.customers_create")

    response = customers_create.sync_detailed(
        client=client, body=models.CustomerCreateRequest(name="张三", phone="12345")
    )

    assert response.status_code == 400
    assert isinstance(response.parsed, models.ErrorEnvelope)
    assert response.parsed.success is False
    assert response.parsed.error.code == "validation_error"
    assert "phone" in response.parsed.error.fields.additional_properties
