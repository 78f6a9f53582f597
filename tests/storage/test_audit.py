"""The audit trail is signed with a key kept outside the database: rewriting an entry and
recomputing the chain is caught without the key, keys rotate with old entries still verifiable,
a chain from before audit keys stays verifiable and is sealed by the next keyed entry, and
without ENGINE_AUDIT_KEY a development key is kept beside the database."""
import datetime as dt
import hashlib
import json
import logging
import os
import stat

import pytest
from sqlalchemy import select, update

from engine.core.actor import SYSTEM
from engine.server import _dev_secret
from engine.storage import audit, audit_keys
from tests.conftest import seed_basics

KEY = "test-audit-key-0123456789abcdef"
OTHER = "another-audit-key-fedcba9876543210"


@pytest.fixture
def keyed(monkeypatch, dbs):
    """The demo app on an empty database, its audit trail signed with KEY."""
    monkeypatch.setenv("ENGINE_AUDIT_KEY", KEY)
    monkeypatch.delenv("ENGINE_AUDIT_OLD_KEYS", raising=False)
    return dbs.runtime()


def some_entries(rt) -> None:
    seed_basics(rt, SYSTEM)  # four creates
    rec = rt.records.create(SYSTEM, "customer", {"code": "C9", "name": "Nine", "region": "west"})
    rt.records.update(SYSTEM, "customer", rec["id"], {"name": "Nine Ltd"}, version=1)


def verify(rt, since=None) -> audit.VerifyResult:
    with rt.db.read() as conn:
        return audit.verify(conn, rt.schema, since=since)


def entries(rt) -> list[dict]:
    a = rt.schema.audit
    with rt.db.read() as conn:
        return [dict(r) for r in conn.execute(select(a).order_by(a.c.id)).mappings()]


