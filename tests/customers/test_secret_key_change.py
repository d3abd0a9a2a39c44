"""A new SECRET_KEY (docs/security.md, "How keys rotate") logs staff out and nothing more: the
personal data have keys of their own and API tokens are stored as digests of their key."""

import pytest
from rest_framework.test import APIClient

from crm.auth.tokens import create_api_token
from customers.models import Customer

pytestmark = pytest.mark.django_db


def test_a_new_secret_key_keeps_the_data_readable_and_the_tokens_valid(
    settings, make_user, make_customer
):
    customer = make_customer(name="张三", phone="13800138000")
    user = make_user("desk", roles=["customer_service"])
    _token, key = create_api_token(user=user)

    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    assert Customer.objects.get(pk=customer.pk).phone == "+8613800138000"
    assert Customer.objects.search("13800138000").get() == customer
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(f"/api/v1/customers/{customer.pk}")
    assert response.status_code == 200
    assert response.json()["data"]["profile"]["phone"] == "13800138000"
