"""Small apps written by a test into its temporary folder: {relative path: YAML text}."""
import textwrap
from pathlib import Path


def write_app(root: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(root)
