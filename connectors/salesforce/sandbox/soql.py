"""A SOQL subset: parse a query into a `Query` and run it over the sandbox's records.

Supported: `SELECT` of fields, parent relationship paths (`Account.Name`,
`Opportunity.Account.Name`), child sub-queries (`(SELECT Id FROM OpportunityLineItems)`),
`FIELDS(ALL|STANDARD|CUSTOM)`, `COUNT()`; `FROM` one object; `WHERE` with `=`, `!=`, `<>`, `<`,
`>`, `<=`, `>=`, `LIKE` (`%` and `_`), `IN` / `NOT IN`, `AND`, `OR`, `NOT`, parentheses, `null`,
string / number / boolean / date / datetime literals; `ORDER BY` several fields with
`ASC|DESC` and `NULLS FIRST|LAST`; `LIMIT`; `OFFSET`. String comparisons are case-insensitive,
as in SOQL. Not supported (MALFORMED_QUERY): aliases, GROUP BY / aggregates other than
COUNT(), date literals such as `LAST_N_DAYS:7`, bind variables, `INCLUDES`, semi-joins.
Records without ORDER BY come back in creation order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.salesforce.sandbox.schema import (
    NUMERIC_TYPES,
    SCHEMA,
    FieldSpec,
    FieldType,
    ObjectSpec,
    object_spec,
)
from connectors.salesforce.sandbox.wire import (
    ApiError,
    canonical_datetime,
    field_value,
    normalise_id,
    sobject_url,
)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


@dataclass
class Token:
    kind: str
    text: str
    value: object = None


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise malformed(f"unexpected token: '{text[position:].strip()[:20]}'")
        kind = match.lastgroup
        raw = match.group(kind)
        value: object = raw
        if kind == "string":
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
        tokens.append(Token(kind, raw, value))
        position = match.end()
    return tokens


@dataclass
class FieldPath:
    """A selected or filtered field: relationship hops then the field."""

    text: str
    hops: list[FieldSpec]  # reference fields followed from the queried object
    target: ObjectSpec  # the object that owns `field`
    field: FieldSpec


@dataclass
class Query:
    spec: ObjectSpec
    fields: list[FieldPath | Query] = field(default_factory=list)
    count_only: bool = False
    where: Callable[[dict], bool] | None = None
    order: list[tuple[FieldPath, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    relationship: str = ""  # a sub-query's child relationship name
    parent_field: str = ""  # the child's reference to the parent


class _Parser:
    def __init__(self, text: str, lookup: Callable[[str, str], dict | None]):
        self.tokens = tokenize(text)
        self.position = 0
        self.lookup = lookup

    # Token helpers ---------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token.kind == "name" and token.text.upper() in words:
            self.position += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            token = self.peek()
            found = token.text if token else "end of query"
            raise malformed(f"unexpected token: '{found}', expected {word}")

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token and token.kind == "punct" and token.text == char:
            self.position += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        if not self.punct(char):
            token = self.peek()
            raise malformed(f"unexpected token: '{token.text if token else 'end'}'")

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.position += 1
        return token

    # Grammar ---------------------------------------------------------------------------
    def query(self, parent: ObjectSpec | None = None) -> Query:
        self.expect_keyword("SELECT")
        selected: list = []
        count_only = False
        while True:
            if self.punct("("):
                selected.append(("subquery", self.position))
                self._skip_parenthesised()
            else:
                token = self.next()
                if token.kind != "name":
                    raise malformed(f"unexpected token: '{token.text}'")
                if token.text.upper() in ("COUNT", "FIELDS") and self.punct("("):
                    argument = None if self.punct(")") else self.next().text
                    if argument is not None:
                        self.expect_punct(")")
                    if token.text.upper() == "COUNT" and argument is None:
                        count_only = True
                    elif token.text.upper() == "FIELDS" and argument:
                        selected.append(("fields", argument.upper()))
                    else:
                        raise malformed("only COUNT() is supported among aggregate functions")
                else:
                    selected.append(("field", token.text))
            if not self.punct(","):
                break
        self.expect_keyword("FROM")
        name = self.next().text
        spec, relationship, parent_field = self._from(name, parent)
        result = Query(spec, count_only=count_only, relationship=relationship)
        result.parent_field = parent_field
        end = self.position
        for kind, value in selected:
            if kind == "field":
                result.fields.append(self.path(spec, value))
            elif kind == "fields":
                result.fields += self._fields_macro(spec, value)
            else:
                self.position = value
                result.fields.append(self.query(parent=spec))
                self.expect_punct(")")
        self.position = end
        texts = [item.text.lower() for item in result.fields if isinstance(item, FieldPath)]
        duplicate = next((text for text in texts if texts.count(text) > 1), None)
        if duplicate:
            raise malformed(f"duplicate field selected: {duplicate}")
        if self.keyword("WHERE"):
            result.where = self.condition(spec)
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                path = self.path(spec, self.next().text)
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                nulls_last = descending
                if self.keyword("NULLS"):
                    nulls_last = self.keyword("LAST")
                    if not nulls_last:
                        self.expect_keyword("FIRST")
                result.order.append((path, descending, nulls_last))
                if not self.punct(","):
                    break
        if self.keyword("LIMIT"):
            result.limit = self._integer()
        if self.keyword("OFFSET"):
            result.offset = self._integer()
        return result

    def _integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise malformed(f"unexpected token: '{token.text}'")
        return int(token.text)

    def _skip_parenthesised(self) -> None:
        depth = 1
        while depth:
            token = self.next()
            if token.kind == "punct" and token.text in "()":
                depth += 1 if token.text == "(" else -1

    def _from(self, name: str, parent: ObjectSpec | None) -> tuple[ObjectSpec, str, str]:
        if parent is None:
            spec = object_spec(name)
            if spec is None:
                raise ApiError(
                    400,
                    "INVALID_TYPE",
                    f"sObject type '{name}' is not supported. If you are attempting to use a"
                    " custom object, be sure to append the '__c' after the entity name.",
                )
            return spec, "", ""
        for relationship, (child, reference) in parent.child_relationships.items():
            if relationship.lower() == name.lower():
                return SCHEMA[child], relationship, reference
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"Didn't understand relationship '{name}' in FROM part of query call.",
        )

    def _fields_macro(self, spec: ObjectSpec, kind: str) -> list[FieldPath]:
        if kind not in ("ALL", "STANDARD", "CUSTOM"):
            raise malformed(f"unexpected token: '{kind}'")
        return [
            FieldPath(name, [], spec, field_spec)
            for name, field_spec in spec.fields.items()
            if kind == "ALL" or (kind == "CUSTOM") == field_spec.custom
        ]

    def path(self, spec: ObjectSpec, text: str) -> FieldPath:
        parts = text.split(".")
        if len(parts) > 1 and parts[0].lower() == spec.name.lower():
            parts = parts[1:]  # `Account.Name` in a query on Account
        current, hops = spec, []
        for part in parts[:-1]:
            reference = current.relationship(part)
            if reference is None or reference.reference_to not in SCHEMA:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{part}' in field path. If you are"
                    " attempting to use a custom relationship, be sure to append the '__r'"
                    " after the custom relationship name.",
                )
            hops.append(reference)
            current = SCHEMA[reference.reference_to]
        field_spec = current.field(parts[-1])
        if field_spec is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{parts[-1]}' on entity '{current.name}'. If you are"
                " attempting to use a custom field, be sure to append the '__c' after the"
                " custom field name.",
            )
        return FieldPath(text, hops, current, field_spec)

    # WHERE -----------------------------------------------------------------------------
    def condition(self, spec: ObjectSpec) -> Callable[[dict], bool]:
        terms = [self._conjunction(spec)]
        while self.keyword("OR"):
            terms.append(self._conjunction(spec))
        return terms[0] if len(terms) == 1 else lambda doc: any(term(doc) for term in terms)

    def _conjunction(self, spec: ObjectSpec) -> Callable[[dict], bool]:
        factors = [self._factor(spec)]
        while self.keyword("AND"):
            factors.append(self._factor(spec))
        if len(factors) == 1:
            return factors[0]
        return lambda doc: all(factor(doc) for factor in factors)

    def _factor(self, spec: ObjectSpec) -> Callable[[dict], bool]:
        if self.keyword("NOT"):
            inner = self._factor(spec)
            return lambda doc: not inner(doc)
        if self.punct("("):
            inner = self.condition(spec)
            self.expect_punct(")")
            return inner
        token = self.next()
        if token.kind != "name":
            raise malformed(f"unexpected token: '{token.text}'")
        path = self.path(spec, token.text)
        getter = self._getter(path)
        if self.keyword("LIKE"):
            pattern = self._literal(path, like=True)
            regex = re.compile(
                "".join(
                    ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
                    for ch in str(pattern)
                ),
                re.IGNORECASE | re.DOTALL,
            )
            return lambda doc: (
                (value := getter(doc)) is not None and bool(regex.fullmatch(str(value)))
            )
        negate = self.keyword("NOT")
        if self.keyword("IN"):
            self.expect_punct("(")
            values = [self._literal(path)]
            while self.punct(","):
                values.append(self._literal(path))
            self.expect_punct(")")
            members = {_comparable(path.field, value) for value in values}
            return lambda doc: (_comparable(path.field, getter(doc)) in members) != negate
        if negate:
            raise malformed("unexpected token: 'NOT'")
        operator = self.next()
        if operator.kind != "op":
            raise malformed(f"unexpected token: '{operator.text}'")
        literal = _comparable(path.field, self._literal(path))
        return _comparison(operator.text, getter, path.field, literal)

    def _literal(self, path: FieldPath, like: bool = False) -> object:
        token = self.next()
        kind, field_spec = path.field.type, path.field
        if token.kind == "name" and token.text.lower() == "null":
            return None
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            if kind != FieldType.BOOLEAN:
                raise _filter_type(field_spec, "boolean")
            return token.text.lower() == "true"
        if kind == FieldType.DATETIME:
            if token.kind != "datetime":
                raise _filter_type(field_spec, "dateTime")
            return canonical_datetime(token.text)
        if kind == FieldType.DATE:
            if token.kind != "date":
                raise _filter_type(field_spec, "date")
            return token.text
        if kind in NUMERIC_TYPES:
            if token.kind != "number":
                raise _filter_type(field_spec, "number")
            return Decimal(token.text)
        if kind == FieldType.BOOLEAN:
            raise _filter_type(field_spec, "boolean")
        if token.kind != "string":
            raise malformed(f"unexpected token: '{token.text}'")
        return token.value

    def _getter(self, path: FieldPath) -> Callable[[dict], object]:
        return make_getter(path, self.lookup)


def make_getter(path: FieldPath, lookup) -> Callable[[dict], object]:
    """Reads a field path from a document, following parent references."""
    name, hops = path.field.name, path.hops

    def get(doc: dict) -> object:
        current = doc
        for hop in hops:
            parent_id = current.get(hop.name)
            current = lookup(hop.reference_to, parent_id) if parent_id else None
            if current is None:
                return None
        return current.get(name)

    return get


def _filter_type(field_spec: FieldSpec, wanted: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"value of filter criterion for field '{field_spec.name}' must be of type {wanted}"
        " and should not be enclosed in quotes",
    )


def _comparable(field_spec: FieldSpec, value: object) -> object:
    if value is None:
        return None
    if field_spec.type in NUMERIC_TYPES:
        return Decimal(value) if not isinstance(value, Decimal) else value
    if field_spec.type in (FieldType.ID, FieldType.REFERENCE):
        return (normalise_id(value) or value).lower()
    if isinstance(value, str):
        return value.lower()
    return value


def _comparison(operator: str, getter, field_spec: FieldSpec, literal: object):
    def test(doc: dict) -> bool:
        value = _comparable(field_spec, getter(doc))
        if operator == "=":
            return value == literal
        if operator in ("!=", "<>"):
            return value != literal
        if value is None or literal is None:
            return False
        if operator == "<":
            return value < literal
        if operator == ">":
            return value > literal
        if operator == "<=":
            return value <= literal
        return value >= literal

    return test


def parse(text: str, lookup: Callable[[str, str], dict | None]) -> Query:
    """Parse a SOQL query; `lookup(object, id)` finds parents for relationship paths."""
    if not text or not text.strip():
        raise malformed("The query string is empty")
    parser = _Parser(text, lookup)
    query = parser.query()
    if parser.peek() is not None:
        raise malformed(f"unexpected token: '{parser.peek().text}'")
    return query


def run(query: Query, docs: list[dict], lookup) -> list[dict]:
    """The matching documents, ordered, offset and limited."""
    matched = [doc for doc in docs if query.where is None or query.where(doc)]
    for path, descending, nulls_last in reversed(query.order):
        get = make_getter(path, lookup)
        present = [doc for doc in matched if get(doc) is not None]
        missing = [doc for doc in matched if get(doc) is None]
        present.sort(key=lambda doc: _comparable(path.field, get(doc)), reverse=descending)
        matched = present + missing if nulls_last else missing + present
    matched = matched[query.offset :]
    if query.limit is not None:
        matched = matched[: query.limit]
    return matched


def render(query: Query, doc: dict, lookup, children, version: str) -> dict:
    """One query result record: attributes, then fields in SELECT order (parents nested)."""
    url = sobject_url(version, query.spec.name, doc["Id"])
    record = {"attributes": {"type": query.spec.name, "url": url}}
    for item in query.fields:
        if isinstance(item, Query):
            rows = run(item, children(item, doc), lookup)
            record[item.relationship] = (
                {
                    "totalSize": len(rows),
                    "done": True,
                    "records": [render(item, row, lookup, children, version) for row in rows],
                }
                if rows
                else None
            )
            continue
        target, current = record, doc
        for hop in item.hops:
            relationship = hop.relationship_name
            parent_id = current.get(hop.name) if current else None
            parent = lookup(hop.reference_to, parent_id) if parent_id else None
            if parent is None:
                target[relationship] = None
                current = None
                break
            nested = target.get(relationship)
            if not isinstance(nested, dict):
                nested = {
                    "attributes": {
                        "type": hop.reference_to,
                        "url": sobject_url(version, hop.reference_to, parent["Id"]),
                    }
                }
                target[relationship] = nested
            target, current = nested, parent
        if current is not None:
            target[item.field.name] = field_value(item.target, current, item.field.name)
    return record
