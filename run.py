"""Entry point: `python run.py [serve|check|migrate|create-user|create-token|verify-audit] ...`."""
import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
