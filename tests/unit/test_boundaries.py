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


UNSAFE_CALLS = {"system", "popen", "load", "loads"}  # os.system, os.popen, pickle.load(s), torch.load


def unsafe_uses(source: str) -> list[str]:
    """Shells, pickle deserialisation, eval and remote code: the calls our security guarantees rule out."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg in ("shell", "trust_remote_code") and getattr(keyword.value, "value", False) is not False:
                found.append(f"{keyword.arg}=...")
            if keyword.arg == "weights_only" and getattr(keyword.value, "value", True) is False:
                found.append("weights_only=False")
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
            found.append(f"{func.id}()")
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in UNSAFE_CALLS:
            weights_only = any(k.arg == "weights_only" and getattr(k.value, "value", None) is True
                               for k in node.keywords)
            if (func.value.id, func.attr) == ("torch", "load") and weights_only:
                found.append("torch.load(weights_only=True)")  # allowed only where WEIGHTS_ONLY_LOADERS says
            elif (func.value.id, func.attr) in {("os", "system"), ("os", "popen"), ("pickle", "load"),
                                                ("pickle", "loads"), ("torch", "load"), ("jit", "load")}:
                found.append(f"{func.value.id}.{func.attr}()")
        elif (isinstance(func, ast.Attribute) and func.attr == "load" and isinstance(func.value, ast.Attribute)
              and func.value.attr == "jit"):
            found.append("torch.jit.load()")  # TorchScript archives: code and pickled constants from the file
    return found


# The one tensor unpickler allowed: the FID weights converter, restricted to tensors (docs/SECURITY.md).
WEIGHTS_ONLY_LOADERS = {ROOT / "backend" / "src" / "mapsynth_backend" / "evaluate" / "fid_inception.py"}


def test_security_scanner_sees_what_it_must_refuse():
    source = ("subprocess.run(x, shell=True)\nos.system('x')\ntorch.load(p)\npickle.loads(b)\neval(s)\n"
              "Model.from_pretrained(p, trust_remote_code=True)\nsubprocess.run(['ls'], shell=False)\nunet.eval()\n"
              "json.loads(s)\ntorch.jit.load(p)\ntorch.load(p, weights_only=True)\n")
    assert unsafe_uses(source) == ["shell=...", "os.system()", "torch.load()", "pickle.loads()", "eval()",
                                   "trust_remote_code=...", "torch.jit.load()", "torch.load(weights_only=True)"]


@pytest.mark.parametrize("path", [*qgis_side_files(), *sorted((ROOT / "backend" / "src").rglob("*.py")),
                                  *sorted((ROOT / "scripts").glob("*.py"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shell_no_pickle_no_remote_code(path):
    found = unsafe_uses(path.read_text(encoding="utf-8"))
    if path in WEIGHTS_ONLY_LOADERS:
        found = [use for use in found if use != "torch.load(weights_only=True)"]
    assert not found, path
