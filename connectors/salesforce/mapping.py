"""Salesforce records <-> canonical records: pure functions over dicts and dataclasses.

Rules worth knowing:

- A customer is an Account with its primary Contact (the oldest Contact of the Account, read
  through the `Contacts` sub-query). Account Id is the external id. `ExternalId__c` carries the
  golden / Kashflow customer code and maps to `custom_attributes["account_reference"]`, the key
  the Kashflow mapping uses for its Code. An Account whose Name is just its contact's full name
  is a person: no company name.
- Addresses: the compound `BillingAddress` / `ShippingAddress` ({street, city, state,
  postalCode, country, countryCode}) when the query selected it, else the single fields.
  Street lines are newline-separated; countries come back as ISO 3166-1 alpha-2 from a
  `...CountryCode` field or from the typed name ("United Kingdom", "UK", "England" -> GB).
  Written back as the single fields, the country as its ISO code (or to `...CountryCode` when
  the org has State and Country picklists).
- The VAT number lives in a field named by the connection (default `VAT_Number__c`; "" when
  the org has none, then only a field mapping can fill it).
- Empty canonical values are left out of what is written, so an upsert never blanks a field a
  salesperson filled in.
- Money is Decimal end to end (responses are parsed with Decimal); it is sent as decimal text,
  which the REST API accepts for number fields, so it never passes through binary floating
  point. Dates are `YYYY-MM-DD`, datetimes `YYYY-MM-DDTHH:MM:SS.sss+0000` (UTC).
- A won Opportunity becomes an invoice: lines from its OpportunityLineItems (SKU from
  ProductCode), VAT by the Account's billing country and the product family's tax class
  (`family_tax_classes`, e.g. {"Books": "zero"}); the number is left empty for Kashflow to
  assign, the reference is the Opportunity Id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from connectors.canonical import Address, Customer, Invoice, InvoiceLine, Payment, Product
from connectors.transforms import (
    join_name,
    join_street,
    money,
    parse_datetime,
    street_lines,
    to_decimal,
    vat_rate,
)

SOURCE_SYSTEM = "salesforce"
EXTERNAL_ID_FIELD = "ExternalId__c"
ACCOUNT_REFERENCE = "account_reference"  # custom_attributes key of Account.ExternalId__c
PRODUCT_REFERENCE = "product_reference"  # custom_attributes key of Product2.ExternalId__c
PRODUCT_FAMILY = "product_family"
DEFAULT_VAT_FIELD = "VAT_Number__c"
INVOICE_NUMBER_FIELD = "Kashflow_Invoice_Number__c"
INVOICE_STATUS_FIELD = "Kashflow_Invoice_Status__c"
PAYMENT_OBJECT = "Payment__c"
PAYMENT_KEY_FIELD = "Kashflow_Payment_Id__c"

COUNTRY_NAMES = {
    "UNITEDKINGDOM": "GB", "UK": "GB", "GREATBRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
    "WALES": "GB", "NORTHERNIRELAND": "GB", "BRITAIN": "GB",
    "UNITEDSTATES": "US", "UNITEDSTATESOFAMERICA": "US", "USA": "US", "AMERICA": "US",
    "IRELAND": "IE", "EIRE": "IE", "REPUBLICOFIRELAND": "IE", "FRANCE": "FR", "GERMANY": "DE",
    "DEUTSCHLAND": "DE", "SPAIN": "ES", "ITALY": "IT", "NETHERLANDS": "NL", "HOLLAND": "NL",
    "BELGIUM": "BE", "AUSTRIA": "AT", "PORTUGAL": "PT", "SWEDEN": "SE", "DENMARK": "DK",
    "FINLAND": "FI", "POLAND": "PL", "GREECE": "GR", "LUXEMBOURG": "LU", "CANADA": "CA",
    "AUSTRALIA": "AU", "NEWZEALAND": "NZ", "SWITZERLAND": "CH", "NORWAY": "NO",
    "ISLEOFMAN": "IM", "JERSEY": "JE", "GUERNSEY": "GG",
}  # fmt: skip


# Values ---------------------------------------------------------------------------------
def text(value) -> str:
    return "" if value is None else str(value).strip()


def country_code(value: str | None) -> str:
    """ISO 3166-1 alpha-2 from a code or a common English spelling; "" when unknown."""
    key = "".join(char for char in text(value).upper() if char.isalpha())
    if key in COUNTRY_NAMES:
        return COUNTRY_NAMES[key]
    return key if len(key) == 2 else ""


def format_date(value: date | datetime | None) -> str | None:
    """Salesforce's date format, YYYY-MM-DD (a datetime is taken in UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = parse_datetime(value).date()
    return value.isoformat()


