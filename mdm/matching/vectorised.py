"""`customer_levels` for many pairs at once: each field's levels as an array over the pairs.

Comparing pair after pair spends most of its time in the Python around the string measures
(a call, a branch and a dict look-up per step: 7.7 us a pair over the 92,354 pairs of a
10,000-record estimate). Here each step is one array operation over the pairs it concerns,
each measure is taken once per distinct pair of texts in one `cpdist` call, and the rare cases
(two companies that differ, one email handle at two providers, a phone with and without its
country code) call the per-pair functions of `mdm.matching.scoring` for just those pairs. The
levels are the per-pair ones exactly: the steps are taken in the same order with the same
cut-offs, and the tests compare both over generated data.

`Columns` holds the fields of a list of profiles once, as arrays that pairs of indexes into the
list pick from, texts as numbers: what a profile needs for every pair it is in is worked out
once. A pattern travels as one number (`pattern_codes`; `patterns_of` turns them back into
tuples), a level per digit.
"""

from __future__ import annotations

import re
from operator import itemgetter

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio
from rapidfuzz.process import cpdist

from mdm.matching.normalise import same_phone
from mdm.matching.phonetic import nysiis
from mdm.matching.scoring import (
    _CEILING_LOG_ODDS,
    _DIFFERENT_COMPANY,
    _DIFFERENT_GIVEN_NAME,
    Scorer,
    _company_level,
    _district,
    _email_level,
    _mailbox,
    _place_name,
    _street_name,
)

MISSING = -1  # the level of a field missing on either side (None)
_RADIX = 16  # a pattern's digits: every level + 1 (0 for missing) is below it


