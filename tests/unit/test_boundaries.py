"""Architecture rules, enforced by scanning imports: the QGIS side never imports the heavy backend
libraries, and the backend never imports QGIS."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "diffusers", "transformers", "accelerate", "rasterio", "xarray", "rioxarray", "skfuzzy", "cv2"}
QGIS = {"qgis", "PyQt5", "PyQt6", "processing", "sip"}


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


def qgis_side_files():
    files = [ROOT / "__init__.py"]
    for folder in ("plugin", "processing_provider"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_scanner_sees_every_import_form():
    source = "import torch.nn\nfrom cv2 import x\nimportlib.import_module('rasterio.io')\nfrom . import y\n"
    assert imported_roots(source) == {"torch", "cv2", "rasterio"}


@pytest.mark.parametrize("path", qgis_side_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_qgis_side_never_imports_backend_libraries(path):
    assert not imported_roots(path.read_text(encoding="utf-8")) & HEAVY


@pytest.mark.parametrize("path", sorted((ROOT / "backend").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_backend_never_imports_qgis(path):
    assert not imported_roots(path.read_text(encoding="utf-8")) & QGIS


def test_qgis_side_uses_relative_imports_only():
    for path in qgis_side_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] != "mapsynth", f"{path}: absolute import of the plugin package"