def plain_hash(e: dict, prev: str) -> str:
    """What an attacker without the key computes: the chain's plain SHA-256 over the same fields."""
    stamp = e["at"].astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    payload = json.dumps([prev, e["entity"], e["record_id"], e["action"], e["actor_id"], e["actor"], e["via"], stamp, e["changes"]],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def rewrite(rt, first: int, change=None, drop_key_from: int | None = None) -> None:
    """Alter entry `first` (its changes) and recompute every hash from it on with plain SHA-256,
    head included, as someone with write access to the table but without the key would."""
    a, head = rt.schema.audit, rt.schema.audit_head
    rows = entries(rt)
    prev = audit.GENESIS if first == rows[0]["id"] else next(r["hash"] for r in rows if r["id"] == first - 1)
    with rt.db.write() as conn:
        for e in rows:
            if e["id"] < first:
                continue
            if e["id"] == first and change is not None:
                e["changes"] = change
            key_id = None if drop_key_from is not None and e["id"] >= drop_key_from else e["key_id"]
            h = plain_hash(e, prev)
            conn.execute(update(a).where(a.c.id == e["id"]).values(changes=e["changes"], prev_hash=prev, hash=h, key_id=key_id))
            prev = h
        conn.execute(update(head).where(head.c.id == 1).values(last_hash=prev))


def test_entries_are_signed_with_the_key_from_the_environment(keyed):
    some_entries(keyed)
    rows = entries(keyed)
    assert {e["key_id"] for e in rows} == {audit_keys.key_id(KEY.encode())}
    assert all(e["hash"] != plain_hash(e, e["prev_hash"]) for e in rows)  # not the plain hash anyone could compute
    result = verify(keyed)
    assert result.ok and result.checked == len(rows) and result.last_id == rows[-1]["id"] and result.last_hash == rows[-1]["hash"]
    assert KEY not in json.dumps([e["key_id"] for e in rows])  # the fingerprint does not reveal the key


@pytest.mark.parametrize("how", ["key ids kept", "key ids dropped from the altered entry on", "whole chain rewritten without keys"])
def test_rewriting_an_entry_and_recomputing_a_plain_sha256_chain_is_caught(keyed, how):
    some_entries(keyed)
    assert verify(keyed).ok
    forged = '{"fields":{"name":[null,"Forged"]}}'
    if how == "key ids kept":
        rewrite(keyed, 3, forged)
        result = verify(keyed)
        assert not result.ok and result.message.startswith("entry 3: its content does not match its signature")
    elif how == "key ids dropped from the altered entry on":
        rewrite(keyed, 3, forged, drop_key_from=3)
        result = verify(keyed)
        assert not result.ok and result.message.startswith("entry 3: carries a plain SHA-256 hash although the entries before it are signed")
    else:
        rewrite(keyed, 1, forged, drop_key_from=1)
        result = verify(keyed)
        assert not result.ok and "none of the 6 entries is signed with an audit key" in result.message


def test_an_entry_signed_with_a_key_the_engine_does_not_know_is_not_trusted(keyed, monkeypatch):
    some_entries(keyed)
    monkeypatch.setenv("ENGINE_AUDIT_KEY", OTHER)  # an attacker's own key: the chain continues, signed with it
    keyed.records.create(SYSTEM, "customer", {"code": "C10", "name": "Ten", "region": "west"})
    monkeypatch.setenv("ENGINE_AUDIT_KEY", KEY)
    result = verify(keyed)
    other = audit_keys.key_id(OTHER.encode())
    assert not result.ok
    assert "1 of 7 entries could not be checked" in result.message and f"key {other}: 1 entry between 7 and 7" in result.message
    assert "ENGINE_AUDIT_OLD_KEYS" in result.message and audit_keys.key_id(KEY.encode()) in result.message


def test_a_rotated_key_keeps_the_old_entries_verifiable(keyed, monkeypatch):
    some_entries(keyed)
    monkeypatch.setenv("ENGINE_AUDIT_KEY", OTHER)  # the operator rotates: new key, the old one among the old keys
    monkeypatch.setenv("ENGINE_AUDIT_OLD_KEYS", f"some-older-key-000000000000,{KEY}")
    keyed.records.create(SYSTEM, "customer", {"code": "C10", "name": "Ten", "region": "west"})
    rows = entries(keyed)
    assert [e["key_id"] for e in rows[-2:]] == [audit_keys.key_id(KEY.encode()), audit_keys.key_id(OTHER.encode())]
    result = verify(keyed)
    assert result.ok and "6 signed with retired keys" in result.message
    # the old key forgotten: verify-audit says which key is missing, where, and what to do
    monkeypatch.delenv("ENGINE_AUDIT_OLD_KEYS")
    result = verify(keyed)
    assert not result.ok and f"key {audit_keys.key_id(KEY.encode())}: 6 entries between 1 and 6" in result.message
    assert "Put those keys in ENGINE_AUDIT_OLD_KEYS" in result.message


def test_an_entry_signed_with_a_retired_key_long_after_the_rotation_is_reported(keyed, monkeypatch):
    some_entries(keyed)
    monkeypatch.setenv("ENGINE_AUDIT_KEY", OTHER)
    monkeypatch.setenv("ENGINE_AUDIT_OLD_KEYS", KEY)
    keyed.records.create(SYSTEM, "customer", {"code": "C10", "name": "Ten", "region": "west"})
    monkeypatch.setenv("ENGINE_AUDIT_KEY", KEY)  # someone (or a forgotten process) still signing with the old key, an hour later
    with keyed.db.write() as conn:
        audit.append(conn, keyed.schema, SYSTEM, "customer", 1, "update", {"fields": {"name": ["x", "y"]}},
                     at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    monkeypatch.setenv("ENGINE_AUDIT_KEY", OTHER)
    result = verify(keyed)
    assert not result.ok and result.message.startswith("entry 8: signed with the retired audit key")
    assert "restart every app process and worker with the new key" in result.message


def _legacy_append(conn, rt, entity, record_id, action, changes: dict) -> None:
    """An entry as the engine wrote it before audit keys: plain SHA-256, no key id."""
    a, head = rt.schema.audit, rt.schema.audit_head
    audit.ensure_head(conn, rt.schema)
    prev = conn.execute(select(head.c.last_hash).where(head.c.id == 1)).scalar()
    e = {"entity": entity, "record_id": record_id, "action": action, "actor_id": None, "actor": "system", "via": "system",
         "at": dt.datetime.now(dt.timezone.utc), "changes": json.dumps(changes, sort_keys=True, separators=(",", ":"))}
    h = plain_hash(e, prev)
    new_id = conn.execute(a.insert(), {**e, "prev_hash": prev, "hash": h, "key_id": None}).inserted_primary_key[0]
    conn.execute(update(head).where(head.c.id == 1).values(last_id=new_id, last_hash=h))


def test_a_chain_from_before_audit_keys_stays_verifiable_and_the_next_write_seals_it(keyed):
    with keyed.db.write() as conn:
        for i in range(3):
            _legacy_append(conn, keyed, "sys_user", i + 1, "login", {"address": "127.0.0.1"})
    result = verify(keyed)  # nothing keyed yet: anyone could have written these hashes
    assert not result.ok and "none of the 3 entries is signed" in result.message and "sealed by its next write" in result.message
    keyed.records.create(SYSTEM, "customer", {"code": "C1", "name": "One", "region": "east"})
    result = verify(keyed)
    assert result.ok and "3 with plain hashes from before audit keys, sealed by the keyed entries after them" in result.message
    # rewriting a sealed plain entry and its plain successors breaks the link to the keyed entry
    rows = entries(keyed)
    prev = audit.GENESIS
    with keyed.db.write() as conn:
        for e in rows[:3]:
            if e["id"] == 2:
                e["changes"] = '{"address":"10.6.6.6"}'
            h = plain_hash(e, prev)
            conn.execute(update(keyed.schema.audit).where(keyed.schema.audit.c.id == e["id"]).values(changes=e["changes"], prev_hash=prev, hash=h))
            prev = h
    result = verify(keyed)
    assert not result.ok and result.message.startswith("entry 4: does not follow the entry before it")


def test_verification_since_a_moment_starts_there(keyed):
    some_entries(keyed)
    rows = entries(keyed)
    result = verify(keyed, since=rows[4]["at"])
    assert result.ok and result.checked == 2 and "from entry 5" in result.message
    assert verify(keyed, since=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).checked == 0


def test_without_a_key_a_development_key_is_kept_beside_the_database(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("ENGINE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ENGINE_AUDIT_OLD_KEYS", raising=False)
    url = f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    with caplog.at_level(logging.WARNING, logger="engine"):
        ring = audit_keys.keyring(url)
    path = tmp_path / "data" / "audit_key"
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ring.current == path.read_text().strip().encode() and ring.source == str(path)
    assert "ENGINE_AUDIT_KEY is not set" in caplog.text and "set ENGINE_AUDIT_KEY" in caplog.text
    audit_keys._cache.clear()  # another process on the same database finds the same key
    assert audit_keys.keyring(url).current == ring.current
    assert ring.current.decode() != _dev_secret(url)  # never the session key
    assert (tmp_path / "data" / "secret_key").is_file()


def test_bulk_loads_append_many_signed_entries_at_once(keyed):
    some_entries(keyed)
    when = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
    with keyed.db.write() as conn:
        n = audit.append_many(conn, keyed.schema, [(SYSTEM, "customer", 100 + i, "create", {"fields": {"name": [None, f"c{i}"]}}, when)
                                                   for i in range(50)])
    rows = entries(keyed)
    assert n == 50 and len(rows) == 56 and rows[-1]["record_id"] == 149 and rows[-1]["at"] == when
    assert verify(keyed).ok
    keyed.records.create(SYSTEM, "customer", {"code": "C10", "name": "Ten", "region": "west"})  # the chain goes on from the bulk
    assert verify(keyed).ok


def test_a_transaction_of_many_entries_writes_the_head_once_and_a_rolled_back_savepoint_leaves_no_gap(keyed):
    """Within one transaction the chain's head is kept in the transaction and written before the
    commit, and the entries are held back and written together; entries of a savepoint that rolls
    back go (those held before it stay), and the next entry chains onto the last one kept."""
    from sqlalchemy import event
    rt = keyed
    head_writes, inserts = [], []
    event.listen(rt.db.engine, "before_cursor_execute",
                 lambda c, cur, sql, *a: head_writes.append(sql) if sql.startswith("UPDATE sys_audit_head") else None)
    event.listen(rt.db.engine, "before_cursor_execute",
                 lambda c, cur, sql, *a: inserts.append(sql) if sql.startswith("INSERT INTO sys_audit ") else None)

    class Stop(Exception):
        pass
    with rt.db.write() as conn:
        audit.append(conn, rt.schema, SYSTEM, "customer", 1, "test", {"n": 1})
        with pytest.raises(Stop):
            with rt.db.write():
                audit.append(conn, rt.schema, SYSTEM, "customer", 2, "test", {"n": 2})
                raise Stop
        for n in range(3, 30):
            audit.append(conn, rt.schema, SYSTEM, "customer", n, "test", {"n": n})
    assert len(head_writes) == 1
    assert len(inserts) == 2  # the entry held before the savepoint, as it began; the 27 after it, at the commit
    rows = entries(rt)
    assert [r["record_id"] for r in rows if r["action"] == "test"] == [1, *range(3, 30)]
    after_kept = next(r for r in rows if r["record_id"] == 3)
    assert after_kept["prev_hash"] == next(r["hash"] for r in rows if r["record_id"] == 1 and r["action"] == "test")
    result = verify(rt)
    assert result.ok, result.message
    with rt.db.read() as conn:
        head = conn.execute(select(rt.schema.audit_head.c.last_id, rt.schema.audit_head.c.last_hash)).one()
    assert tuple(head) == (rows[-1]["id"], rows[-1]["hash"])


def test_a_reader_inside_the_write_sees_the_entries_it_holds_back(keyed):
    """History read in the transaction that wrote the record (a screen that saves and shows the
    record's history in one request) includes the entry of that write."""
    rt = keyed
    with rt.db.write():
        made = rt.records.create(SYSTEM, "customer", {"code": "H1", "name": "Held", "region": "east"})
        assert [e["action"] for e in rt.records.history(SYSTEM, "customer", made["id"])] == ["create"]
    assert [e["action"] for e in rt.records.history(SYSTEM, "customer", made["id"])] == ["create"]


def test_entries_beyond_the_hold_are_written_as_they_come(keyed, monkeypatch):
    """A long transaction does not keep every entry in memory: each HOLD entries are written."""
    from sqlalchemy import event
    rt = keyed
    monkeypatch.setattr(audit, "HOLD", 10)
    inserts = []
    event.listen(rt.db.engine, "before_cursor_execute",
                 lambda c, cur, sql, *a: inserts.append(sql) if sql.startswith("INSERT INTO sys_audit ") else None)
    with rt.db.write() as conn:
        for n in range(25):
            audit.append(conn, rt.schema, SYSTEM, "customer", n, "test", {"n": n})
    assert len(inserts) == 3
    assert [r["record_id"] for r in entries(rt) if r["action"] == "test"] == list(range(25))
    assert verify(rt).ok
