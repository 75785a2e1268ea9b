"""Normalisation of names, companies, addresses, phones, emails and postcodes for matching.

Everything here is pure and deterministic: the same input always gives the same key, so
normalised values can be stored (blocking keys) and compared across workers. Phone numbers are
turned into E.164 with small per-country rules (no `phonenumbers` dependency): national trunk
prefix dropped, country calling code added, length checked.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")

COMPANY_SUFFIXES = frozenset(
    [
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "cos",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "sas",
        "bv",
        "nv",
        "pty",
        "pvt",
        "spa",
        "srl",
        "oy",
        "ab",
        "as",
        "aps",
        "kg",
        "ug",
        "se",
    ]
)
COMPANY_STOPWORDS = frozenset({"the", "and", "of"})

STREET_ABBREVIATIONS = {
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "blvd": "boulevard",
    "hwy": "highway",
    "cres": "crescent",
    "cresc": "crescent",
    "gdns": "gardens",
    "gdn": "garden",
    "ter": "terrace",
    "terr": "terrace",
    "pk": "park",
    "cl": "close",
    "pde": "parade",
    "mt": "mount",
    "grv": "grove",
    "gr": "grove",
    "wy": "way",
    "cir": "circle",
    "pkwy": "parkway",
    "apt": "apartment",
    "ste": "suite",
    "fl": "floor",
    "bldg": "building",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
}

# "Fifth Avenue" and "5th Ave" are one street; a guide writes one, a shop's form the other.
ORDINALS = {
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
    "sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th",
    "eleventh": "11th", "twelfth": "12th", "thirteenth": "13th", "fourteenth": "14th",
    "fifteenth": "15th", "sixteenth": "16th", "seventeenth": "17th", "eighteenth": "18th",
    "nineteenth": "19th", "twentieth": "20th",
}  # fmt: skip
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")

# Nicknames and short forms -> one canonical given name (both directions collapse to it).
_NICKNAME_GROUPS = {
    "william": "will bill billy willy liam wm",
    "robert": "rob bob bobby robbie bert",
    "richard": "rich rick ricky dick richie",
    "james": "jim jimmy jamie jas",
    "john": "jack johnny jon",
    "jonathan": "jon jonny",
    "michael": "mike mick mickey mikey",
    "thomas": "tom tommy",
    "joseph": "joe joey",
    "charles": "charlie chuck chas",
    "edward": "ed eddie ted teddy ned",
    "elizabeth": "liz lizzie beth betty eliza libby",
    "margaret": "maggie meg peggy marge",
    "katherine": "kate katie kathy cathy kath kat catherine kathryn",
    "christopher": "chris kit",
    "christine": "chrissie tina christina",
    "daniel": "dan danny",
    "david": "dave davy",
    "anthony": "tony",
    "andrew": "andy drew",
    "alexander": "alex alec sandy",
    "alexandra": "alex sandra",
    "benjamin": "ben benny",
    "samuel": "sam sammy",
    "matthew": "matt",
    "nicholas": "nick nicky",
    "patrick": "pat paddy",
    "patricia": "patty trish tricia",
    "peter": "pete",
    "stephen": "steve stevie steven",
    "timothy": "tim timmy",
    "gregory": "greg",
    "jennifer": "jen jenny",
    "jessica": "jess jessie",
    "rebecca": "becky becca",
    "susan": "sue susie",
    "deborah": "debbie deb debra",
    "victoria": "vicky vicki tori",
    "frederick": "fred freddie",
    "henry": "harry hank",
    "lawrence": "larry laurence",
    "ronald": "ron ronnie",
    "donald": "don donnie",
    "kenneth": "ken kenny",
    "gerald": "gerry jerry",
    "philip": "phil phillip",
    "raymond": "ray",
    "leonard": "len lenny leo",
    "douglas": "doug",
    "abigail": "abby abbie",
    "eleanor": "ellie nell nora",
    "josephine": "jo josie",
    "dorothy": "dot dottie",
    "pamela": "pam",
    "judith": "judy",
    "sarah": "sara sally",
    "mary": "molly polly",
    "ann": "anne annie anna",
    "zachary": "zach zack",
    "nathaniel": "nate nat nathan",
    "joshua": "josh",
    "jacob": "jake",
    "vincent": "vince vinny",
    "terence": "terry terrence",
    "theodore": "theo",
    "francis": "frank frankie fran",
    "albert": "al",
    "allan": "allen alan",
    "sean": "shaun shawn",
}
NICKNAMES: dict[str, str] = {}
for _canonical, _aliases in _NICKNAME_GROUPS.items():
    for _alias in _aliases.split():
        NICKNAMES.setdefault(_alias, _canonical)

# Country calling codes and national number lengths (after the trunk prefix is dropped).
_PHONE_RULES: dict[str, tuple[str, str, tuple[int, ...]]] = {
    # country: (calling code, trunk prefix, allowed national significant lengths)
    "GB": ("44", "0", (9, 10)),
    "IE": ("353", "0", (7, 8, 9)),
    "US": ("1", "1", (10,)),
    "CA": ("1", "1", (10,)),
    "AU": ("61", "0", (9,)),
    "NZ": ("64", "0", (8, 9, 10)),
    "DE": ("49", "0", tuple(range(6, 12))),
    "FR": ("33", "0", (9,)),
    "NL": ("31", "0", (9,)),
    "BE": ("32", "0", (8, 9)),
    "ES": ("34", "", (9,)),
    "IT": ("39", "", tuple(range(6, 12))),
}


def strip_accents(text: str) -> str:
    if text.isascii():  # nothing to strip (NFKD leaves ASCII as it is): most names, a tenth
        return text  # of working out a profile
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def basic(text: str | None) -> str:
    """Lower case, no accents, punctuation to spaces, single spaces."""
    if not text:
        return ""
    if type(text) is str:
        return _basic_text(text)
    return _basic_text.__wrapped__(str(text))


# Names and towns repeat from record to record: each profile asks for nine of these.
@lru_cache(maxsize=1 << 16)
def _basic_text(text: str) -> str:
    text = strip_accents(text).lower().replace("&", " and ").replace("'", "")
    text = _PUNCTUATION.sub(" ", text).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


def given_name(text: str | None) -> str:
    """A given name in canonical form: nicknames mapped to the full name, first token only."""
    tokens = basic(text).split()
    if not tokens:
        return ""
    first = tokens[0]
    return NICKNAMES.get(first, first)


def family_name(text: str | None) -> str:
    """A family name without spaces or hyphens ("O'Neil-Smith" -> "oneilsmith")."""
    return basic(text).replace(" ", "")


def company_name(text: str | None) -> str:
    """A company name without legal-form suffixes and stopwords ("The Acme Co. Ltd" -> "acme").

    A part in brackets is a qualifier one system adds and another does not ("Spago (Los
    Angeles)", "Acme (UK) Ltd"): it is dropped unless it is the whole name.
    """
    text = str(text) if text else ""
    tokens = basic(_BRACKETED.sub(" ", text)).split() or basic(text).split()
    # Runs of initials ("a b c widgets" from "A.B.C. Widgets") become one token ("abc").
    merged: list[str] = []
    run = ""
    for token in [*tokens, ""]:
        if len(token) == 1:
            run += token
            continue
        if run:
            merged.append(run)
            run = ""
        if token:
            merged.append(token)
    tokens = [token for token in merged if token not in COMPANY_STOPWORDS]
    while len(tokens) > 1 and tokens[-1] in COMPANY_SUFFIXES:
        tokens.pop()
    return " ".join(tokens)


# Street types long enough to find at the end of a word they were typed together with
# ("12 Canningstreet" -> "12 canning street"), longest first. Short ones ("way", "road",
# "lane") end too many names of their own ("broadway"). Four letters or more must come before
# the type ("harcourt" stays whole); a name that happens to end in one ("fireplace") is split
# alike on every record that holds it.
_GLUED_TYPES = (
    "boulevard", "crescent", "highway", "parkway", "terrace", "gardens", "avenue", "circle",
    "square", "street", "garden", "parade", "place", "drive", "grove", "court", "close",
)  # fmt: skip
_GLUED_TYPE = re.compile(rf"([^\W\d_]{{4,}}?)({'|'.join(_GLUED_TYPES)})")
_GLUED_ENDINGS = frozenset(kind[-4:] for kind in _GLUED_TYPES)  # a cheap test before the regex
_GLUED_LENGTH = 4 + min(map(len, _GLUED_TYPES))


def street(text: str | None) -> str:
    """An address line with street abbreviations expanded ("12 High St." -> "12 high street"),
    ordinal words as numerals ("747 Ninth Ave" -> "747 9th avenue") and a street type typed
    together with the name split off ("12 Canningstreet" -> "12 canning street")."""
    tokens = []
    for token in basic(text).split():
        glued = (
            len(token) >= _GLUED_LENGTH
            and token[-4:] in _GLUED_ENDINGS
            and _GLUED_TYPE.fullmatch(token)
        )
        tokens.extend(glued.groups() if glued else (ORDINALS.get(token, token),))
    result = []
    for index, token in enumerate(tokens):
        if token == "st":  # noqa: S105 (a street token, not a password)
            # "St" before a name is Saint ("12 St Johns Rd"); after one, Street ("High St").
            starts_name = index == 0 or tokens[index - 1].isdigit()
            followed_by_name = index + 1 < len(tokens) and tokens[index + 1].isalpha()
            result.append("saint" if starts_name and followed_by_name else "street")
        elif token in STREET_ABBREVIATIONS and (index > 0 or len(token) > 1):
            result.append(STREET_ABBREVIATIONS[token])
        else:
            result.append(token)
    return " ".join(result)


def email(text: str | None) -> str:
    """An email address lower-cased and trimmed; '' when it is not a plausible address."""
    value = (text or "").strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    return value if _EMAIL.match(value) else ""


def is_valid_email(text: str | None) -> bool:
    return bool(email(text))


def postcode(text: str | None, country: str = "") -> str:
    """A postcode in its canonical form: upper case; GB with one space; US ZIP as 5 digits."""
    value = _SPACES.sub("", strip_accents(text or "").upper())
    value = re.sub(r"[^A-Z0-9-]", "", value)
    if not value:
        return ""
    country = (country or "").upper()
    if country == "US" or (not country and re.fullmatch(r"\d{5}(-?\d{4})?", value)):
        return value[:5]
    value = value.replace("-", "")
    if country in ("GB", "IE", "") and re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", value):
        return f"{value[:-3]} {value[-3:]}"
    return value


def postcode_area(code: str) -> str:
    """The coarse part of a canonical postcode: GB outward code, else the first 3 characters."""
    if " " in code:
        return code.split(" ")[0]
    return code[:3]


def phone(text: str | None, country: str = "") -> str:
    """A phone number in E.164 ("+442079460000"), or '' when it cannot be a real number.

    Without a known country a number is kept only if it is already international.
    """
    raw = (text or "").strip()
    if not raw:
        return ""
    raw = re.split(r"(?i)\s*(?:ext\.?|x|#)\s*\d+$", raw)[0].replace("(0)", "")
    international = raw.startswith("+") or raw.startswith("00")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("00"):
        digits = digits[2:]
    if not digits or len(set(digits)) == 1:
        return ""
    if international:
        return f"+{digits}" if 8 <= len(digits) <= 15 else ""
    rule = _PHONE_RULES.get((country or "").upper())
    if rule is None:
        return ""
    calling_code, trunk, lengths = rule
    if digits.startswith(calling_code) and len(digits) - len(calling_code) in lengths:
        return f"+{digits}"
    if trunk and digits.startswith(trunk) and len(digits) - len(trunk) in lengths:
        digits = digits[len(trunk) :]
    if len(digits) not in lengths:
        return ""
    return f"+{calling_code}{digits}"


def phone_for_matching(text: str | None, country: str = "") -> str:
    """E.164 where the number can be read as one, else its national digits ("3102461501").

    Matching must not lose a phone just because the country is unknown (a file without a
    country column) or the number does not fit its rules: the digits still identify it.
    """
    international = phone(text, country)
    if international:
        return international
    raw = re.split(r"(?i)\s*(?:ext\.?|x|#)\s*\d+$", (text or "").strip())[0]
    digits = re.sub(r"\D", "", raw).lstrip("0")
    if not 7 <= len(digits) <= 15 or len(set(digits)) == 1:
        return ""
    return digits


def same_phone(left: str, right: str) -> bool:
    """Whether two matching phones are one number (E.164 and bare national digits compare)."""
    if left == right:
        return True
    if left.startswith("+") == right.startswith("+"):
        return False
    bare, full = (left, right) if right.startswith("+") else (right, left)
    return len(bare) >= 7 and full.endswith(bare)


def is_valid_phone(text: str | None, country: str = "") -> bool:
    return bool(phone(text, country))


_COUNTRY_ALIASES = {
    "uk": "GB",
    "unitedkingdom": "GB",
    "greatbritain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "usa": "US",
    "unitedstates": "US",
    "unitedstatesofamerica": "US",
    "ireland": "IE",
    "eire": "IE",
}


def country(text: str | None) -> str:
    """An ISO 3166-1 alpha-2 code from a code or a few common spellings."""
    return _country_code(text if text is None or isinstance(text, str) else str(text))


@lru_cache(maxsize=4096)  # a file holds a handful of spellings, met on every row
def _country_code(text: str | None) -> str:
    value = basic(text).replace(" ", "")
    if value in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[value]
    return value.upper() if len(value) == 2 else ""
