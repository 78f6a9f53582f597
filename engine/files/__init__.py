"""Files that travel with records: the blob store (the database by default) and attachments."""
