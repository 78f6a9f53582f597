"""The S3-compatible blob store, against a real local S3 server (moto's server mode): with
ENGINE_S3_BUCKET set, new files go to the bucket under their SHA-256 and come back byte for byte;
files kept in the database before stay readable; an object is deleted only once the transaction
that forgets it commits; objects that no row names (a rolled-back upload) are pruned."""
import datetime as dt
import io
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest
from sqlalchemy import select

from engine.files import stores
from engine.files.s3 import prune_orphans
from tests.orders import new_order

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 5000  # more than one chunk


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "files-" + os.urandom(4).hex()
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return s3_server, bucket, client


def objects(client, bucket) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", ())]


def test_files_go_to_the_bucket_and_older_ones_stay_in_the_database(rt, people, s3_env, monkeypatch):
    url, bucket, client = s3_env
    order = new_order(rt, people)
    old = rt.files.add(people["rep"], "sales_order", order["id"], "old.pdf", io.BytesIO(b"%PDF-1.4 kept in the database"))
    monkeypatch.setenv("ENGINE_S3_BUCKET", bucket)
    monkeypatch.setenv("ENGINE_S3_URL", url)
    rt.schema._blobs = None  # the store is chosen when the app starts: start it again with S3 on
    rt.files.blobs = stores.blobs_for(rt.schema)
    made = rt.files.add(people["rep"], "sales_order", order["id"], "drawing.pdf", io.BytesIO(PDF))
    assert objects(client, bucket) == [f"blobs/{made['sha256']}"]
    b = rt.schema.blob
    with rt.db.read() as conn:
        where = dict(conn.execute(select(b.c.sha256, b.c.store)).all())
        chunks = conn.execute(select(rt.schema.blob_chunk.c.sha256).distinct()).scalars().all()
    assert where == {old["sha256"]: "db", made["sha256"]: "s3"} and chunks == [old["sha256"]]
    _, body = rt.files.content(people["rep"], made["id"])
    assert b"".join(body) == PDF
    _, body = rt.files.content(people["rep"], old["id"])
    assert b"".join(body) == b"%PDF-1.4 kept in the database"


def test_an_object_is_deleted_only_after_the_commit_and_orphans_are_pruned(rt, people, s3_env, monkeypatch):
    url, bucket, client = s3_env
    monkeypatch.setenv("ENGINE_S3_BUCKET", bucket)
    monkeypatch.setenv("ENGINE_S3_URL", url)
    rt.schema._blobs = None
    rt.files.blobs = stores.blobs_for(rt.schema)
    order = new_order(rt, people)
    made = rt.files.add(people["rep"], "sales_order", order["id"], "drawing.pdf", io.BytesIO(PDF))

    class Stop(Exception):
        pass
    with pytest.raises(Stop):
        with rt.db.write():
            rt.files.remove(people["rep"], made["id"])
            raise Stop  # the removal rolls back: the object must still be there
    assert objects(client, bucket) == [f"blobs/{made['sha256']}"]
    rt.files.remove(people["rep"], made["id"])
    assert objects(client, bucket) == []
    client.put_object(Bucket=bucket, Key="blobs/" + "0" * 64, Body=b"an upload whose transaction rolled back")
    kept = rt.files.add(people["rep"], "sales_order", order["id"], "kept.pdf", io.BytesIO(PDF))
    assert prune_orphans(rt.db, rt.schema, rt.files.blobs.store) == 0  # younger than a day: it may still commit
    assert prune_orphans(rt.db, rt.schema, rt.files.blobs.store, keep_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)) == 1
    assert objects(client, bucket) == [f"blobs/{kept['sha256']}"]
