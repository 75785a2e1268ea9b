"""Benchmark: sandbox startup with 2,000 seeded customers, and list-page latency per emulator.

Run: .venv/bin/python bench/sandbox_startup.py [--customers 2000] [--rounds 50]
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

import django

django.setup()

from connectors.sandbox.runner import SandboxSet
from tests.conftest import https_session


def kashflow_page(entry, session):
    base = entry["base_url"]
    step1 = session.post(
        f"{base}/sessiontoken", json={"UserName": entry["username"], "Password": entry["password"]}
    ).json()
    word = entry["memorable_word"]
    chars = [
        {"Position": item["Position"], "Value": word[item["Position"] - 1]}
        for item in step1["MemorableWordList"]
    ]
    token = session.put(
        f"{base}/sessiontoken",
        json={"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": chars},
    ).json()["SessionToken"]
    headers = {"Authorization": f"KfToken {token}"}
    return lambda: session.get(f"{base}/customers?page=2&perpage=100", headers=headers)


def salesforce_page(entry, session):
    token = session.post(
        f"{entry['login_url']}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": entry["client_id"],
            "client_secret": entry["client_secret"],
        },
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = (
        f"{token['instance_url']}/services/data/v{entry['api_version']}/query"
        "?q=SELECT+Id,Name,BillingCity+FROM+Account+ORDER+BY+Name+LIMIT+100"
    )
    return lambda: session.get(url, headers=headers)


def magento_page(entry, session):
    token = session.post(
        f"{entry['base_url']}/V1/integration/admin/token",
        json={"username": entry["username"], "password": entry["password"]},
    ).json()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{entry['base_url']}/V1/customers/search?searchCriteria[pageSize]=100&searchCriteria[currentPage]=2"
    return lambda: session.get(url, headers=headers)


PAGES = {"kashflow": kashflow_page, "salesforce": salesforce_page, "magento": magento_page}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        started = time.perf_counter()
        sandboxes = SandboxSet(state_dir, base_port=0, customers=args.customers)
        endpoints = sandboxes.start()
        cold = time.perf_counter() - started
        sandboxes.stop()
        started = time.perf_counter()
        sandboxes = SandboxSet(state_dir, base_port=0, customers=args.customers)
        endpoints = sandboxes.start()
        warm = time.perf_counter() - started
        session = https_session(endpoints["ca_bundle"])
        latencies = {}
        for system, page in PAGES.items():
            fetch = page(endpoints[system], session)
            assert fetch().status_code == 200, f"{system} list page failed"
            samples = []
            for _ in range(args.rounds):
                begin = time.perf_counter()
                response = fetch()
                samples.append((time.perf_counter() - begin) * 1000)
                assert response.status_code == 200
            latencies[system] = samples
        sandboxes.stop()
    print(f"## Sandbox startup and list pages ({datetime.now(UTC):%Y-%m-%d})\n")
    print(
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"- Command: `.venv/bin/python bench/sandbox_startup.py --customers {args.customers} --rounds {args.rounds}`"
    )
    print(f"- First start (generate CA, seed all three, {args.customers} customers): {cold:.2f} s")
    print(f"- Restart with the persisted state: {warm:.2f} s\n")
    print("| list page (100 records, HTTPS keep-alive) | median ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for system, samples in latencies.items():
        ordered = sorted(samples)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        print(f"| {system} | {statistics.median(samples):.1f} | {p95:.1f} | {max(samples):.1f} |")


if __name__ == "__main__":
    main()