def format_datetime(value: datetime | None) -> str | None:
    """Salesforce's datetime format, UTC with milliseconds: 2024-05-01T10:00:00.000+0000."""
    if value is None:
        return None
    moment = parse_datetime(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal (unquoted), UTC."""
    moment = parse_datetime(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def soql_string(value: str) -> str:
    """A quoted SOQL string literal with quotes and backslashes escaped."""
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def decimal_text(value: Decimal | None, places: str | None = "0.01") -> str | None:
    """Money or a quantity as exact decimal text for the API."""
    if value is None:
        return None
    number = to_decimal(value)
    return str(number.quantize(Decimal(places)) if places else number.normalize())


def jsonable(value):
    """A response with Decimals (and nested dicts) as plain JSON values, for storing `raw`."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def without_empty(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if value not in (None, "")}


def children(record: dict, relationship: str) -> list[dict]:
    """The records of a sub-query result (None when there are none)."""
    nested = record.get(relationship)
    if isinstance(nested, dict):
        return list(nested.get("records") or [])
    return list(nested or []) if isinstance(nested, list) else []


# Addresses ------------------------------------------------------------------------------
def address_to_canonical(record: dict, prefix: str) -> Address:
    """Address from an Account's `<prefix>Address` compound, else its single fields."""
    compound = record.get(f"{prefix}Address")
    if isinstance(compound, dict):
        street = compound.get("street")
        city, region = compound.get("city"), compound.get("stateCode") or compound.get("state")
        postcode = compound.get("postalCode")
        country = compound.get("countryCode") or compound.get("country")
    else:
        street = record.get(f"{prefix}Street")
        city = record.get(f"{prefix}City")
        region = record.get(f"{prefix}StateCode") or record.get(f"{prefix}State")
        postcode = record.get(f"{prefix}PostalCode")
        country = record.get(f"{prefix}CountryCode") or record.get(f"{prefix}Country")
    return Address(
        lines=street_lines(street),
        city=text(city),
        region=text(region),
        postcode=text(postcode),
        country=country_code(country),
    )


def address_to_salesforce(address: Address, prefix: str, *, picklists: bool = False) -> dict:
    """The single address fields (what the API writes), without the empty ones."""
    country_field = f"{prefix}CountryCode" if picklists else f"{prefix}Country"
    return without_empty(
        {
            f"{prefix}Street": join_street(address.lines),
            f"{prefix}City": address.city,
            f"{prefix}State": address.region,
            f"{prefix}PostalCode": address.postcode,
            country_field: address.country.upper(),
        }
    )


# Customers ------------------------------------------------------------------------------
def primary_contact(account: dict) -> dict | None:
    contacts = children(account, "Contacts")
    return contacts[0] if contacts else None


def is_person_account(account_name: str, contact: dict | None) -> bool:
    """True when the Account's Name is just its contact's full name."""
    if not contact:
        return False
    person = join_name(text(contact.get("FirstName")), text(contact.get("LastName")))
    return bool(person) and " ".join(account_name.split()).casefold() == person.casefold()


def account_to_customer(
    account: dict,
    contact: dict | None = None,
    *,
    source_system: str = SOURCE_SYSTEM,
    vat_field: str = DEFAULT_VAT_FIELD,
) -> Customer:
    """A canonical Customer from an Account (with its `Contacts` sub-query or a contact)."""
    contact = contact if contact is not None else primary_contact(account)
    name = text(account.get("Name"))
    person = is_person_account(name, contact)
    contact = contact or {}
    reference = text(account.get(EXTERNAL_ID_FIELD))
    return Customer(
        source_system=source_system,
        external_id=text(account.get("Id")),
        company_name="" if person else name,
        first_name=text(contact.get("FirstName")),
        last_name=text(contact.get("LastName")),
        email=text(contact.get("Email")),
        phone=text(contact.get("Phone"))
        or text(account.get("Phone"))
        or text(contact.get("MobilePhone")),
        billing_address=address_to_canonical(account, "Billing"),
        shipping_address=address_to_canonical(account, "Shipping"),
        vat_number=text(account.get(vat_field)) if vat_field else "",
        custom_attributes={ACCOUNT_REFERENCE: reference} if reference else {},
        source_modified_at=parse_datetime(
            account.get("SystemModstamp") or account.get("LastModifiedDate")
        ),
    )


def account_reference(customer: Customer) -> str:
    """The value for `ExternalId__c`: the golden / Kashflow code the customer carries."""
    return text(customer.custom_attributes.get(ACCOUNT_REFERENCE))


def account_name(customer: Customer) -> str:
    """Account Name (required): the company, else the person, else the email."""
    return (
        customer.company_name.strip()
        or join_name(customer.first_name, customer.last_name)
        or customer.email.strip()
    )


def customer_to_account(
    customer: Customer, *, vat_field: str = DEFAULT_VAT_FIELD, picklists: bool = False
) -> dict:
    """Account fields for a canonical Customer, `ExternalId__c` included when it has one."""
    fields = {
        "Name": account_name(customer),
        "Phone": customer.phone,
        EXTERNAL_ID_FIELD: account_reference(customer),
    }
    if vat_field:
        fields[vat_field] = customer.vat_number
    fields.update(address_to_salesforce(customer.billing_address, "Billing", picklists=picklists))
    fields.update(address_to_salesforce(customer.shipping_address, "Shipping", picklists=picklists))
    return without_empty(fields)


def customer_to_contact(customer: Customer, *, picklists: bool = False) -> dict:
    """Primary Contact fields; {} when the customer names no person and has no email."""
    if not (customer.first_name or customer.last_name or customer.email):
        return {}
    fields = {
        "FirstName": customer.first_name,
        # LastName is required: fall back on what the customer is called.
        "LastName": customer.last_name or customer.company_name or customer.email,
        "Email": customer.email,
        "Phone": customer.phone,
        EXTERNAL_ID_FIELD: account_reference(customer),
    }
    fields.update(address_to_salesforce(customer.billing_address, "Mailing", picklists=picklists))
    return without_empty(fields)


# Products -------------------------------------------------------------------------------
def product_to_canonical(
    product: dict,
    unit_price: Decimal | None = None,
    *,
    source_system: str = SOURCE_SYSTEM,
    currency: str = "GBP",
    family_tax_classes: dict[str, str] | None = None,
) -> Product:
    """A canonical Product from a Product2 and its standard price book UnitPrice."""
    family = text(product.get("Family"))
    reference = text(product.get(EXTERNAL_ID_FIELD))
    attributes: dict[str, object] = {}
    if family:
        attributes[PRODUCT_FAMILY] = family
    if reference:
        attributes[PRODUCT_REFERENCE] = reference
    price = to_decimal(unit_price)
    return Product(
        source_system=source_system,
        external_id=text(product.get("Id")),
        sku=text(product.get("ProductCode")) or text(product.get("StockKeepingUnit")),
        name=text(product.get("Name")),
        description=text(product.get("Description")),
        unit_price=money(price) if price is not None else None,
        currency=text(product.get("CurrencyIsoCode")) or currency.upper(),
        tax_code=(family_tax_classes or {}).get(family, ""),
        active=bool(product.get("IsActive")),
        custom_attributes=attributes,
        source_modified_at=parse_datetime(
            product.get("SystemModstamp") or product.get("LastModifiedDate")
        ),
    )


def product_to_salesforce(product: Product) -> dict:
    """Product2 fields for a canonical Product (the price goes to a PricebookEntry)."""
    fields = {
        "Name": product.name or product.sku,
        "ProductCode": product.sku,
        "Description": product.description,
        "Family": text(product.custom_attributes.get(PRODUCT_FAMILY)),
        "IsActive": bool(product.active),
    }
    return {key: value for key, value in fields.items() if value not in (None, "")}


# Opportunities, invoices, payments ------------------------------------------------------
def line_item_to_invoice_line(
    item: dict, country: str, family_tax_classes: dict[str, str] | None = None
) -> InvoiceLine:
    quantity = to_decimal(item.get("Quantity"), Decimal("1"))
    unit_price = to_decimal(item.get("UnitPrice"), Decimal("0"))
    total = to_decimal(item.get("TotalPrice"))
    if total is not None and quantity and total != money(quantity * unit_price):
        unit_price = total / quantity  # a discounted line: keep its total exact
    product = item.get("Product2") if isinstance(item.get("Product2"), dict) else {}
    family = text(product.get("Family"))
    tax_class = (family_tax_classes or {}).get(family, "standard")
    return InvoiceLine(
        description=text(item.get("Description")) or text(item.get("Name")),
        sku=text(item.get("ProductCode")),
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=vat_rate(country, tax_class),
    )


def opportunity_to_invoice(
    opportunity: dict,
    *,
    source_system: str = SOURCE_SYSTEM,
    currency: str = "GBP",
    family_tax_classes: dict[str, str] | None = None,
) -> Invoice:
    """A canonical Invoice from a won Opportunity with `OpportunityLineItems` and `Account`."""
    account = opportunity.get("Account") if isinstance(opportunity.get("Account"), dict) else {}
    billing = address_to_canonical(account, "Billing")
    items = sorted(
        children(opportunity, "OpportunityLineItems"),
        key=lambda item: (item.get("SortOrder") is None, item.get("SortOrder") or 0),
    )
    status = text(opportunity.get(INVOICE_STATUS_FIELD)).lower()
    return Invoice(
        source_system=source_system,
        external_id=text(opportunity.get("Id")),
        number=text(opportunity.get(INVOICE_NUMBER_FIELD)),
        customer_external_id=text(opportunity.get("AccountId")),
        issued_on=parse_datetime(opportunity.get("CloseDate")),
        currency=text(opportunity.get("CurrencyIsoCode")) or currency.upper(),
        status=status or "unpaid",
        lines=[
            line_item_to_invoice_line(item, billing.country, family_tax_classes) for item in items
        ],
        billing_address=billing,
        reference=text(opportunity.get("Id")),
        source_modified_at=parse_datetime(
            opportunity.get("SystemModstamp") or opportunity.get("LastModifiedDate")
        ),
    )


def invoice_status_fields(number: str, status: str) -> dict:
    """Opportunity fields recording the Kashflow invoice made from it."""
    return {INVOICE_NUMBER_FIELD: text(number) or None, INVOICE_STATUS_FIELD: text(status) or None}


def payment_to_salesforce(
    payment: Payment, *, opportunity_id: str = "", account_id: str = ""
) -> dict:
    """`Payment__c` fields for a canonical Payment, keyed by `Kashflow_Payment_Id__c`."""
    fields = {
        PAYMENT_KEY_FIELD: text(payment.external_id),
        "Amount__c": decimal_text(payment.amount),
        "Payment_Date__c": format_date(payment.paid_on),
        "Method__c": payment.method,
        "Opportunity__c": opportunity_id,
        "Account__c": account_id,
    }
    return without_empty(fields)
