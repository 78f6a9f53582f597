"""A small shop app with an `erp` rest connector, and helpers, for the connector tests."""
import base64
import datetime as dt

from sqlalchemy import select

from engine.core.actor import SYSTEM
from engine.workflow import transitions

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, ok!!!").decode()

APP = {
    "app.yaml": "name: shop\nlabel: Shop\nlanguages: [en]\n",
    "entities/order.yaml": """
        name: order
        label: Order
        title_field: number
        fields:
          number: {type: string, series: "PO-{#####}", unique: true}
          customer: {type: link, entity: customer}
          amount: {type: decimal, precision: 12, scale: 2}
          erp_number: {type: string}
          contact: {type: email}
          phone: {type: phone}
          language: {type: select, options: [en, zh, ru]}
          status: {type: select, options: [draft, approved], default: draft}
          lines: {type: table, entity: order_line}
    """,
    "entities/order_line.yaml": """
        name: order_line
        child: true
        fields:
          item: {type: string, required: true}
          quantity: {type: integer}
    """,
    "entities/customer.yaml": """
        name: customer
        title_field: name
        fields:
          name: {type: string, required: true}
    """,
    "roles.yaml": """
        roles:
          admin: {label: Admin, admin: true}
          clerk:
            label: Clerk
            permissions:
              order: {read: all, create: all, update: all}
              customer: {read: all, create: all, update: all}
    """,
    "workflows/order_flow.yaml": """
        name: order_flow
        entity: order
        state_field: status
        initial: draft
        states:
          draft: {}
          approved: {category: done}
        transitions:
          approve: {from: [draft], to: approved}
    """,
    "connectors/erp.yaml": """
        name: erp
        type: rest
        on:
          - {entity: order, event: transitioned, to: approved, when: "amount > 100"}
        base_url: ${TEST_ERP_URL}
        path: /sales-orders
        headers: {Authorization: "Bearer ${TEST_ERP_TOKEN}"}
        body:
          number: "{{ record.number }}"
          customer: "{{ record.customer__title }}"
          amount: "{{ record.amount }}"
          lines: "{{ record.lines }}"
          event: "{{ event.id }}"
        sign: {secret: "${TEST_ERP_SECRET}"}
        timeout: 1
        retry: {first_delay: 10, factor: 2, max_attempts: 4}
        response:
          set: {erp_number: "{{ response.document_number }}"}
    """,
}


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now

    def wait(self, seconds: float):
        self.now += dt.timedelta(seconds=seconds)


def approved_order(rt, amount="250.00"):
    c = rt.records.create(SYSTEM, "customer", {"name": "Ivanov & Sons"})
    o = rt.records.create(SYSTEM, "order", {"customer": c["id"], "amount": amount, "lines": [{"item": "pump", "quantity": 2}]})
    transitions.fire(rt.records, SYSTEM, "order", o["id"], "approve")
    return o


def rows(rt, table):
    with rt.db.read() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]
