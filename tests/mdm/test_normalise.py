"""Normalisation of the values matching compares."""

import pytest

from mdm.matching import normalise
from mdm.matching.phonetic import nysiis


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The A.B.C. Widgets Co. Ltd", "abc widgets"),
        ("Smith & Sons Limited", "smith sons"),
        ("ACME, Inc.", "acme"),
        ("Café Crème LLC", "cafe creme"),
        ("Spago (Los Angeles)", "spago"),
        ("Acme (UK) Ltd", "acme"),
        ("(Holdings)", "holdings"),
    ],
)
def test_company_suffixes_accents_and_punctuation_are_removed(raw, expected):
    assert normalise.company_name(raw) == expected


def test_street_abbreviations_expand_and_saint_is_told_from_street():
    assert normalise.street("12 High St.") == "12 high street"
    assert normalise.street("12 St Johns Rd") == "12 saint johns road"
    assert normalise.street("Flat 3, 45 Park Ave") == "flat 3 45 park avenue"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("75 Woronorastreet", "75 woronora street"),
        ("12 canningstreet", "12 canning street"),
        ("5 Rosegardens", "5 rose gardens"),  # the longer type, not "garden" + "s"
        ("18 copeplace strawberry fields", "18 cope place strawberry fields"),
        ("4 Harcourt Street", "4 harcourt street"),  # too short a name before "court"
        ("1 Broadway", "1 broadway"),  # "way" is too short a type to split off
        ("9 Hillroad", "9 hillroad"),
    ],
)
def test_a_street_type_typed_together_with_the_name_is_split_off(raw, expected):
    assert normalise.street(raw) == expected


def test_ordinal_street_names_are_numerals():
    assert normalise.street("747 Ninth Ave.") == normalise.street("747 9th Avenue")
    assert normalise.street("1 Third St") == "1 3rd street"
    assert normalise.street("20 Twelfth Road") == "20 12th road"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("020 7946 0000", "GB", "+442079460000"),
        ("+44 (0)20 7946 0000", "", "+442079460000"),
        ("0044 20 7946 0000", "", "+442079460000"),
        ("(555) 123-4567", "US", "+15551234567"),
        ("1-555-123-4567", "US", "+15551234567"),
        ("01 234 5678", "IE", "+35312345678"),
        ("020 7946 0000", "", ""),  # national number, unknown country
        ("123", "GB", ""),
        ("0000000000", "GB", ""),
    ],
)
def test_phone_numbers_become_e164_only_when_possible(raw, country, expected):
    assert normalise.phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("310/246-1501", "", "3102461501"),  # no country column: the digits still count
        ("020 7946 0000", "", "2079460000"),
        ("6296 1234", "AU", "62961234"),  # no area code: does not fit the rules of AU
        ("020 7946 0000", "GB", "+442079460000"),
        ("12-34", "", ""),
        ("999 9999", "", ""),
    ],
)
def test_phones_for_matching_keep_the_digits_when_e164_is_impossible(raw, country, expected):
    assert normalise.phone_for_matching(raw, country) == expected


def test_a_bare_national_number_is_the_same_phone_as_its_e164_form():
    assert normalise.same_phone("+13102461501", "3102461501")
    assert normalise.same_phone("3102461501", "+13102461501")
    assert not normalise.same_phone("+13102461501", "3102461502")
    assert not normalise.same_phone("+13102461501", "+443102461501")
    assert not normalise.same_phone("+13102461501", "501")


def test_restaurant_records_without_country_meet_through_their_phone():
    from mdm.matching.profile import customer_keys, customer_profile
    from mdm.matching.scoring import customer_levels

    left = customer_profile({"company_name": "Art's Deli", "phone": "818/762-1221"})
    right = customer_profile(
        {"company_name": "Arts Delicatessen", "phone": "+1 818-762-1221", "billing_country": "US"}
    )
    assert set(customer_keys(left)) & set(customer_keys(right)) >= {"ph:187621221"}
    assert customer_levels(left, right)["phone"] == 0


def test_emails_are_lower_cased_and_malformed_ones_rejected():
    assert normalise.email("  Foo.Bar@Example.COM ") == "foo.bar@example.com"
    assert normalise.email("foo@bar") == ""
    assert not normalise.is_valid_email("not an email")


def test_postcodes_take_their_canonical_form():
    assert normalise.postcode("sw1a1aa", "GB") == "SW1A 1AA"
    assert normalise.postcode("12345-6789", "US") == "12345"
    assert normalise.postcode_area("SW1A 1AA") == "SW1A"


def test_nicknames_map_to_the_full_given_name():
    assert normalise.given_name("Bill") == normalise.given_name("William") == "william"
    assert normalise.given_name("Peggy") == "margaret"
    assert normalise.given_name("Zebedee") == "zebedee"


def test_family_names_lose_spaces_hyphens_and_apostrophes():
    assert normalise.family_name("O'Neil-Smith") == "oneilsmith"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("macdonald", "mcdonald"),
        ("johnson", "jonson"),
        ("catherine", "katherine"),
        ("phillips", "filips"),
    ],
)
def test_names_that_sound_alike_share_a_phonetic_key(left, right):
    assert nysiis(left)[:3] == nysiis(right)[:3]


def test_different_names_get_different_phonetic_keys():
    assert nysiis("smith") != nysiis("jones")
