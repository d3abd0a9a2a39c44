"""The load test's users (bench/loadtest.py starts locust with this file; bench/README.md).

Staff in two roles send a mixed workload, each with an API token of their own (so each has its
own throttle, as real staff do): operations staff list, search, filter, open customers and record
orders, seeing phones masked; customer service staff search and open customers unmasked, which
audits each response. LOADTEST_PLAN names a JSON file with the tokens and the values to send
(bench/run.py sample_values); LOADTEST_THINK is the mean think time in seconds (0: none).
"""

import itertools
import json
import os
import random
import time
from pathlib import Path

from locust import FastHttpUser, between, constant, task
from run import order_body

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text())
VALUES = PLAN["values"]
THINK = float(os.environ.get("LOADTEST_THINK", "1"))
TOKENS = {role: itertools.cycle(tokens) for role, tokens in PLAN["tokens"].items()}
ORDER_IDS = itertools.count()
ORDER_PREFIX = f"load-{int(time.time())}-"


class Staff(FastHttpUser):
    abstract = True
    role = ""
    # Think times spread evenly around the mean, so that users do not move in step.
    wait_time = between(THINK / 2, THINK * 3 / 2) if THINK else constant(0)

    def on_start(self):
        token = next(TOKENS[self.role])
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def customers(self, name, **params):
        self.client.get("/api/v1/customers", params=params, headers=self.headers, name=name)

    def search(self, name, key):
        self.customers(name, search=random.choice(VALUES[key]))

    @task(3)
    def search_name(self):
        self.search("search: 2-char name", "names")

    @task(1)
    def search_surname(self):
        self.search("search: 1-char surname", "surnames")

    @task(3)
    def search_phone(self):
        self.search("search: full phone", "phones")

    @task(1)
    def search_last4(self):
        self.search("search: last 4 phone digits", "last4")

    @task(1)
    def search_email(self):
        self.search("search: e-mail", "emails")

    @task(1)
    def search_customer_no(self):
        self.search("search: customer number prefix", "customer_nos")

    @task(4)
    def detail(self):
        customer = random.choice(VALUES["ids"])
        self.client.get(
            f"/api/v1/customers/{customer}", headers=self.headers, name="customer detail"
        )


class Operations(Staff):
    weight = 3
    role = "operations"

    @task(3)
    def list_first_page(self):
        self.customers("list: first page")

    @task(1)
    def list_later_page(self):
        self.customers("list: pages 2-50", page=random.randint(2, 50))

    @task(1)
    def filter_combined(self):
        self.customers(
            "filters: level + tag + startDate",
            level="vip",
            tag=VALUES["tag"],
            startDate=VALUES["start_date"],
        )

    @task(2)
    def record_order(self):
        body = order_body(
            customer_id=random.choice(VALUES["ids"]),
            external_id=f"{ORDER_PREFIX}{next(ORDER_IDS)}",
        )
        self.client.post("/api/v1/orders", json=body, headers=self.headers, name="record an order")


class CustomerService(Staff):
    weight = 1
    role = "customer_service"
