"""Generate truth-labelled customer records with realistic corruption, as canonical CSV.

    python bench/mdm_generate.py --kind people --entities 5000 --seed 1 OUT.csv

Each real entity (a person, or a business) gets one clean record and 0-3 duplicates, each as
another system would hold it: typos, transposed and dropped characters, abbreviations,
nicknames, swapped first/last names, missing fields, a moved house, different formats per
system (upper case, postcode without space, national vs international phones). The extra column
`truth_id` names the real entity; `import_records` ignores it. Names are drawn with a Zipf-like
frequency so common surnames really are common.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys


def words(text: str) -> list[str]:
    """A word list written as text (easier to read and extend than a list literal)."""
    return text.split()


FIRST_NAMES = words(
    "james john robert michael william david richard joseph thomas charles christopher daniel "
    "matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy "
    "ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin "
    "scott brandon benjamin samuel gregory alexander patrick frank raymond jack dennis jerry "
    "tyler aaron jose adam nathan henry peter zachary douglas harold kyle noah carl arthur "
    "oliver harry leo archie alfie freddie theo oscar liam connor declan niamh aoife siobhan "
    "mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty "
    "margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah "
    "stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma "
    "nicole helen samantha katherine christine debra rachel carolyn janet catherine maria "
    "heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn "
    "judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances "
    "kathryn janice jean abigail alice judy sophia grace denise amber doris marilyn danielle "
    "beverly isabella theresa diana natalie brittany charlotte marie kayla alexis lori"
)
LAST_NAMES = words(
    "smith jones williams taylor brown davies evans wilson thomas johnson roberts robinson "
    "thompson wright walker white edwards hughes green hall lewis harris clarke patel jackson "
    "wood turner martin cooper hill ward morris moore clark lee king baker harrison morgan "
    "allen james scott phillips watson davis parker price bennett young griffiths mitchell "
    "kelly cook carter richardson bailey collins bell shaw murphy miller cox richards khan "
    "marshall anderson simpson ellis adams singh begum wilkinson foster chapman powell webb "
    "rogers gray mason ali hunt hussain campbell matthews owen palmer holmes mills barnes "
    "knight lloyd butler russell barker fisher stevens jenkins murray dixon harvey graham "
    "pearson ahmed fletcher walsh kaur gibson howard andrews stewart elliott reynolds saunders "
    "payne fox ford pearce day brooks west lawrence cole atkinson bradley spencer gill dawson "
    "ball burton obrien watts rose booth perry ryan grant wells armstrong francis rees hayes "
    "hart hudson newman barrett webster hunter gregory carr lowe page marsh riley dunn woods "
    "parsons berry stone reid holland hawkins harding porter robertson newton oliver reed "
    "kennedy williamson bird gardner shah dean lane cooke bates henderson parry burgess bishop "
    "walton burns nicholson shepherd ross cross long freeman warren nicholls hamilton byrne "
    "sutton mcdonald yates hodgson robson curtis hopkins oconnor harper coleman watkins moss "
    "mccarthy chambers obrien griffin sharp hardy wheeler potter osborne johnston gordon doyle "
    "wallace george jordan hutchinson rowe burke may pritchard gilbert willis higgins read "
    "whittaker kowalski nowak novak quarshie okafor adeyemi nguyen tran oyelaran zielinski"
)
NICKNAMES = {
    "william": ["bill", "will"], "robert": ["bob", "rob"], "richard": ["rick", "dick"],
    "james": ["jim", "jimmy"], "michael": ["mike"], "thomas": ["tom"], "joseph": ["joe"],
    "charles": ["charlie"], "edward": ["ed", "ted"], "elizabeth": ["liz", "beth"],
    "margaret": ["maggie", "peggy"], "katherine": ["kate", "kathy"], "christopher": ["chris"],
    "daniel": ["dan"], "david": ["dave"], "anthony": ["tony"], "andrew": ["andy"],
    "alexander": ["alex"], "benjamin": ["ben"], "samuel": ["sam"], "matthew": ["matt"],
    "nicholas": ["nick"], "patrick": ["pat"], "stephen": ["steve"], "timothy": ["tim"],
    "jennifer": ["jenny"], "jessica": ["jess"], "rebecca": ["becky"], "susan": ["sue"],
    "deborah": ["debbie"], "victoria": ["vicky"], "henry": ["harry"], "abigail": ["abby"],
}  # fmt: skip
STREETS = words(
    "high church station park victoria green manor kings queens mill school north south london "
    "west east new york albert grange windsor chapel springfield orchard meadow highfield "
    "richmond cambridge oxford broadway beech oak elm ash willow cedar maple"
)
STREET_TYPES = [("street", "st"), ("road", "rd"), ("avenue", "ave"), ("lane", "ln"),
                ("drive", "dr"), ("close", "cl"), ("gardens", "gdns"), ("way", "way")]  # fmt: skip
TOWNS = [
    ("London", "SW"), ("London", "N"), ("Manchester", "M"), ("Birmingham", "B"),
    ("Leeds", "LS"), ("Bristol", "BS"), ("Liverpool", "L"), ("Sheffield", "S"),
    ("Nottingham", "NG"), ("Leicester", "LE"), ("Cardiff", "CF"), ("Glasgow", "G"),
    ("Edinburgh", "EH"), ("Newcastle", "NE"), ("Oxford", "OX"), ("Cambridge", "CB"),
    ("York", "YO"), ("Bath", "BA"), ("Exeter", "EX"), ("Norwich", "NR"),
]  # fmt: skip
BUSINESS_WORDS = words(
    "acme apex summit pioneer global united premier atlas beacon crown harbour meridian "
    "northern southern western eastern royal golden silver blue green red oak cedar phoenix "
    "falcon eagle lion swift bright clear prime first central city county valley river bridge "
    "castle tower anchor compass vertex nova stellar quantum vector orbit"
)
BUSINESS_KINDS = words(
    "consulting engineering logistics solutions systems builders plumbing electrical catering "
    "design media foods motors supplies services holdings trading partners software analytics "
    "dental legal accountants print interiors"
)
SUFFIXES = [("Ltd", "Limited"), ("Limited", "Ltd"), ("LLP", "L.L.P."), ("PLC", "plc"),
            ("& Co", "and Company")]  # fmt: skip
SYSTEMS = ("crm", "accounts", "shop")
LETTERS = "ABCDEFGHJKLMNPRSTUWXYZ"


def zipf_choice(rng: random.Random, items: list[str]) -> str:
    """A choice where the k-th item is about 1/k as likely as the first."""
    weights = getattr(zipf_choice, "_cache", {}).get(len(items))
    if weights is None:
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(items))]
        zipf_choice._cache = {**getattr(zipf_choice, "_cache", {}), len(items): weights}
    return rng.choices(items, weights=weights)[0]


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    index = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.35:  # substitution
        return text[:index] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[index + 1 :]
    if kind < 0.65:  # transposition
        return text[: index - 1] + text[index] + text[index - 1] + text[index + 1 :]
    if kind < 0.9:  # dropped character
        return text[:index] + text[index + 1 :]
    return text[:index] + text[index] + text[index:]  # doubled character


def make_address(rng: random.Random) -> dict:
    town, area = rng.choice(TOWNS)
    street_type = rng.choice(STREET_TYPES)
    district = rng.randrange(1, 30)
    postcode = f"{area}{district} {rng.randrange(1, 10)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"
    return {
        "number": str(rng.randrange(1, 300)),
        "street": f"{rng.choice(STREETS).title()}",
        "street_type": street_type,
        "city": town,
        "postcode": postcode,
        "flat": f"Flat {rng.randrange(1, 20)}" if rng.random() < 0.15 else "",
    }


def make_entity(rng: random.Random, kind: str, truth_id: int) -> dict:
    first = zipf_choice(rng, FIRST_NAMES)
    entity = {
        "truth_id": truth_id,
        "first": first,
        "last": zipf_choice(rng, LAST_NAMES),
        "address": make_address(rng),
        "email": "",
        "phone": f"07{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
        "company": "",
    }
    if kind == "business":
        words = rng.sample(BUSINESS_WORDS, rng.choice((1, 2)))
        entity["company"] = (
            " ".join(w.title() for w in words) + " " + rng.choice(BUSINESS_KINDS).title()
        )
        entity["suffix"] = rng.choice(SUFFIXES)
        entity["phone"] = (
            f"0{rng.choice((20, 161, 121, 113, 117))} {rng.randrange(1000000, 9999999)}"
        )
    return entity


def render(
    rng: random.Random, entity: dict, kind: str, duplicate: bool, moved: float = 0.05
) -> dict:
    """One system's record of the entity; duplicates carry the corruptions."""
    system = rng.choice(SYSTEMS)
    first, last = entity["first"], entity["last"]
    address = dict(entity["address"])
    street_type = address["street_type"][0]
    postcode = address["postcode"]
    phone = entity["phone"]
    company = entity["company"]
    if duplicate:
        roll = rng.random
        if roll() < 0.25:
            first = typo(rng, first)
        if roll() < 0.25:
            last = typo(rng, last)
        if roll() < 0.15 and first in NICKNAMES:
            first = rng.choice(NICKNAMES[first])
        if roll() < 0.05:
            first = first[0]
        if roll() < 0.05 and kind == "people":
            first, last = last, first
        if roll() < moved and kind == "people":
            address = make_address(rng)  # moved house
            postcode = address["postcode"]
        if roll() < 0.40:
            street_type = address["street_type"][1]
        if roll() < 0.15:
            address["street"] = typo(rng, address["street"])
        if roll() < 0.3:
            postcode = postcode.replace(" ", "")
        if roll() < 0.08:
            postcode = ""
        if roll() < 0.08:
            address["city"] = ""
        if company:
            if roll() < 0.25:
                company = typo(rng, company)
            if roll() < 0.2:
                company = company.replace(" and ", " & ")
        if roll() < 0.3:
            phone = "+44 " + phone.lstrip("0")
        if roll() < 0.2:
            phone = ""
    suffix = ""
    if company:
        suffix = entity["suffix"][1] if duplicate and rng.random() < 0.4 else entity["suffix"][0]
    line1 = f"{address['number']} {address['street']} {street_type.title()}"
    record = {
        "source_system": system,
        "company_name": f"{company} {suffix}".strip() if company else "",
        "first_name": first.title(),
        "last_name": last.title(),
        "email": "",
        "phone": phone if kind == "business" else "",
        "address_line1": line1,
        "address_line2": address["flat"],
        "city": address["city"],
        "region": "",
        "postcode": postcode,
        "country": "GB",
        "truth_id": entity["truth_id"],
    }
    if kind == "business" and rng.random() < 0.5:
        record["first_name"] = record["last_name"] = ""
    if system == "accounts":  # this system shouts
        for key in ("company_name", "first_name", "last_name", "address_line1", "city"):
            record[key] = record[key].upper()
    return record


