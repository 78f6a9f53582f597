#!/usr/bin/env bash
# Generates 10k, 100k and 1M orders on SQLite and on PostgreSQL (ENGINE_BENCH_PG, default the
# local test database; its public schema is replaced) and prints the list-API figures for each.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PG=${ENGINE_BENCH_PG:-postgresql://postgres@127.0.0.1:5432/test}
SIZES=${SIZES:-"10000 100000 1000000"}
mkdir -p bench/data
for n in $SIZES; do
  db="sqlite:///bench/data/orders_$n.db"
  rm -f "bench/data/orders_$n.db"*
  $PY bench/generate.py --db "$db" --orders "$n"
  $PY bench/list_api.py --db "$db"
  psql "$PG" -qc "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null
  $PY bench/generate.py --db "$PG" --orders "$n"
  $PY bench/list_api.py --db "$PG"
done
