"""Salesforce <-> canonical mapping: pure functions, no HTTP."""

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connectors.canonical import Address, Customer, Payment, Product
from connectors.salesforce import mapping

ACCOUNT = {
    "Id": "0018d000000000AAAA",
    "Name": "Acme Widgets Ltd",
    "Phone": "020 7946 0000",
    "BillingStreet": "1 High Street\nUnit 4\r\nRear Yard",
    "BillingCity": "London",
    "BillingState": "Greater London",
    "BillingPostalCode": "EC1A 1BB",
    "BillingCountry": "United Kingdom",
    "ShippingStreet": None,
    "ExternalId__c": "ACME01",
    "VAT_Number__c": "GB123456789",
    "SystemModstamp": "2024-05-01T10:00:00.000+0000",
    "Contacts": {
        "totalSize": 1,
        "done": True,
        "records": [
            {"Id": "0038d0000000001AAA", "FirstName": "Jane", "LastName": "Smith",
             "Email": "jane@acme.example", "Phone": None},
        ],
    },
}  # fmt: skip


def test_account_with_contact_becomes_a_company_customer():
    customer = mapping.account_to_customer(ACCOUNT)
    assert customer.external_id == "0018d000000000AAAA"
    assert customer.company_name == "Acme Widgets Ltd"
    assert (customer.first_name, customer.last_name) == ("Jane", "Smith")
    assert customer.email == "jane@acme.example"
    assert customer.phone == "020 7946 0000"  # the Account's, as the contact has none
    assert customer.vat_number == "GB123456789"
    assert customer.custom_attributes == {mapping.ACCOUNT_REFERENCE: "ACME01"}
    assert customer.source_modified_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_compound_street_becomes_lines_and_country_name_an_iso_code():
    address = mapping.account_to_customer(ACCOUNT).billing_address
    assert address == Address(
        ["1 High Street", "Unit 4", "Rear Yard"], "London", "Greater London", "EC1A 1BB", "GB"
    )


def test_compound_address_object_is_read_with_its_country_code():
    account = {
        "Id": "001x",
        "Name": "X",
        "BillingAddress": {"street": "5 Rue Haute", "city": "Paris", "state": None,
                           "postalCode": "75001", "country": "France", "countryCode": "FR"},
    }  # fmt: skip
    address = mapping.address_to_canonical(account, "Billing")
    assert address == Address(["5 Rue Haute"], "Paris", "", "75001", "FR")


def test_country_spellings_sales_people_type_become_iso_codes():
    assert [mapping.country_code(text) for text in ("UK", "England", "usa", "GB", "Narnia")] == [
        "GB",
        "GB",
        "US",
        "GB",
        "",
    ]


def test_person_like_account_has_no_company():
    account = {**ACCOUNT, "Name": "  jane   SMITH "}
    assert mapping.account_to_customer(account).company_name == ""


def test_account_without_contact_keeps_its_name_as_company():
    customer = mapping.account_to_customer({**ACCOUNT, "Contacts": None})
    assert customer.company_name == "Acme Widgets Ltd" and customer.last_name == ""


def test_customer_becomes_account_and_contact_fields_without_empty_values():
    customer = Customer(
        "kashflow", "ACME01", company_name="Acme Widgets Ltd", first_name="Jane",
        last_name="Smith", email="jane@acme.example",
        billing_address=Address(["1 High Street", "Unit 4"], "London", "", "EC1A 1BB", "gb"),
        custom_attributes={mapping.ACCOUNT_REFERENCE: "ACME01"},
    )  # fmt: skip
    account = mapping.customer_to_account(customer)
    assert account == {
        "Name": "Acme Widgets Ltd",
        "ExternalId__c": "ACME01",
        "BillingStreet": "1 High Street\nUnit 4",
        "BillingCity": "London",
        "BillingPostalCode": "EC1A 1BB",
        "BillingCountry": "GB",
    }
    contact = mapping.customer_to_contact(customer)
    assert contact["FirstName"] == "Jane" and contact["LastName"] == "Smith"
    assert contact["ExternalId__c"] == "ACME01" and contact["MailingStreet"].count("\n") == 1


def test_person_customer_gets_an_account_named_after_them():
    customer = Customer("magento", "7", first_name="Tom", last_name="Baker")
    assert mapping.customer_to_account(customer)["Name"] == "Tom Baker"
    assert mapping.customer_to_account(customer, picklists=True) == {"Name": "Tom Baker"}


def test_country_picklists_write_the_country_code_field():
    customer = Customer("x", "1", company_name="A", billing_address=Address(country="IE"))
    assert mapping.customer_to_account(customer, picklists=True)["BillingCountryCode"] == "IE"


