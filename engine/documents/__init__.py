"""Printable documents: a record rendered through an HTML+CSS template of the app to PDF."""
