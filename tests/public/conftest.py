"""The demo, as the portal's tests have it (tests/portal/conftest.py): its public registration form among the rest."""
from tests.portal.conftest import site  # noqa: F401
