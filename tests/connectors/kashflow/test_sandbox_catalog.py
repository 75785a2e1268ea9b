"""Kashflow sandbox: products with stock, nominal codes and bank accounts."""

from decimal import Decimal

from tests.connectors.kashflow.conftest import decimal_json, unique


def test_seeded_products_carry_stock_under_the_sales_nominal(api, truth_rows):
    products = decimal_json(api.get("/products?perpage=250"))["Data"]
    by_code = {product["Code"]: product for product in products}
    seeded = [row["external_id"] for row in truth_rows if row["entity"] == "product"]
    assert seeded and set(seeded) <= set(by_code)
    product = by_code[seeded[0]]
    assert product["NominalCode"] == "4000"
    assert product["ManageStockLevel"] is True
    # Other tests sell seeded products (stock may go negative in Kashflow): check the type only.
    assert isinstance(product["QuantityInStock"], Decimal)
    assert product["Price"] > 0
    assert product["VATRate"] in (0, 5, 20)


def test_product_codes_are_unique(api, stocked_product):
    response = api.post("/products", {"Code": stocked_product["Code"], "Name": "Again"})
    assert response.status_code == 400
    assert response.json()["Error"] == "DuplicateProductCode"


def test_product_create_needs_code_and_name_and_a_sales_nominal(api):
    assert api.post("/products", {"Name": "No code"}).status_code == 400
    response = api.post("/products", {"Code": unique("NOM-"), "Name": "X", "NominalCode": 7500})
    assert response.status_code == 400
    assert response.json()["Error"] == "ValidationError"


def test_product_update_changes_price_and_stock(api, stocked_product):
    code = stocked_product["Code"]
    response = api.put(f"/products/{code}", {"Price": 13.99, "QuantityInStock": 7})
    assert response.status_code == 200
    fetched = decimal_json(api.get(f"/products/{code}"))
    assert str(fetched["Price"]) == "13.9900"
    assert fetched["QuantityInStock"] == 7
    assert api.get("/products/NOSUCH-1").status_code == 404


def test_nominals_list_the_chart_of_accounts(api):
    nominals = api.get("/nominals?perpage=100").json()["Data"]
    codes = {nominal["Code"] for nominal in nominals}
    assert {1200, 4000} <= codes
    sales = next(nominal for nominal in nominals if nominal["Code"] == 4000)
    assert api.get(f"/nominals/{sales['Id']}").json()["Name"] == sales["Name"]
    assert api.get("/nominals/99999").status_code == 404


def test_bank_accounts_exist_in_a_new_account_and_can_be_added(api):
    accounts = api.get("/bankaccounts").json()["Data"]
    assert len([account for account in accounts if account["IsDefaultAccount"]]) == 1
    assert {"Id", "Code", "AccountName", "BankBalance"} <= set(accounts[0])
    response = api.post("/bankaccounts", {"AccountName": "Stripe Clearing", "Code": 1230})
    assert response.status_code == 201
    created = response.json()
    assert api.get(f"/bankaccounts/{created['Id']}").json()["AccountName"] == "Stripe Clearing"
    assert api.delete(f"/bankaccounts/{created['Id']}").status_code == 204
    assert api.get(f"/bankaccounts/{created['Id']}").status_code == 404


def test_account_metadata_counts_records(api):
    metadata = api.get("/metadata").json()
    assert metadata["TotalCustomerCount"] > 0
    assert metadata["TotalProductCount"] > 0
    assert metadata["TotalInvoiceCount"] > 0
