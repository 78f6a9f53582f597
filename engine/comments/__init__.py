"""Comments on records: a discussion beside the record, with @mentions that notify people who may read it."""