def test_product_with_standard_price_maps_money_as_decimal():
    product = mapping.product_to_canonical(
        {"Id": "01tA", "Name": "Walnut Charger", "ProductCode": "CHA-1", "IsActive": True,
         "Family": "Books", "Description": "A charger", "SystemModstamp": None},
        Decimal("19.9"),
        family_tax_classes={"Books": "zero"},
    )  # fmt: skip
    assert product.unit_price == Decimal("19.90") and product.currency == "GBP"
    assert (product.sku, product.active, product.tax_code) == ("CHA-1", True, "zero")
    assert product.custom_attributes == {mapping.PRODUCT_FAMILY: "Books"}
    back = mapping.product_to_salesforce(product)
    assert back == {"Name": "Walnut Charger", "ProductCode": "CHA-1",
                    "Description": "A charger", "Family": "Books", "IsActive": True}  # fmt: skip


def test_won_opportunity_becomes_an_invoice_with_vat_by_country():
    opportunity = {
        "Id": "0068d000000001AAA",
        "AccountId": "001A",
        "CloseDate": "2024-05-03",
        "Account": {"BillingCountry": "Ireland"},
        "OpportunityLineItems": {"records": [
            {"ProductCode": "B", "Quantity": Decimal("2.0"), "UnitPrice": Decimal("10"),
             "TotalPrice": Decimal("18.00"), "Discount": Decimal("10"), "SortOrder": 2},
            {"ProductCode": "A", "Quantity": Decimal("1"), "UnitPrice": Decimal("5.50"),
             "TotalPrice": Decimal("5.50"), "SortOrder": 1, "Name": "Thing A"},
        ]},
    }  # fmt: skip
    invoice = mapping.opportunity_to_invoice(opportunity)
    assert invoice.number == "" and invoice.reference == "0068d000000001AAA"
    assert invoice.issued_on == datetime(2024, 5, 3, tzinfo=UTC)
    assert [line.sku for line in invoice.lines] == ["A", "B"]
    assert invoice.lines[0].description == "Thing A"
    assert invoice.lines[1].net_amount == Decimal("18.00")  # the discount is kept
    assert {line.vat_rate for line in invoice.lines} == {Decimal("23")}
    assert invoice.status == "unpaid"


def test_invoice_status_and_payment_fields_use_salesforce_formats():
    assert mapping.invoice_status_fields("10042", "paid") == {
        "Kashflow_Invoice_Number__c": "10042",
        "Kashflow_Invoice_Status__c": "paid",
    }
    paid_on = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    payment = Payment("kashflow", "P9", "10042", Decimal("45.1"), "GBP", paid_on)
    assert mapping.payment_to_salesforce(payment, opportunity_id="006A") == {
        "Kashflow_Payment_Id__c": "P9",
        "Amount__c": "45.10",
        "Payment_Date__c": "2024-05-01",
        "Opportunity__c": "006A",
    }


def test_dates_and_datetimes_in_salesforce_format():
    moment = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert mapping.format_datetime(moment) == "2024-05-01T10:00:00.123+0000"
    assert mapping.soql_datetime(moment) == "2024-05-01T10:00:00.123Z"
    assert mapping.format_date(date(2024, 5, 1)) == "2024-05-01"
    assert mapping.soql_string("O'Brien\\") == "'O\\'Brien\\\\'"


def test_raw_records_become_json_safe():
    assert mapping.jsonable({"a": [Decimal("1.50")]}) == {"a": ["1.50"]}


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12).map(str.title)
lines = st.lists(st.text(alphabet="abcdefgh 0123456789", min_size=1, max_size=20).map(
    lambda text: " ".join(text.split())).filter(bool), max_size=3)  # fmt: skip


@given(company=names, first=names, last=names, street=lines, city=names,
       country=st.sampled_from(["GB", "US", "IE", "DE"]))  # fmt: skip
def test_customer_round_trips_through_account_and_contact(
    company, first, last, street, city, country
):
    customer = Customer(
        "kashflow", "K1", company_name=f"{company} Holdings", first_name=first, last_name=last,
        email=f"{first.lower()}@example.com", phone="+441632960000",
        billing_address=Address(street, city, "", "AB1 2CD", country),
        custom_attributes={mapping.ACCOUNT_REFERENCE: "K1"},
    )  # fmt: skip
    account = {"Id": "001A", **mapping.customer_to_account(customer)}
    account["Contacts"] = {"records": [mapping.customer_to_contact(customer)]}
    back = mapping.account_to_customer(account)
    for name in ("company_name", "first_name", "last_name", "email", "phone",
                 "billing_address", "custom_attributes"):  # fmt: skip
        assert getattr(back, name) == getattr(customer, name), name


def test_product_has_no_price_when_the_price_book_has_none():
    product = mapping.product_to_canonical({"Id": "01tB", "Name": "X", "IsActive": False})
    assert product.unit_price is None and product.active is False
    assert isinstance(product, Product)