def _text(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class _Vocabulary:
    """Distinct texts, numbered: numbers compare faster than texts, and a measure is taken
    once per distinct pair of texts (the first names that differ in the 92,354 pairs of a
    10,000-record estimate are 75,859 pairs of 24,729 distinct ones; the towns, 67,964 of
    380)."""

    def __init__(self):
        self.numbers: dict[str, int] = {}
        self.texts: list[str] = []
        self.joined: list[str] = []  # without spaces

    def add(self, values) -> np.ndarray:
        """The numbers of `values`, numbering those not met before."""
        values = values if isinstance(values, list) else list(values)
        numbers = self.numbers
        fresh = [value for value in dict.fromkeys(values) if value not in numbers]
        numbers.update(zip(fresh, range(len(numbers), len(numbers) + len(fresh)), strict=True))
        self.texts.extend(fresh)
        self.joined.extend(text.replace(" ", "") for text in fresh)
        return np.fromiter(map(numbers.__getitem__, values), np.int64, len(values))


def _similarity(scorer, left: list, right: list) -> np.ndarray:
    return cpdist(left, right, scorer=scorer, dtype=np.float64)


def _distinct(vocabulary: _Vocabulary, left: np.ndarray, right: np.ndarray) -> tuple:
    """(left texts, right texts, where each pair is among them): each distinct pair of texts
    once."""
    size = len(vocabulary.texts)
    unique, inverse = np.unique(left * size + right, return_inverse=True)
    texts = vocabulary.texts
    return (
        [texts[at] for at in (unique // size).tolist()],
        [texts[at] for at in (unique % size).tolist()],
        unique,
        inverse,
    )


def _jw(vocabulary: _Vocabulary, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaro-Winkler similarity of each pair of numbered texts."""
    if not len(left):
        return np.empty(0, dtype=np.float64)
    lefts, rights, _, inverse = _distinct(vocabulary, left, right)
    return _similarity(JaroWinkler.similarity, lefts, rights)[inverse]


def _street_similarity(vocabulary: _Vocabulary, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`scoring._street_similarity` of each pair of numbered texts."""
    if not len(left):
        return np.empty(0, dtype=np.float64)
    lefts, rights, unique, inverse = _distinct(vocabulary, left, right)
    size, joined = len(vocabulary.texts), vocabulary.joined
    spaced = _similarity(token_set_ratio, lefts, rights)
    together = _similarity(
        ratio,
        [joined[at] for at in (unique // size).tolist()],
        [joined[at] for at in (unique % size).tolist()],
    )
    return (np.maximum(spaced, together) / 100)[inverse]


def _stored(profiles: list[dict], field: str, compute) -> list:
    """Each profile's `field`, or `compute(profile)` for one stored before it was added."""
    found = [p.get(field) for p in profiles]
    if None in found:
        found = [
            compute(p) if value is None else value for p, value in zip(profiles, found, strict=True)
        ]
    return found


def _codes(profiles: list[dict], names: list[str], field: str) -> list[str]:
    """`scoring._code` of each profile's name `field` ("" for no name)."""
    stored = [p.get(field + "_code") for p in profiles]
    return [
        (code or nysiis(name)) if name else "" for name, code in zip(names, stored, strict=True)
    ]


_READ = ("first", "first_raw", "last", "email", "phone", "postcode", "company", "city", "number",
         "street")  # fmt: skip


class Columns:
    """The fields of profiles that the customer comparisons read, an array each; `add` appends
    more profiles (a batch's stored candidates, as they are met)."""

    def __init__(self, profiles: list[dict] = ()):
        self.profiles: list[dict] = []
        # Names, first and last in one vocabulary (they are also compared crosswise); streets,
        # first lines and the names in them in another: one measure for all.
        self.names, self.codes, self.initials = _Vocabulary(), _Vocabulary(), _Vocabulary()
        self.postcodes, self.districts, self.towns = _Vocabulary(), _Vocabulary(), _Vocabulary()
        self.streets, self.numbers = _Vocabulary(), _Vocabulary()
        self.add(profiles)

    def add(self, profiles: list[dict]) -> None:
        size = len(profiles)

        def flag(values) -> np.ndarray:
            return np.fromiter(map(bool, values), bool, size)

        def length(values) -> np.ndarray:
            return np.fromiter(map(len, values), np.int64, size)

        read = itemgetter(*_READ)
        first, first_raw, last, email, phone, postcode, company, city, number, street = (
            map(list, zip(*map(read, profiles), strict=True)) if profiles else ([],) * len(_READ)
        )
        mailboxes = [_mailbox(address) if address else ("", "") for address in email]
        street_names = _stored(profiles, "street_name", _street_name)
        place_names = _stored(profiles, "place_name", _place_name)
        line1 = [p.get("line1") for p in profiles]
        names, streets = self.names, self.streets
        fields = {
            "first": names.add(first),
            "first_raw": names.add(first_raw),
            "last": names.add(last),
            "has_first": flag(first),
            "has_last": flag(last),
            "first_code": self.codes.add(_codes(profiles, first, "first")),
            "last_code": self.codes.add(_codes(profiles, last, "last")),
            "first_initial": self.initials.add(name[:1] for name in first),
            "first_raw_initial": self.initials.add(name[:1] for name in first_raw),
            "last_initial": self.initials.add(name[:1] for name in last),
            "first_raw_length": length(first_raw),
            "last_length": length(last),
            "company": _text(company),
            "has_company": flag(company),
            "email": _text(email),
            "has_email": flag(email),
            "email_local": _text([local for local, _ in mailboxes]),
            "email_domain": _text([domain for _, domain in mailboxes]),
            # The numbers in the local part, joined: equal lists, equal texts (no comma).
            "email_numbers": _text([",".join(re.findall(r"\d+", local)) for local, _ in mailboxes]),
            "phone": _text(phone),
            "has_phone": flag(phone),
            "phone_tail": _text([text[-7:] for text in phone]),
            "phone_plus": np.fromiter((text.startswith("+") for text in phone), bool, size),
            "postcode": self.postcodes.add(postcode),
            "has_postcode": flag(postcode),
            "postcode_length": length(postcode),
            "district": self.districts.add(
                _stored(profiles, "district", lambda p: _district(p) if p["postcode"] else "")
            ),
            "city": self.towns.add(city),
            "has_city": flag(city),
            "number": self.numbers.add(number),
            "has_number": flag(number),
            "street": streets.add(street),
            "has_street": flag(street),
            "has_line1": flag(line1),
            "line1": streets.add([own or whole for own, whole in zip(line1, street, strict=True)]),
            "street_name": streets.add(street_names),
            "has_street_name": flag(street_names),
            "place_name": streets.add(place_names),
            "place_name_length": length(name.replace(" ", "") for name in place_names),
        }
        for name, values in fields.items():
            if self.profiles:
                values = np.concatenate([getattr(self, name), values])
            setattr(self, name, values)
        self._fields = list(fields)
        self.profiles.extend(profiles)

    def of(self, profiles: list[dict]) -> Columns | None:
        """These columns for `profiles` (some of these profiles, the very same dicts, in any
        order), or None if one is not among them. The vocabularies are shared: what either
        adds later, both know."""
        if len(profiles) == len(self.profiles) and all(
            mine is theirs for mine, theirs in zip(self.profiles, profiles, strict=True)
        ):
            return self
        position = {id(profile): at for at, profile in enumerate(self.profiles)}
        at = [position.get(id(profile)) for profile in profiles]
        if None in at:
            return None
        taken = Columns.__new__(Columns)
        taken.__dict__.update(self.__dict__)
        taken.profiles = list(profiles)
        at = np.asarray(at, dtype=np.int64)
        for name in self._fields:
            setattr(taken, name, getattr(self, name)[at])
        return taken


def _close_postcodes(columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`scoring._close_postcodes` of each pair."""
    close = (columns.postcode_length[left] >= 4) & (columns.postcode_length[right] >= 4)
    at = np.flatnonzero(close)
    if len(at):
        texts = columns.postcodes.texts
        lefts = [texts[number] for number in columns.postcode[left[at]].tolist()]
        rights = [texts[number] for number in columns.postcode[right[at]].tolist()]
        close[at] = cpdist(lefts, rights, scorer=OSA.distance, dtype=np.int64) <= 1
    return close


def _first_name_levels(columns: Columns, left: tuple, right: tuple) -> np.ndarray:
    """`scoring._compare_first_names` of pairs with both names known; `left` and `right` are
    the (raw, name, code, initial, raw length) arrays of each side."""
    (raw, name, code, initial, raw_length) = zip(left, right, strict=True)
    levels = np.full(len(raw[0]), 5, dtype=np.int64)
    same_raw = raw[0] == raw[1]
    same_name = name[0] == name[1]
    levels[same_name] = 1
    levels[same_raw] = 0
    at = np.flatnonzero(~same_raw & ~same_name)
    similarity = _jw(columns.names, name[0][at], name[1][at])
    # The raw names only where either side's differs from its name (a nickname).
    differs = np.flatnonzero((raw[0][at] != name[0][at]) | (raw[1][at] != name[1][at]))
    similarity[differs] = np.maximum(
        similarity[differs], _jw(columns.names, raw[0][at[differs]], raw[1][at[differs]])
    )
    close = similarity >= 0.92
    similar = ~close & ((similarity >= 0.80) | (code[0][at] == code[1][at]))
    initial_only = (
        ~close
        & ~similar
        & (np.minimum(raw_length[0][at], raw_length[1][at]) == 1)
        & (initial[0][at] == initial[1][at])
    )
    levels[at[close]] = 2
    levels[at[similar]] = 3
    levels[at[initial_only]] = 4
    return levels


def _last_name_levels(columns: Columns, name: tuple, code: tuple) -> np.ndarray:
    """`scoring._compare_last_names` of pairs with both names known, 0 where they are equal."""
    levels = np.zeros(len(name[0]), dtype=np.int64)
    at = np.flatnonzero(name[0] != name[1])
    similarity = _jw(columns.names, name[0][at], name[1][at])
    close = similarity >= 0.94
    similar = ~close & ((similarity >= 0.85) | (code[0][at] == code[1][at]))
    levels[at] = np.where(close, 1, np.where(similar, 2, 3))
    return levels


def _names(columns: Columns, left: np.ndarray, right: np.ndarray) -> tuple:
    """(first-name levels, last-name levels), with the right side's names swapped where that
    agrees better (`customer_levels`)."""
    c = columns
    first = np.full(len(left), MISSING, dtype=np.int64)
    last = np.full(len(left), MISSING, dtype=np.int64)

    def first_side(at: np.ndarray) -> tuple:
        return (
            c.first_raw[at],
            c.first[at],
            c.first_code[at],
            c.first_initial[at],
            c.first_raw_length[at],
        )

    both = np.flatnonzero(c.has_first[left] & c.has_first[right])
    first[both] = _first_name_levels(c, first_side(left[both]), first_side(right[both]))
    both = np.flatnonzero(c.has_last[left] & c.has_last[right])
    lefts, rights = left[both], right[both]
    last[both] = _last_name_levels(
        c, (c.last[lefts], c.last[rights]), (c.last_code[lefts], c.last_code[rights])
    )
    # Crosswise where both are known, the two disagree somewhat and a name resembles the
    # other side's other name (`_may_be_swapped`).
    at = np.flatnonzero((first >= 0) & (last >= 0) & (first + last > 2))
    lefts, rights = left[at], right[at]
    maybe = c.first_raw_initial[lefts] == c.last_initial[rights]
    rest = np.flatnonzero(~maybe)
    maybe[rest] = (_jw(c.names, c.first[lefts[rest]], c.last[rights[rest]]) >= 0.8) | (
        _jw(c.names, c.last[lefts[rest]], c.first[rights[rest]]) >= 0.8
    )
    at, lefts, rights = at[maybe], lefts[maybe], rights[maybe]
    # The right side swapped: its last name as first name (raw too), its first as last.
    swapped = (
        c.last[rights],
        c.last[rights],
        c.last_code[rights],
        c.last_initial[rights],
        c.last_length[rights],
    )
    swapped_first = _first_name_levels(c, first_side(lefts), swapped)
    swapped_last = _last_name_levels(
        c, (c.last[lefts], c.first[rights]), (c.last_code[lefts], c.first_code[rights])
    )
    better = swapped_first + swapped_last < first[at] + last[at]
    first[at[better]] = swapped_first[better]
    last[at[better]] = swapped_last[better]
    return first, last


def _per_pair(function, columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    profiles = columns.profiles
    return np.fromiter(
        (
            function(profiles[a], profiles[b])
            for a, b in zip(left.tolist(), right.tolist(), strict=True)
        ),
        np.int64,
        len(left),
    )


def _both_known(known: np.ndarray, left: np.ndarray, right: np.ndarray) -> tuple:
    """(levels, all missing so far; the positions of the pairs with the field known on both
    sides; their left and right indexes)."""
    both = np.flatnonzero(known[left] & known[right])
    return np.full(len(left), MISSING, dtype=np.int64), both, left[both], right[both]


def _company(columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    levels = np.full(len(left), MISSING, dtype=np.int64)
    both = columns.has_company[left] & columns.has_company[right]
    levels[both] = 0
    at = np.flatnonzero(both & (columns.company[left] != columns.company[right]))
    levels[at] = _per_pair(_company_level, columns, left[at], right[at])
    return levels


def _email(columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`scoring._email_level` where both are known."""
    c = columns
    levels, both, lefts, rights = _both_known(c.has_email, left, right)
    same_local = c.email_local[lefts] == c.email_local[rights]
    same_domain = c.email_domain[lefts] == c.email_domain[rights]
    found = np.full(len(both), 2, dtype=np.int64)
    found[(c.email[lefts] == c.email[rights]) | (same_local & same_domain)] = 0
    undecided = found != 0
    numbers_agree = c.email_numbers[lefts] == c.email_numbers[rights]
    at = np.flatnonzero(undecided & numbers_agree & same_domain)
    if len(at):
        locals_ = c.email_local[lefts[at]], c.email_local[rights[at]]
        similarity = _similarity(JaroWinkler.similarity, *(side.tolist() for side in locals_))
        found[at] = np.where(similarity >= 0.92, 1, 2)
    at = np.flatnonzero(undecided & numbers_agree & ~same_domain & same_local)
    # Rare: one handle at two providers.
    found[at] = _per_pair(_email_level, c, lefts[at], rights[at])
    levels[both] = found
    return levels


def _phone(columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`scoring._phone_level` where both are known."""
    c = columns
    levels, both, lefts, rights = _both_known(c.has_phone, left, right)
    same = c.phone[lefts] == c.phone[rights]
    # With and without the country code: `same_phone` for just those.
    at = np.flatnonzero(~same & (c.phone_plus[lefts] != c.phone_plus[rights]))
    phones = c.phone
    same[at] = [
        same_phone(phones[a], phones[b])
        for a, b in zip(lefts[at].tolist(), rights[at].tolist(), strict=True)
    ]
    levels[both] = np.where(same, 0, np.where(c.phone_tail[lefts] == c.phone_tail[rights], 1, 2))
    return levels


def _address(columns: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`scoring._address_level` of each pair, its steps in the same order."""
    c = columns
    levels = np.full(len(left), MISSING, dtype=np.int64)
    both_postcodes = c.has_postcode[left] & c.has_postcode[right]
    both_cities = c.has_city[left] & c.has_city[right]
    both_streets = c.has_street[left] & c.has_street[right]
    undecided = both_postcodes | both_cities | both_streets
    same_postcode = both_postcodes & (c.postcode[left] == c.postcode[right])
    same_district = both_postcodes & (c.district[left] == c.district[right])
    same_city = both_cities & (c.city[left] == c.city[right])
    at = np.flatnonzero(both_cities & ~same_city)
    same_city[at] = _jw(c.towns, c.city[left[at]], c.city[right[at]]) >= 0.92
    close_postcode = both_postcodes & ~same_postcode & (same_city | ~both_cities)
    at = np.flatnonzero(close_postcode)
    close_postcode[at] = _close_postcodes(c, left[at], right[at])
    same_place = same_postcode | close_postcode | (~both_postcodes & (same_city | ~both_cities))

    def decide(where: np.ndarray, level: int) -> None:
        levels[where] = level
        undecided[where] = False

    def streets_alike(field: np.ndarray, at: np.ndarray, cutoff: float) -> np.ndarray:
        return _street_similarity(c.streets, field[left[at]], field[right[at]]) >= cutoff

    # Both streets known, somewhere near: the street itself. Its similarity decides only in
    # the same place without two house numbers that differ.
    near = np.flatnonzero(both_streets & (same_place | same_district | same_city))
    lefts, rights = left[near], right[near]
    numbers_clash = (
        c.has_number[lefts] & c.has_number[rights] & (c.number[lefts] != c.number[rights])
    )
    here = np.flatnonzero(~numbers_clash & same_place[near])
    similarity = _street_similarity(c.streets, c.street[lefts[here]], c.street[rights[here]])
    # One side has a second line the other lacks: the first lines too.
    lines = np.flatnonzero(
        (similarity < 0.95) & (c.has_line1[lefts[here]] != c.has_line1[rights[here]])
    )
    at = near[here[lines]]
    similarity[lines] = np.maximum(
        similarity[lines], _street_similarity(c.streets, c.line1[left[at]], c.line1[right[at]])
    )
    level_0 = (similarity >= 0.95) & ~close_postcode[near[here]]
    level_1 = ~level_0 & (similarity >= 0.85)
    decide(near[here[level_1]], 1)
    decide(near[here[level_0]], 0)
    at = near[undecided[near] & c.has_street_name[lefts] & c.has_street_name[rights]]
    decide(at[streets_alike(c.street_name, at, 0.90)], 2)

    same_number = c.has_number[left] & (c.number[left] == c.number[right])
    towns_clash = both_cities & ~same_city
    decide(
        undecided & same_number & ~towns_clash & (same_postcode | (close_postcode & both_cities)),
        3,
    )
    # The same second line in the same place (`_same_place_names`).
    at = np.flatnonzero(
        undecided
        & same_place
        & ~towns_clash
        & (c.place_name_length[left] >= 4)
        & (c.place_name_length[right] >= 4)
    )
    decide(at[streets_alike(c.place_name, at, 0.88)], 8)
    # Towns that differ with postcodes a typo apart: the same street where a number is missing.
    at = np.flatnonzero(
        undecided
        & towns_clash
        & both_postcodes
        & c.has_street_name[left]
        & c.has_street_name[right]
        & ~(c.has_number[left] & c.has_number[right])
    )
    at = at[_close_postcodes(c, left[at], right[at])]
    decide(at[streets_alike(c.street_name, at, 0.95)], 9)
    decide(undecided & (same_postcode | close_postcode), 4)
    decide(undecided & same_district, 5)
    decide(undecided & same_city, 6)
    at = np.flatnonzero(undecided & same_number)
    decide(at[streets_alike(c.street, at, 0.95)], 7)
    decide(undecided, 10)
    return levels


def pattern_codes(columns: Columns, left, right) -> np.ndarray:
    """The level pattern (`customer_levels` in `CUSTOMER_COMPARISONS`' order) of each pair of
    profiles `columns.profiles[left[k]]`, `columns.profiles[right[k]]`, as one number each."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    first, last = _names(columns, left, right)
    fields = (
        _company(columns, left, right),
        first,
        last,
        _address(columns, left, right),
        _email(columns, left, right),
        _phone(columns, left, right),
    )
    codes = np.zeros(len(left), dtype=np.int64)
    for levels in fields:
        codes = codes * _RADIX + (levels + 1)
    return codes


def patterns_of(codes: np.ndarray, width: int) -> list[tuple]:
    """`pattern_codes` as tuples of `width` levels (None where missing); equal patterns are
    one tuple."""
    unique, inverse = np.unique(codes, return_inverse=True)
    decoded = []
    for code in unique.tolist():
        digits = []
        for _ in range(width):
            code, digit = divmod(code, _RADIX)
            digits.append(digit - 1 if digit else None)
        decoded.append(tuple(reversed(digits)))
    return [decoded[at] for at in inverse.tolist()]


def customer_patterns(columns: Columns, left, right) -> list[tuple]:
    """`pattern_codes` as tuples."""
    return patterns_of(pattern_codes(columns, left, right), 6)


def customer_pairs_above(
    columns: Columns,
    left: np.ndarray,
    right: np.ndarray,
    scorer: Scorer,
    floor: float,
    term_weights: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`scoring.customer_levels_above` of many pairs: (the positions of the pairs that reach
    log-odds `floor`, their log-odds, their `pattern_codes`). `term_weights` holds, per
    comparison with a term-frequency field, each pair's weight of full agreement on its left
    record's value (NaN for the field's average weight: `Scorer.log_odds`). The log-odds are
    added up field by field in the same order as there, so they are the same numbers."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    first, last = _names(columns, left, right)
    levels = {
        "company": _company(columns, left, right),
        "first_name": first,
        "last_name": last,
        "email": _email(columns, left, right),
        "phone": _phone(columns, left, right),
    }
    partial = np.full(len(left), scorer.base)
    for name, table, *_ in scorer.fields:
        if name not in levels:
            continue  # the address, below
        level = levels[name]
        weight = np.where(level >= 0, np.asarray(table)[np.maximum(level, 0)], 0.0)
        if name in term_weights:
            own = term_weights[name]
            weight = np.where((level == 0) & ~np.isnan(own), own, weight)
        partial = partial + weight  # a missing field adds 0.0: the same sum as skipping it
    # The address only where it could lift the pair to the floor (see customer_levels_above).
    reach = ~(partial + scorer.best["address"] < floor)
    c = columns
    elsewhere = (
        c.has_postcode[left]
        & c.has_postcode[right]
        & (c.postcode[left] != c.postcode[right])
        & (c.district[left] != c.district[right])
    )
    at = np.flatnonzero(reach & elsewhere)
    at = at[~_close_postcodes(c, left[at], right[at])]
    same_number = c.has_number[left[at]] & (c.number[left[at]] == c.number[right[at]])
    best_elsewhere = np.where(same_number, *scorer.best_elsewhere[::-1])
    reach[at] = ~(partial[at] + best_elsewhere < floor)
    at = np.flatnonzero(reach)
    address = _address(c, left[at], right[at])
    table = np.asarray(scorer.table["address"])
    total = partial[at] + np.where(address >= 0, table[np.maximum(address, 0)], 0.0)
    company = levels["company"][at]
    reason = (company == _DIFFERENT_COMPANY) | (
        scorer.households & (first[at] == _DIFFERENT_GIVEN_NAME) & (company == MISSING)
    )
    total = np.where((total > _CEILING_LOG_ODDS) & reason, _CEILING_LOG_ODDS, total)
    kept = total >= floor
    at = at[kept]
    codes = np.zeros(len(at), dtype=np.int64)
    for levels_of_field in (
        levels["company"][at],
        first[at],
        last[at],
        address[kept],
        levels["email"][at],
        levels["phone"][at],
    ):
        codes = codes * _RADIX + (levels_of_field + 1)
    return at, total[kept], codes
