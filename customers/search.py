"""The search columns of a customer row and how a term finds them: Chinese-aware name search
that works the same under any database locale, the routing of a term by its shape, and the
stored phone and e-mail columns (blind indexes, last four digits) that exact search uses.

pg_trgm ignores Chinese characters under the `C` locale and cannot narrow 1- or 2-character
infixes under any locale (reference/postgres-limits.md), so each name carries the set of its
unigrams and bigrams in an indexed `text[]`. A term of one character matches names holding that
unigram; a longer term matches names holding all of its bigrams, and for three or more characters
a substring recheck removes names that hold the bigrams in another order.
"""

import re
from typing import NamedTuple

from crm.encryption import email_index, encrypt, next_blind_index, phone_index
from crm.pii import phone_last4

PHONE_CHARS = re.compile(r"^\+?[\d\s\-()]+$")
CUSTOMER_NO = re.compile(r"^[Cc]\d+$")


def normalize_name(name: str) -> str:
    return " ".join(name.split()).lower()


def name_grams(name: str) -> list[str]:
    """The distinct unigrams and bigrams of a name, lower-cased, spaces excluded, sorted."""
    text = normalize_name(name)
    grams = {char for char in text if not char.isspace()}
    grams.update(text[i : i + 2] for i in range(len(text) - 1) if " " not in text[i : i + 2])
    return sorted(grams)


def term_grams(term: str) -> list[str]:
    """The grams a name must hold to contain `term` (never empty for a non-blank term)."""
    text = normalize_name(term)
    bigrams = {text[i : i + 2] for i in range(len(text) - 1) if " " not in text[i : i + 2]}
    return sorted(bigrams or {char for char in text if not char.isspace()})


def search_kind(term: str) -> str:
    """Route a term to the one index that fits its shape (DESIGN.md, scale)."""
    if "@" in term:
        return "email"
    if CUSTOMER_NO.match(term):
        return "customer_no"
    if PHONE_CHARS.match(term) and re.search(r"\d", term):
        digits = re.sub(r"\D", "", term)
        if len(digits) == 4:
            return "phone_last4"
        if len(digits) >= 7:
            return "phone"
        return "customer_no_digits"
    return "name"


class ContactColumns(NamedTuple):
    """What a customer row stores of its phone and e-mail, in the table's column order: the
    ciphertext, the blind index and the last four digits."""

    phone: str | None
    phone_index: bytes | None
    phone_last4: str
    email: str | None
    email_index: bytes | None


def contact_columns(phone: str | None, email: str | None, *, encrypted: bool = True):
    """The stored columns of a normalised phone and e-mail. Customer.save computes them (without
    the ciphertext, which its field writes); the import and the data generator, which COPY rows
    past the model, take them whole, so all three store the same."""
    return ContactColumns(
        (encrypt(phone) if encrypted else phone) if phone else None,
        phone_index(phone) if phone else None,
        phone_last4(phone) if phone else "",
        (encrypt(email) if encrypted else email) if email else None,
        email_index(email) if email else None,
    )


def next_index_columns(phone: str | None, email: str | None) -> tuple[bytes | None, bytes | None]:
    """The second index columns (phone_index_next, email_index_next) of a normalised phone and
    e-mail: their hashes under BLIND_INDEX_KEY_NEXT during a re-index, otherwise empty."""
    return (
        next_blind_index(phone, purpose="phone") if phone else None,
        next_blind_index(email, purpose="email") if email else None,
    )
