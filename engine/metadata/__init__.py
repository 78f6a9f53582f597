"""Metadata: YAML files in, a checked and frozen App model out."""
