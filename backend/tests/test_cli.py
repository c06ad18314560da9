"""The command table: QGIS algorithm names with the old names as aliases, one stage imported per command,
describe --json, and the package's shape (no import cycle, no module over 400 lines)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mapsynth_backend.commands import ALIASES, HIDDEN, STAGES, load_command

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mapsynth_backend"
MAX_LINES = 400
# stage packages and modules; grid, radiometry, contract and runtime are shared by all
PIPELINE_STAGES = ("prepare", "models", "train", "generate", "mosaic", "masks", "evaluate", "export")


def test_every_command_lives_in_its_stage_and_aliases_name_the_old_commands():
    for name in STAGES:
        assert load_command(name).name == name
    for alias, target in ALIASES.items():
        assert load_command(alias).name == target
    assert {"doctor", "build-dataset", "train", "generate", "assemble", "masks"} == set(ALIASES)


@pytest.mark.parametrize("command", ["grid-info", "masks", "describe"])
def test_the_cli_imports_only_the_stage_of_the_chosen_command(command, tmp_path):
    """A --help of one command must not import the other stages (nor torch)."""
    code = (
        "import sys\nfrom mapsynth_backend import cli\n"
        f"try:\n    cli.main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('mapsynth_backend.')), file=sys.stderr)\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded_line, torch_line = done.stderr.strip().splitlines()[-2:]
    loaded = set(eval(loaded_line))  # noqa: S307 - our own repr of a list of str
    stage = "mapsynth_backend." + STAGES[ALIASES.get(command, command)]
    assert stage in loaded
    others = [f"mapsynth_backend.{s}" for s in PIPELINE_STAGES if not stage.startswith(f"mapsynth_backend.{s}")]
    assert not [m for m in loaded if m.startswith(tuple(others))]
    assert torch_line == "False"


def test_describe_json_keys_commands_by_algorithm_name(backend_cmd):
    out = subprocess.run([*backend_cmd, "describe", "--json"], capture_output=True, text=True, check=True).stdout
    described = json.loads(out)
    assert {"assemble_mosaic", "building_masks", "generate_patches", "train_model", "backend_doctor"} <= set(described)
    assert not set(described) & {name.replace("-", "_") for name in HIDDEN}
    assert described["generate_patches"]["variations"] == {"default": 4, "choices": [], "type": "int",
                                                          "help": described["generate_patches"]["variations"]["help"]}
    assert described["train_model"]["family"]["choices"] == ["pixel", "controlnet-sd15", "pix2pix"]
    assert described["generate_patches"]["model"]["default"] is None  # required


def test_a_job_file_written_for_an_old_command_name_still_runs(run_job):
    rc, events, _ = run_job("backend-doctor", {}, job={"v": 1, "command": "doctor", "params": {"brief": True}})
    assert rc == 0 and events[-1]["outputs"]["protocol_version"] == 1
    rc, events, _ = run_job("backend-doctor", {}, job={"v": 1, "command": "grid-info", "params": {}})
    assert rc == 1 and "is for command 'grid-info'" in events[-1]["message"]


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports at module level or inside functions."""
    package = ["mapsynth_backend", *path.parent.relative_to(PACKAGE).parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mapsynth_backend"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mapsynth_backend"))
    return found


def module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["mapsynth_backend", *path.relative_to(PACKAGE).with_suffix("").parts]
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {name: {t for t in _imports(path) if t in modules and t != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_backend():
    """Package __init__ modules count as their package: models/__init__ importing models.pixel is an edge."""
    graph = module_graph()
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_backend_module_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
