"""The dependency direction of the engine's packages (one way, from the adapters down to the core), enforced by import-linter."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_import_layers_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken" in r.stdout
