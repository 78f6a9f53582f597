"""Public forms: records anyone may submit without an account (a supplier's registration, a customer's inquiry)."""
