"""The sandbox org's schema: objects, fields, key prefixes and relationships.

One `ObjectSpec` per sObject drives validation, SOQL, describe and the id prefixes. Field names
are the real API names (object reference); the custom parts of this org are `ExternalId__c`
on Account, Contact and Product2 (marked External ID but not Unique, so an upsert can meet
several matches and answer 300, as the issue asks; values match case-insensitively), the two
Kashflow fields on Opportunity, `VAT_Number__c` on Account and the custom object `Payment__c`
(key prefix a01, auto-number Name `PAY-000001`, with `Kashflow_Payment_Id__c` marked External
ID and Unique, so a clash is `DUPLICATE_VALUE`; the reference leaves the customer's payment
schema open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

API_VERSION = "59.0"


class FieldType(StrEnum):
    """Describe `type` values used by this org."""

    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    PICKLIST = "picklist"
    BOOLEAN = "boolean"
    CURRENCY = "currency"
    DOUBLE = "double"
    PERCENT = "percent"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"
    REFERENCE = "reference"
    ADDRESS = "address"


SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.CURRENCY: "xsd:double",
    FieldType.DOUBLE: "xsd:double",
    FieldType.PERCENT: "xsd:double",
    FieldType.INT: "xsd:int",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.ADDRESS: "urn:address",
}
NUMERIC_TYPES = {FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT, FieldType.INT}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    required: bool = False  # required on create (not nillable, no default)
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    reference_to: str = ""
    picklist: tuple[str, ...] = ()
    default: object = None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def relationship_name(self) -> str:
        if self.type != FieldType.REFERENCE:
            return ""
        if self.custom:
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else ""

    @property
    def nillable(self) -> bool:
        return not self.required and self.type not in (FieldType.BOOLEAN, FieldType.ID)


@dataclass
class ObjectSpec:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    child_relationships: dict[str, tuple[str, str]] = field(default_factory=dict)
    createable: bool = True

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> FieldSpec | None:
        """Case-insensitive lookup, as SOQL and the REST API accept any casing."""
        return self._by_lower().get(name.lower())

    def _by_lower(self) -> dict[str, FieldSpec]:
        cache = self.__dict__.get("_lower")
        if cache is None:
            cache = {name.lower(): spec for name, spec in self.fields.items()}
            self.__dict__["_lower"] = cache
        return cache

    def relationship(self, name: str) -> FieldSpec | None:
        """The reference field behind a parent relationship name (Account -> AccountId)."""
        for spec in self.fields.values():
            if spec.relationship_name and spec.relationship_name.lower() == name.lower():
                return spec
        return None

    @property
    def external_id_fields(self) -> list[FieldSpec]:
        return [spec for spec in self.fields.values() if spec.external_id]


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2]
    words, current = [], ""
    for char in base.replace("_", " "):
        if char.isupper() and current and not current[-1].isupper() and current[-1] != " ":
            words.append(current)
            current = char
        else:
            current += char
    words.append(current)
    return " ".join(word.strip() for word in words if word.strip())


def _f(name: str, kind: FieldType, **options) -> FieldSpec:
    options.setdefault("label", _label(name))
    if kind in (FieldType.STRING, FieldType.PHONE, FieldType.EMAIL, FieldType.URL):
        options.setdefault("length", 255 if kind != FieldType.PHONE else 40)
    if kind == FieldType.TEXTAREA:
        options.setdefault("length", 32000)
    return FieldSpec(name, kind, **options)


def _system_fields() -> list[FieldSpec]:
    read_only = {"createable": False, "updateable": False}
    return [
        _f("Id", FieldType.ID, label="Record ID", **read_only),
        _f("IsDeleted", FieldType.BOOLEAN, label="Deleted", **read_only),
        _f("CreatedDate", FieldType.DATETIME, **read_only),
        _f("CreatedById", FieldType.REFERENCE, reference_to="User", **read_only),
        _f("LastModifiedDate", FieldType.DATETIME, **read_only),
        _f("LastModifiedById", FieldType.REFERENCE, reference_to="User", **read_only),
        _f("SystemModstamp", FieldType.DATETIME, label="System Modstamp", **read_only),
    ]


def _address(prefix: str) -> list[FieldSpec]:
    return [
        _f(f"{prefix}Street", FieldType.TEXTAREA, label=f"{prefix} Street", length=255),
        _f(f"{prefix}City", FieldType.STRING, label=f"{prefix} City", length=40),
        _f(f"{prefix}State", FieldType.STRING, label=f"{prefix} State/Province", length=80),
        _f(f"{prefix}PostalCode", FieldType.STRING, label=f"{prefix} Zip/Postal Code", length=20),
        _f(f"{prefix}Country", FieldType.STRING, label=f"{prefix} Country", length=80),
        _f(
            f"{prefix}Address",
            FieldType.ADDRESS,
            label=f"{prefix} Address",
            createable=False,
            updateable=False,
        ),
    ]


def _external_id(
    name: str = "ExternalId__c", label: str = "External ID", unique: bool = False
) -> FieldSpec:
    return _f(name, FieldType.STRING, label=label, length=80, external_id=True, unique=unique)


READ_ONLY = {"createable": False, "updateable": False}
STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
STAGE_PROBABILITY = dict(zip(STAGES, (10, 10, 20, 50, 60, 70, 75, 90, 100, 0), strict=True))


def _object(name, label, plural, prefix, fields, children=None) -> ObjectSpec:
    spec = ObjectSpec(name, label, plural, prefix, child_relationships=children or {})
    for field_spec in _system_fields() + fields:
        spec.fields[field_spec.name] = field_spec
    return spec


def build_schema() -> dict[str, ObjectSpec]:
    """Every sObject of the sandbox org, by API name."""
    objects = [
        _object(
            "Account",
            "Account",
            "Accounts",
            "001",
            [
                _f("Name", FieldType.STRING, label="Account Name", required=True),
                _f("AccountNumber", FieldType.STRING, length=40),
                _f("Phone", FieldType.PHONE, label="Account Phone"),
                _f("Fax", FieldType.PHONE, label="Account Fax"),
                _f("Website", FieldType.URL),
                _f(
                    "Type",
                    FieldType.PICKLIST,
                    label="Account Type",
                    picklist=("Prospect", "Customer - Direct", "Customer - Channel", "Other"),
                ),
                _f("Industry", FieldType.PICKLIST),
                _f("Description", FieldType.TEXTAREA, label="Account Description"),
                *_address("Billing"),
                *_address("Shipping"),
                _external_id(),
                _f("VAT_Number__c", FieldType.STRING, label="VAT Number", length=30),
            ],
            {
                "Contacts": ("Contact", "AccountId"),
                "Opportunities": ("Opportunity", "AccountId"),
            },
        ),
        _object(
            "Contact",
            "Contact",
            "Contacts",
            "003",
            [
                _f("FirstName", FieldType.STRING, label="First Name", length=40),
                _f("LastName", FieldType.STRING, label="Last Name", length=80, required=True),
                _f("Name", FieldType.STRING, label="Full Name", length=121, **READ_ONLY),
                _f("Salutation", FieldType.PICKLIST, picklist=("Mr.", "Ms.", "Mrs.", "Dr.")),
                _f("Title", FieldType.STRING, length=128),
                _f("Email", FieldType.EMAIL, length=80),
                _f("Phone", FieldType.PHONE, label="Business Phone"),
                _f("MobilePhone", FieldType.PHONE, label="Mobile Phone"),
                _f("AccountId", FieldType.REFERENCE, label="Account ID", reference_to="Account"),
                *_address("Mailing"),
                _external_id(),
            ],
        ),
        _object(
            "Product2",
            "Product",
            "Products",
            "01t",
            [
                _f("Name", FieldType.STRING, label="Product Name", required=True),
                _f("ProductCode", FieldType.STRING, label="Product Code"),
                _f("Description", FieldType.TEXTAREA, label="Product Description"),
                _f("Family", FieldType.PICKLIST, label="Product Family"),
                _f("IsActive", FieldType.BOOLEAN, label="Active", default=False),
                _f("StockKeepingUnit", FieldType.STRING, label="Product SKU", length=180),
                _f("QuantityUnitOfMeasure", FieldType.PICKLIST, label="Quantity Unit Of Measure"),
                _external_id(),
            ],
        ),
        _object(
            "Pricebook2",
            "Price Book",
            "Price Books",
            "01s",
            [
                _f("Name", FieldType.STRING, label="Price Book Name", required=True),
                _f("IsActive", FieldType.BOOLEAN, label="Active", default=False),
                _f("IsStandard", FieldType.BOOLEAN, label="Is Standard Price Book", **READ_ONLY),
                _f("Description", FieldType.TEXTAREA),
            ],
        ),
        _object(
            "PricebookEntry",
            "Price Book Entry",
            "Price Book Entries",
            "01u",
            [
                _f(
                    "Pricebook2Id",
                    FieldType.REFERENCE,
                    label="Price Book ID",
                    reference_to="Pricebook2",
                    required=True,
                    updateable=False,
                ),
                _f(
                    "Product2Id",
                    FieldType.REFERENCE,
                    label="Product ID",
                    reference_to="Product2",
                    required=True,
                    updateable=False,
                ),
                _f("Name", FieldType.STRING, label="Product Name", **READ_ONLY),
                _f("ProductCode", FieldType.STRING, label="Product Code", **READ_ONLY),
                _f("UnitPrice", FieldType.CURRENCY, label="List Price", required=True),
                _f("IsActive", FieldType.BOOLEAN, label="Active", default=False),
                _f("UseStandardPrice", FieldType.BOOLEAN, default=False),
            ],
        ),
        _object(
            "Opportunity",
            "Opportunity",
            "Opportunities",
            "006",
            [
                _f("Name", FieldType.STRING, label="Opportunity Name", length=120, required=True),
                _f("AccountId", FieldType.REFERENCE, label="Account ID", reference_to="Account"),
                _f("StageName", FieldType.PICKLIST, label="Stage", picklist=STAGES, required=True),
                _f("CloseDate", FieldType.DATE, label="Close Date", required=True),
                _f("Amount", FieldType.CURRENCY),
                _f("Probability", FieldType.PERCENT, label="Probability (%)"),
                _f("IsWon", FieldType.BOOLEAN, label="Won", **READ_ONLY),
                _f("IsClosed", FieldType.BOOLEAN, label="Closed", **READ_ONLY),
                _f(
                    "Pricebook2Id",
                    FieldType.REFERENCE,
                    label="Price Book ID",
                    reference_to="Pricebook2",
                ),
                _f("Description", FieldType.TEXTAREA),
                _f("Kashflow_Invoice_Number__c", FieldType.STRING, label="Kashflow Invoice Number"),
                _f(
                    "Kashflow_Invoice_Status__c",
                    FieldType.STRING,
                    label="Kashflow Invoice Status",
                    length=40,
                ),
            ],
            {
                "OpportunityLineItems": ("OpportunityLineItem", "OpportunityId"),
                "Payments__r": ("Payment__c", "Opportunity__c"),
            },
        ),
        _object(
            "OpportunityLineItem",
            "Opportunity Product",
            "Opportunity Product",
            "00k",
            [
                _f(
                    "OpportunityId",
                    FieldType.REFERENCE,
                    label="Opportunity ID",
                    reference_to="Opportunity",
                    required=True,
                    updateable=False,
                ),
                _f(
                    "PricebookEntryId",
                    FieldType.REFERENCE,
                    label="Price Book Entry ID",
                    reference_to="PricebookEntry",
                    required=True,
                    updateable=False,
                ),
                _f(
                    "Product2Id",
                    FieldType.REFERENCE,
                    label="Product ID",
                    reference_to="Product2",
                    **READ_ONLY,
                ),
                _f("Name", FieldType.STRING, label="Opportunity Product Name", **READ_ONLY),
                _f("ProductCode", FieldType.STRING, label="Product Code", **READ_ONLY),
                _f("Quantity", FieldType.DOUBLE, required=True),
                _f("UnitPrice", FieldType.CURRENCY, label="Sales Price"),
                _f("ListPrice", FieldType.CURRENCY, label="List Price", **READ_ONLY),
                _f("TotalPrice", FieldType.CURRENCY, label="Total Price"),
                _f("Discount", FieldType.PERCENT),
                _f("Subtotal", FieldType.CURRENCY, **READ_ONLY),
                _f("ServiceDate", FieldType.DATE, label="Date"),
                _f("Description", FieldType.STRING, label="Line Description"),
                _f("SortOrder", FieldType.INT, label="Sort Order"),
            ],
        ),
        _object(
            "Payment__c",
            "Payment",
            "Payments",
            "a01",
            [
                _f("Name", FieldType.STRING, label="Payment Number", length=80, **READ_ONLY),
                _f("Amount__c", FieldType.CURRENCY, label="Amount", required=True),
                _f("Payment_Date__c", FieldType.DATE, label="Payment Date"),
                _f("Method__c", FieldType.STRING, label="Method", length=40),
                _f(
                    "Opportunity__c",
                    FieldType.REFERENCE,
                    label="Opportunity",
                    reference_to="Opportunity",
                ),
                _f("Account__c", FieldType.REFERENCE, label="Account", reference_to="Account"),
                _external_id("Kashflow_Payment_Id__c", "Kashflow Payment ID", unique=True),
            ],
        ),
    ]
    return {spec.name: spec for spec in objects}


SCHEMA = build_schema()
PREFIXES = {spec.key_prefix: spec.name for spec in SCHEMA.values()}


def object_spec(name: str) -> ObjectSpec | None:
    """Case-insensitive object lookup."""
    spec = SCHEMA.get(name)
    if spec is not None:
        return spec
    lowered = name.lower()
    return next((spec for key, spec in SCHEMA.items() if key.lower() == lowered), None)
