"""The database: connections and transactions, the tables, migrations, naming series, the search index and the signed audit trail."""
