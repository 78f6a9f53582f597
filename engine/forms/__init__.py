"""The form designer: admin changes to forms as checked overlay versions, their differences, and the YAML written back."""
