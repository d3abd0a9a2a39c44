"""Search: each kind of term reaches the right customers, on a `C`-locale database."""

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.models import Customer
from customers.search import name_grams, search_kind, term_grams

pytestmark = pytest.mark.django_db


def found(term):
    return set(Customer.objects.search(term).values_list("name", flat=True))


def test_suite_runs_on_a_c_locale_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT datctype FROM pg_database WHERE datname = current_database()")
        assert cursor.fetchone()[0] == "C"


@pytest.fixture
def names(make_customer):
    for name in ["王芳", "王芳芳", "李王芳", "王小芳", "张伟", "张伟明", "芳王", "Mary Wang"]:
        make_customer(name=name)


def test_two_character_name_matches_anywhere(names):
    assert found("王芳") == {"王芳", "王芳芳", "李王芳"}


def test_single_character_surname_matches_every_name_holding_it(names):
    assert found("王") == {"王芳", "王芳芳", "李王芳", "王小芳", "芳王"}


def test_three_character_term_needs_the_characters_in_order(names):
    assert found("张伟明") == {"张伟明"}
    assert found("王芳芳") == {"王芳芳"}


def test_latin_names_are_case_insensitive(names):
    assert found("wang") == {"Mary Wang"}
    assert found("MARY W") == {"Mary Wang"}


def test_phone_full_and_last_four(make_customer):
    make_customer(name="甲", phone="13800138000")
    make_customer(name="乙", phone="13900008000")
    make_customer(name="丙", phone="13900001234")
    assert found("13800138000") == {"甲"}
    assert found("+86 138 0013 8000") == {"甲"}
    assert found("8000") == {"甲", "乙"}


def test_email_is_exact_and_case_insensitive(make_customer):
    make_customer(name="甲", email="zhang@example.com")
    make_customer(name="乙", email="zhang@example.org")
    assert found("Zhang@Example.com") == {"甲"}
    assert found("zhang@") == set()


def test_customer_number_prefix(make_customer):
    customer = make_customer(name="甲")
    assert found(customer.customer_no) == {"甲"}
    assert found(customer.customer_no[:-1].lower()) >= {"甲"}


@pytest.mark.parametrize(
    ("term", "kind"),
    [
        ("王芳", "name"),
        ("13800138000", "phone"),
        ("8000", "phone_last4"),
        ("a@b.cn", "email"),
        ("C00012", "customer_no"),
        ("c12", "customer_no"),
        ("Mary", "name"),
    ],
)
def test_terms_are_routed_by_shape(term, kind):
    assert search_kind(term) == kind


CJK = st.sampled_from(list("王李张刘陈芳伟娜敏静丽强"))


@settings(max_examples=200, deadline=None)
@given(name=st.text(CJK, min_size=1, max_size=4), term=st.text(CJK, min_size=1, max_size=3))
def test_grams_prefilter_never_loses_a_true_match(name, term):
    """If the term is a substring of the name, the name holds every gram the term needs."""
    if term in name:
        assert set(term_grams(term)) <= set(name_grams(name))


@settings(max_examples=25, deadline=None)
@given(
    names=st.lists(st.text(CJK, min_size=2, max_size=3), min_size=1, max_size=12),
    term=st.text(CJK, min_size=1, max_size=3),
)
def test_search_equals_a_brute_force_substring_filter(names, term):
    Customer.objects.all().delete()
    for index, name in enumerate(names):
        from customers.services import customer_create

        customer_create(actor=None, name=name, phone=f"1380000{index:04d}")
    expected = sorted(name for name in names if term in name)
    assert sorted(Customer.objects.search(term).values_list("name", flat=True)) == expected