COLUMNS = [
    "source_system", "source_id", "company_name", "first_name", "last_name", "email", "phone",
    "address_line1", "address_line2", "city", "region", "postcode", "country", "truth_id",
]  # fmt: skip


def housemate(rng: random.Random, entity: dict, truth_id: str) -> dict:
    """Another person at the entity's address: family (same surname) or a flatmate."""
    other = make_entity(rng, "people", truth_id)
    other["address"] = entity["address"]
    if rng.random() < 0.8:
        other["last"] = entity["last"]
    while other["first"] == entity["first"]:
        other["first"] = zipf_choice(rng, FIRST_NAMES)
    return other


def neighbour(rng: random.Random, entity: dict, truth_id: str) -> dict:
    """Another business in the entity's building: another name, and in half the cases the
    building's switchboard number (a serviced office, a hotel's restaurants)."""
    other = make_entity(rng, "business", truth_id)
    other["address"] = dict(entity["address"], flat=f"Suite {rng.randrange(1, 40)}")
    if rng.random() < 0.5:
        other["phone"] = entity["phone"]
    return other


def generate(
    kind: str,
    entities: int,
    seed: int,
    moved: float = 0.05,
    country: bool = True,
    households: float = 0.0,
    neighbours: float = 0.0,
) -> list[dict]:
    """Rows of truth-labelled records; without `country` the column stays empty (as in many
    public files), so phones are national numbers the hub cannot turn into E.164. With
    `households`, that share of people has a housemate (a real other entity at the same
    address, mostly with the same surname), who must not be merged with them; with
    `neighbours`, that share of businesses has another business in its building."""
    rng = random.Random(seed)
    rows = []
    for truth_id in range(entities):
        entity = make_entity(rng, kind, truth_id)
        group = [entity]
        if households and kind == "people" and rng.random() < households:
            group.append(housemate(rng, entity, f"{truth_id}h"))
        if neighbours and kind == "business" and rng.random() < neighbours:
            group.append(neighbour(rng, entity, f"{truth_id}n"))
        for member in group:
            copies = rng.choices((1, 2, 3, 4), weights=(0.5, 0.3, 0.15, 0.05))[0]
            for copy in range(copies):
                rows.append(render(rng, member, kind, duplicate=copy > 0, moved=moved))
                if not country:
                    rows[-1]["country"] = ""
    rng.shuffle(rows)
    for index, row in enumerate(rows):
        row["source_id"] = f"{row['source_system'][:2]}-{index:07d}"
    return rows


