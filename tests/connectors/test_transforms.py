"""The shared transformation rules used by every mapping."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.transforms import (
    join_name,
    join_street,
    parse_datetime,
    split_full_name,
    street_lines,
    to_decimal,
    vat_rate,
)


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Anna Smith", ("Anna", "Smith")),
        ("Dr. Anna van der Berg", ("Anna", "van der Berg")),
        ("Mary Ann O'Neil", ("Mary Ann", "O'Neil")),
        ("Smith, John", ("John", "Smith")),
        ("John Smith Jr.", ("John", "Smith")),
        ("Madonna", ("", "Madonna")),
        ("  Ludwig   von  Mises ", ("Ludwig", "von Mises")),
        ("", ("", "")),
    ],
)
def test_split_full_name(full, expected):
    assert split_full_name(full) == expected


def test_join_name_skips_blanks():
    assert join_name("Anna", "") == "Anna"
    assert join_name(" Anna ", "Smith") == "Anna Smith"


def test_street_lines_from_compound_string_and_list():
    assert street_lines("1 High St\r\nUnit 2\n") == ["1 High St", "Unit 2"]
    assert street_lines(["1 High St", "", " Unit  2 "]) == ["1 High St", "Unit 2"]
    assert street_lines(["a", "b", "c", "d"], max_lines=2) == ["a", "b, c, d"]
    assert join_street(["1 High St", "Unit 2"]) == "1 High St\nUnit 2"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00.000+0000",
        "2024-05-01T10:00:00Z",
        "2024-05-01 10:00:00",
        "2024-05-01T11:00:00+01:00",
    ],
)
def test_parse_datetime_formats_all_mean_the_same_instant(text):
    assert parse_datetime(text) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_parse_datetime_rejects_garbage():
    assert parse_datetime("") is None
    with pytest.raises(ValueError, match="unrecognised"):
        parse_datetime("next tuesday")


def test_money_never_goes_through_float_arithmetic():
    assert to_decimal(46.1) == Decimal("46.1")
    assert to_decimal("46.0000") == Decimal("46.0000")
    assert to_decimal(None, Decimal("0")) == Decimal("0")
    with pytest.raises(ValueError):
        to_decimal("abc")


@pytest.mark.parametrize(
    ("country", "tax_class", "rate"),
    [
        ("GB", "standard", "20"),
        ("GB", "reduced", "5"),
        ("gb", "zero", "0"),
        ("DE", "standard", "19"),
        ("IE", "reduced", "23"),
        ("US", "standard", "0"),
        ("", "standard", "20"),
    ],
)
def test_vat_rate_by_country_and_tax_class(country, tax_class, rate):
    assert vat_rate(country, tax_class) == Decimal(rate)
