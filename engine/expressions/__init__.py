"""The expression language of the metadata: parsed once, checked, evaluated in Python or compiled to SQL."""
