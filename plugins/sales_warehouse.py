"""Demo plugin: an order without a delivery warehouse gets the pick-up warehouse of its
customer's region (in the demo, each customer region has a pick-up warehouse)."""
from sqlalchemy import bindparam, column, select, table

from engine.events.hooks import hookimpl

_customer = table("customer", column("id"), column("region"))
_warehouse = table("warehouse", column("id"), column("code"), column("region"))
# built once: an import runs them for every order
_REGION = select(_customer.c.region).where(_customer.c.id == bindparam("customer"))
_PICK_UP = select(_warehouse.c.id).where(_warehouse.c.region == bindparam("region")).order_by(_warehouse.c.code).limit(1)


@hookimpl
def before_create(entity, values, actor, conn):
    if entity.name != "sales_order" or values.get("delivery_warehouse") or not isinstance(values.get("customer"), int):
        return
    region = conn.execute(_REGION, {"customer": values["customer"]}).scalar()
    if region is None:
        return  # an unknown customer is reported by validation
    values["delivery_warehouse"] = conn.execute(_PICK_UP, {"region": region}).scalar()
