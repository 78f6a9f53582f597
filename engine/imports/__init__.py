"""Importing spreadsheets (.xlsx, .csv) through the record service: reading files, mapping their
columns to fields, and running the rows as creates and updates - or, in a dry run, as a rehearsal
that writes nothing."""