def write_csv(rows: list[dict], handle) -> None:
    writer = csv.DictWriter(handle, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def add_arguments(parser: argparse.ArgumentParser, entities: int) -> None:
    """The generator's options, for this script and for the benchmarks that generate."""
    parser.add_argument("--kind", choices=("people", "business"), default="people")
    parser.add_argument("--entities", type=int, default=entities)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--moved", type=float, default=0.05, help="share of duplicates that moved")
    parser.add_argument("--no-country", action="store_true", help="leave the country empty")
    parser.add_argument(
        "--households", type=float, default=0.0, help="share of people with a housemate"
    )
    parser.add_argument(
        "--neighbours", type=float, default=0.0, help="share of businesses with a neighbour"
    )


def generate_from(args: argparse.Namespace) -> list[dict]:
    """`generate` with the options `add_arguments` parsed."""
    return generate(
        args.kind,
        args.entities,
        args.seed,
        args.moved,
        not args.no_country,
        args.households,
        args.neighbours,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, entities=5000)
    parser.add_argument("out", nargs="?", default="-")
    args = parser.parse_args(argv)
    rows = generate_from(args)
    if args.out == "-":
        write_csv(rows, sys.stdout)
    else:
        with open(args.out, "w", newline="") as handle:
            write_csv(rows, handle)


if __name__ == "__main__":
    main()
