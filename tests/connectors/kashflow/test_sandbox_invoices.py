"""Kashflow sandbox: invoices by Number with lines, VAT, totals, stock and unique numbers."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from tests.connectors.kashflow.conftest import KashflowApi, decimal_json, unique


def create_invoice(api, customer_code: str, lines: list[dict], **fields) -> dict:
    response = api.post("/invoices", {"CustomerCode": customer_code, "LineItems": lines, **fields})
    assert response.status_code == 201, response.text
    return decimal_json(response)


def stock_of(api, code: str) -> Decimal:
    return decimal_json(api.get(f"/products/{code}"))["QuantityInStock"]


def test_invoice_totals_and_vat_are_computed_from_the_lines(api, stocked_product):
    customer = api.create_customer(Code=unique("INV"))
    invoice = create_invoice(
        api,
        customer["Code"],
        [
            {"ProductCode": stocked_product["Code"], "Quantity": 3},
            {"Description": "Fitting", "Quantity": 2, "Rate": 45.5, "VATLevel": 20},
            {"Description": "Export leaflet", "Quantity": 1, "Rate": 10, "VATExempt": True},
        ],
    )
    product_line, fitting, leaflet = invoice["LineItems"]
    assert product_line["Rate"] == Decimal("12.5")
    assert product_line["Description"] == stocked_product["Name"]
    assert product_line["VATAmount"] == Decimal("7.5")
    assert fitting["VATAmount"] == Decimal("18.2")
    assert leaflet["VATAmount"] == 0
    assert [line["Number"] for line in invoice["LineItems"]] == [1, 2, 3]
    assert invoice["NetAmount"] == Decimal("138.5")  # 37.50 + 91.00 + 10.00
    assert invoice["VATAmount"] == Decimal("25.7")
    assert invoice["GrossAmount"] == Decimal("164.2")
    assert invoice["TotalPaidAmount"] == 0
    assert invoice["Status"] == "Unpaid"
    assert invoice["CustomerCode"] == customer["Code"]
    assert (
        decimal_json(api.get(f"/invoices/{invoice['Number']}"))["LineItems"]
        == (invoice["LineItems"])
    )


def test_invoice_lines_take_stock_and_editing_or_deleting_gives_it_back(api, stocked_product):
    customer = api.create_customer(Code=unique("STK"))
    code = stocked_product["Code"]
    invoice = create_invoice(api, customer["Code"], [{"ProductCode": code, "Quantity": 5}])
    assert stock_of(api, code) == 35
    response = api.put(
        f"/invoices/{invoice['Number']}", {"LineItems": [{"ProductCode": code, "Quantity": 2}]}
    )
    assert response.status_code == 200
    assert decimal_json(response)["NetAmount"] == 25
    assert stock_of(api, code) == 38
    assert api.delete(f"/invoices/{invoice['Number']}").status_code == 204
    assert stock_of(api, code) == 40
    assert api.get(f"/invoices/{invoice['Number']}").status_code == 404


def test_products_without_stock_management_keep_their_quantity(api):
    customer = api.create_customer(Code=unique("NSM"))
    product = decimal_json(
        api.post(
            "/products",
            {"Code": unique("SVC-"), "Name": "Consulting hour", "Price": 80, "QuantityInStock": 0},
        )
    )
    create_invoice(api, customer["Code"], [{"ProductCode": product["Code"], "Quantity": 4}])
    assert stock_of(api, product["Code"]) == 0


def test_supplied_number_is_used_and_a_duplicate_number_is_refused(api):
    customer = api.create_customer(Code=unique("NUM"))
    lines = [{"Description": "Work", "Quantity": 1, "Rate": 100}]
    number = 900000 + int(unique("")[-4:])
    invoice = create_invoice(api, customer["Code"], lines, Number=number)
    assert invoice["Number"] == number
    response = api.post(
        "/invoices", {"CustomerCode": customer["Code"], "Number": number, "LineItems": lines}
    )
    assert response.status_code == 400
    assert response.json()["Error"] == "DuplicateInvoiceNumber"
    assert set(response.json()) == {"Error", "Message"}
    following = create_invoice(api, customer["Code"], lines)
    assert following["Number"] > number


def test_invoice_validation_errors(api):
    customer = api.create_customer(Code=unique("VAL"))
    cases = [
        {"LineItems": [{"Description": "x", "Quantity": 1, "Rate": 1}]},  # no customer
        {"CustomerCode": "NOSUCH999", "LineItems": []},
        {"CustomerCode": customer["Code"], "LineItems": [{"ProductCode": "NOSUCH"}]},
        {"CustomerCode": customer["Code"], "LineItems": [{"Description": "no rate"}]},
        {"CustomerCode": customer["Code"], "LineItems": [{"Rate": "ten", "Quantity": 1}]},
        {"CustomerCode": customer["Code"], "Number": -4},
    ]
    for body in cases:
        response = api.post("/invoices", body)
        assert response.status_code == 400, body
        assert response.json()["Error"] == "ValidationError", body


def test_unknown_invoice_numbers_are_404(api):
    for method in ("get", "put", "delete"):
        response = getattr(api, method)("/invoices/99999999")
        assert response.status_code == 404, method
        assert response.json()["Error"] == "NotFound"


def test_single_invoice_links_to_its_neighbours(api):
    customer = api.create_customer(Code=unique("NBR"))
    lines = [{"Description": "Work", "Quantity": 1, "Rate": 1}]
    first = create_invoice(api, customer["Code"], lines)
    second = create_invoice(api, customer["Code"], lines)
    fetched = api.get(f"/invoices/{first['Number']}").json()
    assert fetched["NextNumber"] == second["Number"]


def test_customer_totals_follow_its_invoices(api):
    customer = api.create_customer(Code=unique("TOT"))
    create_invoice(api, customer["Code"], [{"Description": "A", "Quantity": 2, "Rate": 50}])
    fetched = decimal_json(api.get(f"/customers/{customer['Code']}"))
    assert fetched["InvoiceCount"] == 1
    assert fetched["InvoicedNetAmount"] == 100
    assert fetched["InvoicedVATAmount"] == 20
    assert fetched["OutstandingBalance"] == 120
    delete = api.delete(f"/customers/{customer['Code']}")
    assert delete.status_code == 400  # a customer with invoices cannot be deleted


def test_filterby_finds_a_customers_invoices(api):
    customer = api.create_customer(Code=unique("FLT"))
    create_invoice(api, customer["Code"], [{"Description": "A", "Quantity": 1, "Rate": 5}])
    page = api.get(f"/invoices?filterby={customer['Code']}").json()
    assert [invoice["CustomerCode"] for invoice in page["Data"]] == [customer["Code"]]


def test_concurrent_creates_get_distinct_numbers_and_take_stock_once_each(
    kashflow_sandbox, api, stocked_product
):
    customer = api.create_customer(Code=unique("CON"))
    lines = [{"ProductCode": stocked_product["Code"], "Quantity": 1}]

    def create(_):
        client = KashflowApi(kashflow_sandbox, api.session.headers["Authorization"].split()[1])
        return create_invoice(client, customer["Code"], lines)["Number"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(create, range(12)))
    assert len(set(numbers)) == 12
    assert stock_of(api, stocked_product["Code"]) == 40 - 12
