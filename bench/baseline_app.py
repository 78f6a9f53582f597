"""The bare baseline for bench/list_page.py: one Starlette route that runs the same keyset
query as the generated list page (first page of orders, newest first), looks up the customer
names, and renders the same columns with Jinja2. No sessions, permissions, i18n or metadata.

    ENGINE_DATABASE_URL=sqlite:///bench/data/orders_1000000.db uvicorn bench.baseline_app:app
"""
import os

from jinja2 import Environment
from sqlalchemy import MetaData, Table, create_engine, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.routing import Route

engine = create_engine(os.environ["ENGINE_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
md = MetaData()
orders = Table("sales_order", md, autoload_with=engine)
customers = Table("customer", md, autoload_with=engine)
COLS = ["number", "customer", "order_date", "requested_delivery_date", "category", "total", "currency", "status"]
TEMPLATE = Environment(autoescape=True).from_string("""<!doctype html><html><head><title>Orders</title></head><body>
<table><thead><tr>{% for c in cols %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/sales_order/{{ r.id }}">{{ r.number }}</a></td><td>{{ names.get(r.customer, '') }}</td>
<td>{{ r.order_date }}</td><td>{{ r.requested_delivery_date or '' }}</td><td>{{ r.category }}</td><td>{{ r.total }}</td>
<td>{{ r.currency }}</td><td>{{ r.status }}</td></tr>{% endfor %}</tbody></table></body></html>""")


def page():
    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.id, *[orders.c[c] for c in COLS])
                            .order_by(orders.c.order_date.desc(), orders.c.id.desc()).limit(51)).mappings().all()
        ids = {r["customer"] for r in rows}
        names = dict(conn.execute(select(customers.c.id, customers.c.name).where(customers.c.id.in_(ids))).all())
    return TEMPLATE.render(rows=rows[:50], names=names, cols=COLS)


async def orders_page(request):
    return HTMLResponse(await run_in_threadpool(page))


app = Starlette(routes=[Route("/sales_order", orders_page)])
