"""Writes metadata/demo/records.yaml: the demo's warehouses, customers, products and orders.

Run once when the demo's data shape changes: python tools/make_demo_data.py
The output is deterministic (a fixed seed), so the committed file only changes on purpose.
"""
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import yaml

rng = random.Random(20261122)
out = []
out.append({"entity": "warehouse", "as": "admin", "records": [
    {"code": "WH-E", "name": "East warehouse (Shanghai)", "region": "east"},
    {"code": "WH-W", "name": "West warehouse (Chengdu)", "region": "west"},
    {"code": "WH-X", "name": "Export hub (Ningbo port)", "region": "export"},
]})
names = ["Huadong Machinery", "Jiangnan Pumps", "Sunrise Valves", "Volga Engineering", "Ural Metallwerk",
         "Chengdu Tools", "Pacific Hydraulics", "Северсталь-Сервис", "杭州精工机械", "Nordic Fluid Systems",
         "Xi'an Compressors", "Kama Industrial", "上海恒力泵业", "Delta Process", "Sichuan Heavy Industry",
         "Baltic Machines", "重庆齿轮厂", "Sibir Drives", "Lotus Automation", "Qingdao Marine Parts"]
customers = []
for i, name in enumerate(names, 1):
    region = ["east", "west", "export"][i % 3] if i % 5 else "export"
    rec = {"_as": {"east": "rep_east1", "west": "rep_west1"}.get(region, "manager"),  # the rep looking after the region owns it
           "code": f"C{i:03d}", "name": name, "region": region, "tax_number": f"91{rng.randrange(10**15, 10**16)}",
           "credit_limit": str(Decimal(rng.choice([50, 100, 200, 500])) * 1000),
           "payment_terms": rng.choice(["prepaid", "net30", "net60"]),
           "contacts": [{"name": rng.choice(["Li Wei", "Wang Fang", "Ivan Petrov", "Anna Smirnova", "Zhang Min"]),
                         "role": rng.choice(["Buyer", "Engineer", "Director"]),
                         "phone": f"+86 21 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
                         "email": f"contact{i}@example.com"}]}
    customers.append(rec)
out.append({"entity": "customer", "as": "admin", "records": customers})
products = []
kinds = [("machine", "Centrifugal pump", 12000), ("machine", "Gear pump", 8000), ("machine", "Screw compressor", 45000),
         ("spare_part", "Mechanical seal", 350), ("spare_part", "Impeller", 900), ("spare_part", "Bearing set", 220),
         ("spare_part", "Gasket kit", 60), ("service", "Installation service", 3000)]
for i in range(1, 51):
    cat, base, price = kinds[i % len(kinds)]
    lp = Decimal(price) * Decimal(rng.randrange(80, 130)) / 100
    lp = lp.quantize(Decimal("0.01"))
    products.append({"code": f"P{i:03d}", "name": f"{base} {['S', 'M', 'L', 'XL'][i % 4]}-{i:02d}", "unit": "set" if cat == "machine" else "pcs",
                     "list_price": str(lp), "minimum_price": str((lp * Decimal("0.85")).quantize(Decimal("0.01"))),
                     "cost": str((lp * Decimal("0.6")).quantize(Decimal("0.01"))), "category": cat})
out.append({"entity": "product", "as": "admin", "records": products})
out.append({"entity": "stock", "as": "admin", "records": [
    {"product": {"code": p["code"]}, "warehouse": {"code": wh}, "on_hand": str(rng.choice([0, 0, 2, 5, 12, 40, 150])),
     "reserved": str(rng.choice([0, 0, 1, 3]))}
    for p in products for wh in ("WH-E", "WH-W", "WH-X") if rng.random() < 0.8]})
# each rep sells to customers of their own region (roles.yaml: reps see only those); the manager
# handles the export customers
sellers = [("rep_east1", "east", 50), ("rep_east2", "east", 50), ("rep_west1", "west", 50), ("rep_west2", "west", 50),
           ("manager", "export", 20)]
