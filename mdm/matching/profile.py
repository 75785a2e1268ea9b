"""Match profiles and blocking keys: the normalised view of a record that matching works on.

A profile is computed once per source record and stored with it, so scoring a candidate never
normalises it again. Blocking keys are strings "<pass>:<value>"; keys starting with "tf." are
only counted (term frequencies), never used to find candidates.
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np

from mdm.matching import normalise
from mdm.matching.phonetic import nysiis

# Retrieval passes, in the order they are tried; documented in docs/mdm.md.
CUSTOMER_PASSES = (
    "em", "ph", "nn", "ni", "la", "lp", "fa", "ct", "cb", "cn", "ad", "hn", "st", "as", "hi", "fs",
    "ls", "si", "pc",
)  # fmt: skip
PRODUCT_PASSES = ("sku", "pt", "pn")
TERM_FREQUENCY_FIELDS = ("first", "last", "company")
# "street", "road", "place": they name no street of their own.
_STREET_TYPES = frozenset({"street", *normalise.STREET_ABBREVIATIONS.values()})
_UNIT_WORDS = frozenset({"flat", "apartment", "apt", "unit", "suite", "ste", "room", "floor"})


def customer_profile(attributes: dict) -> dict:
    """The normalised fields of a flat canonical customer used for blocking and scoring."""
    country = normalise.country(
        attributes.get("billing_country") or attributes.get("shipping_country") or ""
    )
    first_raw = normalise.basic(attributes.get("first_name"))
    last_raw = attributes.get("last_name") or ""
    if not last_raw and len(first_raw.split()) > 1:
        # A whole name in the first-name field: "John Smith" -> first "john", last "smith".
        first_raw, last_raw = first_raw.split()[0], " ".join(first_raw.split()[1:])
    prefix = "billing" if _has_address(attributes, "billing") else "shipping"
    lines = attributes.get(f"{prefix}_line1"), attributes.get(f"{prefix}_line2")
    line1, line2 = normalise.street(lines[0]), normalise.street(lines[1])
    # Both lines as one (a street abbreviation reads by its neighbours, across the two); with
    # one line, that line (most records: a third of the work of a profile was streets).
    street = normalise.street(" ".join(lines)) if lines[0] and lines[1] else line1 or line2
    postcode = normalise.postcode(attributes.get(f"{prefix}_postcode"), country)
    number = re.search(r"\b\d+[a-z]?\b", street)
    first = normalise.given_name(first_raw)
    last = normalise.family_name(last_raw)
    return {
        "company": normalise.company_name(attributes.get("company_name")),
        "first": first,
        "first_raw": first_raw.split()[0] if first_raw else "",
        "last": last,
        "first_code": nysiis(first),
        "last_code": nysiis(last),
        "email": normalise.email(attributes.get("email")),
        "phone": normalise.phone_for_matching(attributes.get("phone"), country),
        "street": street,
        # The first line alone as well: a second line (flat, building, district) is often
        # held by one system and not by another.
        "line1": line1 if line1 != street else "",
        # The second line's name (a building, an estate, a locality), without flat numbers.
        "place_name": street_name(line2) if line1 and line2 else "",
        "number": number.group(0) if number else "",
        "street_name": street_name(street),
        "postcode": postcode,
        "district": normalise.postcode_area(postcode) if postcode else "",
        "city": normalise.basic(attributes.get(f"{prefix}_city")),
        "country": country,
    }


def street_name(street: str) -> str:
    """The street without house number, flat or unit ("12 high street flat 3" -> "high street")."""
    words = []
    skip_next = False
    for word in street.split():
        if skip_next:
            skip_next = False
            continue
        if word in _UNIT_WORDS:
            skip_next = True
            continue
        if not any(char.isdigit() for char in word):
            words.append(word)
    return " ".join(words)


def _has_address(attributes: dict, prefix: str) -> bool:
    return any(attributes.get(f"{prefix}_{part}") for part in ("line1", "postcode", "city"))


def customer_keys(profile: dict) -> list[str]:
    """The blocking keys of a customer profile (retrieval passes plus term-frequency keys)."""
    keys: list[str] = []
    first, last, company = profile["first"], profile["last"], profile["company"]
    area = normalise.postcode_area(profile["postcode"]) if profile["postcode"] else ""
    # Keys are made with the postcode district and with the town, so a record without a postcode
    # still meets its duplicate that has one. The town without its spaces: one system splits or
    # joins its words ("cooro y", "mount evelyn" / "mountevelyn"), and it is the same place.
    town = profile["city"].replace(" ", "")
    localities = sorted({place for place in (area, town) if place})
    if profile["email"]:
        keys.append(f"em:{profile['email']}")
    if profile["phone"]:
        # The last nine digits: an E.164 number meets the same number written without country.
        keys.append(f"ph:{profile['phone'][-9:]}")
    first_code, last_code = nysiis(first), nysiis(last)
    if first_code and last_code:
        # Sorted, so swapped first and last names still share the key.
        keys.append("nn:" + "|".join(sorted((first_code, last_code))))
        # One name's code and the other's initial, anywhere: finds people who moved house with a
        # typo in one of their names (and swapped names, as both directions are stored).
        keys.append(f"ni:{last_code}:{first[0]}")
        keys.append(f"ni:{first_code}:{last[0]}")
    tokens = [token for token in company.split() if len(token) > 1][:3]
    words = [word for word in profile["street"].split() if word.isalpha() and len(word) > 2]
    for locality in localities:
        if last_code:
            keys.append(f"la:{last_code}:{locality}")
        if first_code and last_code:
            keys.append(f"fa:{first_code}:{last[0]}:{locality}")
            keys.append(f"fa:{last_code}:{first[0]}:{locality}")
        if tokens:
            keys.append(f"cn:{nysiis(tokens[0])}:{locality}")
        if profile["number"] and words:
            keys.append(f"ad:{profile['number']}:{nysiis(words[0])}:{locality}")
        if profile["number"] and (first or last or tokens):
            keys.append(f"hn:{profile['number']}:{locality}")  # a typo in the street name too
        if words and (first or last or tokens):
            # The street without the number: a typo or a new number there, and a name changed.
            keys.append(f"st:{nysiis(words[0])}:{locality}")
    if len(last) >= 3 and (town or area):
        # The surname's first three letters in the town (the postcode district without one): a
        # typo further on changes its phonetic code ("webb" / "webxb", "shepherd" /
        # "sheprherd") but not this. One place only: each key row costs every load.
        keys.append(f"lp:{last[:3]}:{town or area}")
    if profile["number"] and words:
        # House number + street, and house number + the initials of the names, without the
        # place: a record that lost its postcode and town still meets its duplicate.
        keys.append(f"as:{profile['number']}:{nysiis(words[0])}")
        if first and last:
            keys.append(f"hi:{profile['number']}:{''.join(sorted((first[0], last[0])))}")
    if words:
        street_code = nysiis(words[0])
        named = [word for word in words if word not in _STREET_TYPES][:2]
        if first_code:
            # Two words, not only the first: address lines swapped, or a building name first.
            keys.extend(f"fs:{first_code}:{nysiis(word)}" for word in named)
        if last_code:
            # The same for the surname: a given name replaced and the place mistyped.
            keys.extend(f"ls:{last_code}:{nysiis(word)}" for word in named)
        if first and last:
            keys.append(f"si:{street_code}:{''.join(sorted((first[0], last[0])))}")
    keys.extend(f"ct:{token}" for token in tokens)
    if len(tokens) > 1:
        keys.append(f"cb:{tokens[0]}:{tokens[1]}")  # narrower when single tokens are common
    if profile["postcode"]:
        keys.append(f"pc:{profile['postcode']}")
    for field in TERM_FREQUENCY_FIELDS:
        if profile[field]:
            keys.append(f"tf.{field}:{profile[field]}"[:120])
    return sorted({key[:120] for key in keys})


def normalise_sku(sku: str | None) -> str:
    return re.sub(r"[^A-Z0-9]", "", (sku or "").upper())


def product_profile(attributes: dict) -> dict:
    name = normalise.basic(attributes.get("name"))
    return {
        "sku": normalise_sku(attributes.get("sku")),
        "name": name,
        "price": attributes.get("unit_price"),
        "currency": (attributes.get("currency") or "").upper(),
    }


def product_keys(profile: dict) -> list[str]:
    keys = []
    if profile["sku"]:
        keys.append(f"sku:{profile['sku']}")
    tokens = [token for token in profile["name"].split() if len(token) > 2]
    keys.extend(f"pt:{token}" for token in tokens[:3])
    if tokens:
        keys.append("pn:" + "".join(nysiis(token, 4) for token in sorted(tokens)[:3]))
    return sorted({key[:120] for key in keys})


TERM_PREFIX = "tf."  # keys that only count a value's records (term frequencies)


def is_retrieval_key(key: str) -> bool:
    return not key.startswith(TERM_PREFIX)


def retrieval_mask(keys: list[str]) -> np.ndarray:
    """`is_retrieval_key` of each key, as an array (without a Python call per key: half the
    time for the 235,955 keys of a 10,000-record file)."""
    return ~np.fromiter(map(str.startswith, keys, repeat(TERM_PREFIX)), bool, len(keys))
