"""docs/SECURITY.md and docs/RELIABILITY.md back every guarantee with a test: each test they name must exist."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`((?:[\w./-]*/)?test_\w+\.py)(?:::(\w+))?`")


def references() -> list[tuple[str, str, str | None]]:
    found = []
    for doc in ("docs/SECURITY.md", "docs/RELIABILITY.md"):
        for path, name in REFERENCE.findall((ROOT / doc).read_text(encoding="utf-8")):
            found.append((doc, path, name or None))
    return found


def resolve(path: str) -> Path:
    """A bare file name means the one test file of that name in the repository."""
    if "/" in path:
        return ROOT / path
    matches = [p for p in ROOT.glob(f"**/tests/**/{path}") if ".venv" not in p.parts]
    assert len(matches) == 1, f"{path}: {len(matches)} files of that name"
    return matches[0]


def test_the_docs_name_tests():
    assert len(references()) >= 15


@pytest.mark.parametrize(("doc", "path", "name"), references(), ids=lambda v: str(v))
def test_every_named_test_exists(doc, path, name):
    file = resolve(path)
    assert file.is_file(), f"{doc} names {path}, which does not exist"
    if name:
        functions = {node.name for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
                     if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"{doc} names {path}::{name}, which is not a test there"