start = dt.date(2026, 1, 5)
for rep, region, count in sellers:
    orders = []
    for n in range(count):
        cust = rng.choice([c for c in customers if c["region"] == region])
        day = start + dt.timedelta(days=rng.randrange(0, 300))
        lines = []
        for _ in range(rng.randrange(1, 5)):
            p = rng.choice(products)
            lines.append({"product": {"code": p["code"]}, "quantity": str(rng.choice([1, 2, 3, 5, 10, 20])),
                          "unit_price": str((Decimal(p["list_price"]) * Decimal(rng.randrange(90, 101)) / 100).quantize(Decimal("0.01"))),
                          "delivery_date": (day + dt.timedelta(days=rng.randrange(14, 60))).isoformat()})
        if rng.random() < 0.1:
            lines.append({"description": "Custom coupling per drawing", "quantity": "2", "unit_price": "480.00",
                          "tech_spec": "Flexible coupling, bore 42 mm H7, keyway DIN 6885, stainless 1.4301; drawing CP-42-7."})
        orders.append({"_ref": f"{rep}-{n}", "customer": {"code": cust["code"]}, "order_date": day.isoformat(),
                       "category": "export" if cust["region"] == "export" else rng.choice(["standard", "standard", "promotion", "spare_parts"]),
                       "currency": "USD" if cust["region"] == "export" else "CNY",
                       "tax_rate": "0" if cust["region"] == "export" else "13",
                       "payment_terms": cust["payment_terms"],
                       "delivery_warehouse": {"code": {"east": "WH-E", "west": "WH-W", "export": "WH-X"}[cust["region"]]},
                       "requested_delivery_date": (day + dt.timedelta(days=rng.randrange(20, 70))).isoformat(),
                       **({"customs_declaration_no": f"2233{rng.randrange(10**13, 10**14)}", "incoterms": rng.choice(["FOB", "CIF", "DAP"])}
                          if cust["region"] == "export" else {"invoice_to": cust["name"], "invoice_schedule": rng.choice(["single", "instalments"])}),
                       "lines": lines})
    out.append({"entity": "sales_order", "as": rep, "records": orders})
# some orders move along the workflow, so every state has examples. Per seller, orders 0-13 are
# submitted; the four departments give opinions on 0-11 (finance rejects 10; only purchasing has
# answered 11); the supervisor approves 0-7, returns 8 and 10, and has 9 still to decide. After
# approval: 0-2 go to technical confirmation (0-1 into production, 0 produced and partly shipped);
# 3-5 ship from stock (3 shipped, 4 shipped and closed, 5 ready); 13 is cancelled under review.
approvers = {"rep_east1": "sup_east", "rep_east2": "sup_east", "rep_west1": "sup_west", "rep_west2": "sup_west", "manager": "manager"}
opinions = {"purchasing": "Materials available; lead time 3 weeks.", "technical": "Feasible with the standard process.",
            "production": "Fits the production plan.", "finance": "Payment terms acceptable."}
for rep, _, _ in sellers:
    refs = lambda *ns: [f"{rep}-{n}" for n in ns]  # noqa: E731
    step = lambda who, name, ns, **kw: out.append({"entity": "sales_order", "as": who, "fire": name, "refs": refs(*ns), **kw})  # noqa: E731
    step(rep, "submit", range(0, 14))
    out.append({"entity": "sales_order", "as": "purchasing", "review": "approve", "opinion": opinions["purchasing"], "refs": refs(*range(0, 12))})
    for dept in ("technical", "production"):
        out.append({"entity": "sales_order", "as": dept, "review": "approve", "opinion": opinions[dept], "refs": refs(*range(0, 11))})
    out.append({"entity": "sales_order", "as": "finance", "review": "approve", "opinion": opinions["finance"], "refs": refs(*range(0, 10))})
    out.append({"entity": "sales_order", "as": "finance", "review": "reject", "refs": refs(10),
                "opinion": "Net 60 is too long for this customer's open credit; ask for prepayment."})
    step(approvers[rep], "approve", range(0, 8))
    step(approvers[rep], "reject", (8, 10), fields={"reason": "Please check the delivery date against the production plan."})
    step(rep, "to_technical", (0, 1, 2))
    step("technical", "confirm_technical", (0, 1))
    step("production", "produced", (0,))
    step(rep, "ship_part", (0,), fields={"shipped": "First 50% of the lines, truck 1."})
    step(rep, "from_stock", (3, 4, 5))
    step(rep, "ship", (3, 4))
    step("finance", "close", (4,))
    step(rep, "cancel", (13,), fields={"reason": "The customer postponed the project."})
path = Path(__file__).resolve().parent.parent / "metadata" / "demo" / "records.yaml"
path.write_text("# Generated by tools/make_demo_data.py; edit that script, not this file.\n" +
                yaml.safe_dump(out, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
print(f"wrote {path}")
