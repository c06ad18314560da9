"""The contract both sides share is one file: standard library only, and the plugin loads exactly that file."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "backend" / "src" / "mapsynth_backend" / "contract.py"


def test_the_contract_imports_only_the_standard_library():
    imported = set()
    for node in ast.walk(ast.parse(CONTRACT.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the contract must not import the backend package"
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names


def test_no_copy_of_the_contract_on_the_qgis_side():
    """The plugin defines none of the shared names itself: it takes them from the loaded contract."""
    shared = {"PROTOCOL_VERSION = ", "GEOMETRY_KEYS = ", "STATUS_SCHEMA = ", "MANIFEST = \"", "LOCK_NAME = \""}
    for path in [*(ROOT / "plugin").rglob("*.py"), *(ROOT / "processing_provider").rglob("*.py")]:
        text = path.read_text()
        assert not [s for s in shared if s in text], path
        assert "hashlib.sha256" not in text or path.name != "grid.py"
