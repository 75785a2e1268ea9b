"""Transformation rules shared by every mapping: names, street lines, dates, money, VAT.

Each system's mapping.py composes these; the rules live here once so the three systems split a
name or a street the same way.
"""

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "lord", "lady"}
SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "obe", "mbe", "cbe", "qc", "kc"}
PARTICLES = {
    "van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "st",
    "ter", "ten", "bin", "al",
}  # fmt: skip


def split_full_name(full_name: str) -> tuple[str, str]:
    """Split "Dr. Anna van der Berg" into ("Anna", "van der Berg").

    Handles "Last, First", titles and suffixes (dropped), and surname particles. A single word
    is taken as the last name, since systems that require one name require the last.
    """
    text = " ".join((full_name or "").split())
    if not text:
        return "", ""
    if "," in text:
        last, _, first = text.partition(",")
        first_words = [w for w in first.split() if w.lower().strip(".") not in SUFFIXES]
        return " ".join(first_words).strip(), last.strip()
    words = [word for word in text.split(" ") if word]
    while words and words[0].lower().strip(".") in TITLES:
        words.pop(0)
    while len(words) > 1 and words[-1].lower().strip(".,") in SUFFIXES:
        words.pop()
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    last_start = len(words) - 1
    while last_start > 1 and words[last_start - 1].lower() in PARTICLES:
        last_start -= 1
    return " ".join(words[:last_start]), " ".join(words[last_start:])


def join_name(first_name: str, last_name: str) -> str:
    return " ".join(
        part for part in ((first_name or "").strip(), (last_name or "").strip()) if part
    )


def street_lines(street: str | list[str] | None, max_lines: int | None = None) -> list[str]:
    """Street lines from a newline-separated string (Salesforce) or a list (Magento street[]).

    With max_lines, surplus lines are joined into the last allowed line with ", " so nothing
    is lost when a system has fewer lines than the source.
    """
    if street is None:
        return []
    raw = street if isinstance(street, list) else re.split(r"\r\n|\r|\n", street)
    lines = [" ".join(str(line).split()) for line in raw]
    lines = [line for line in lines if line]
    if max_lines and len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], ", ".join(lines[max_lines - 1 :])]
    return lines


def join_street(lines: list[str]) -> str:
    """The Salesforce compound-address Street: lines joined by newlines."""
    return "\n".join(line for line in lines if line)


_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_datetime(value: str | datetime | date | None) -> datetime | None:
    """An aware UTC datetime from any of the systems' formats; None for blank.

    Accepts ISO 8601 with Z or an offset (Salesforce "2024-05-01T10:00:00.000+0000"), and the
    naive "YYYY-MM-DD HH:MM:SS" of Kashflow and Magento, which both mean UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    text = str(value).strip()
    if re.search(r"[+-]\d{4}$", text):  # +0000 -> +00:00 for fromisoformat on 3.11
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in _NAIVE_FORMATS:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unrecognised date/time {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_decimal(value, default: Decimal | None = None) -> Decimal | None:
    """Money and quantities as Decimal, never through binary floating point arithmetic."""
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = repr(value)  # shortest round-trip text, e.g. 46.1 not 46.0999...
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# VAT for a UK-registered seller: UK rates at home, the destination's standard rate within the
# EU (one-stop shop), zero for exports elsewhere. Rates in percent.
UK_RATES = {"standard": Decimal("20"), "reduced": Decimal("5"), "zero": Decimal("0")}
EU_STANDARD_RATES = {
    "AT": 20, "BE": 21, "BG": 20, "CY": 19, "CZ": 21, "DE": 19, "DK": 25, "EE": 22, "ES": 21,
    "FI": 25.5, "FR": 20, "GR": 24, "HR": 25, "HU": 27, "IE": 23, "IT": 22, "LT": 21, "LU": 17,
    "LV": 21, "MT": 18, "NL": 21, "PL": 23, "PT": 23, "RO": 21, "SE": 25, "SI": 22, "SK": 23,
}  # fmt: skip
UK_COUNTRIES = {"GB", "UK", "IM"}


def vat_rate(country: str, tax_class: str = "standard") -> Decimal:
    """The VAT rate (percent) for a customer's country and a product's tax class."""
    country = (country or "GB").upper()
    tax_class = (tax_class or "standard").lower()
    if tax_class in ("zero", "exempt", "none"):
        return Decimal("0")
    if country in UK_COUNTRIES:
        return UK_RATES.get(tax_class, UK_RATES["standard"])
    if country in EU_STANDARD_RATES:
        return Decimal(str(EU_STANDARD_RATES[country]))
    return Decimal("0")
