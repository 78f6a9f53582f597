"""Demo plugin: an order without a delivery warehouse gets the pick-up warehouse of its
customer's region (in the demo, each customer region has a pick-up warehouse).

It runs for every order an import creates, so it reads as little as it can: the region is the
order's own `customer_region` (filled from the customer before this hook runs), and the
warehouse of a region is remembered for the length of an import (engine.storage.memo: forgotten
as soon as anything writes a warehouse)."""
from sqlalchemy import bindparam, column, select, table

from engine.events.hooks import hookimpl
from engine.storage import memo

_customer = table("customer", column("id"), column("region"))
_warehouse = table("warehouse", column("id"), column("code"), column("region"))
# built once: an import runs them for every order
_REGION = select(_customer.c.region).where(_customer.c.id == bindparam("customer"))
_PICK_UP = select(_warehouse.c.id).where(_warehouse.c.region == bindparam("region")).order_by(_warehouse.c.code).limit(1)


@hookimpl
def before_create(entity, values, actor, conn):
    if entity.name != "sales_order" or values.get("delivery_warehouse") or not isinstance(values.get("customer"), int):
        return
    region = values.get("customer_region") or conn.execute(_REGION, {"customer": values["customer"]}).scalar()
    if region is None:
        return  # an unknown customer is reported by validation
    remembered = memo.current()
    found = remembered.get("warehouse", ("pick-up", region)) if remembered is not None else memo.MISSING
    if found is memo.MISSING:
        found = conn.execute(_PICK_UP, {"region": region}).scalar()
        if remembered is not None:
            remembered.put("warehouse", ("pick-up", region), found)
    values["delivery_warehouse"] = found
