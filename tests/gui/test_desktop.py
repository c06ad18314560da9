"""GUI tier: QGIS desktop in a real (virtual, 1280x800) window with the plugin installed and enabled in a throw-away
profile. One QGIS start (tests/gui/drive_qgis.py inside it) opens every MapSynth algorithm dialog, the plugin's
three dialogs, the graphical modeler with synthesize_city.model3 and demo.qgz (`make demo`'s when it exists, else one
built by scripts/make_demo_project.py from small fixture rasters), and runs one backend job the toolbox way; the
tests below judge what it recorded. Screenshots of every window are kept in the
folder printed by the session fixture (.mapsynth-test/gui/screenshots) for people to look at."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
import demo_fixture  # noqa: E402

SCREEN = (1280, 800)
QGIS = os.environ.get("MAPSYNTH_QGIS", "/usr/bin/qgis")
OUT = Path(os.environ.get("MAPSYNTH_GUI_OUT") or ROOT / ".mapsynth-test" / "gui")
CRITICAL = 2  # Qgis.Critical
DEMO = Path(os.environ.get("MAPSYNTH_DEMO_DIR") or ROOT / "demo-output") / "demo.qgz"  # `make demo` output
# make guide-images: dialogs filled in with the demo's inputs and every step's result photographed (drive_qgis.py);
# its three small runs (training, what-if, land cover) take minutes, not the CI tier's seconds
GUIDE = bool(os.environ.get("MAPSYNTH_GUI_GUIDE"))
TIMEOUT = 1500 if GUIDE else 420


def build_demo(folder: Path) -> Path:
    """demo.qgz the way `make demo` builds it (scripts/make_demo_project.py), from small fixture rasters."""
    demo_fixture.build(folder)
    (folder / ".plugins").mkdir(exist_ok=True)
    link = folder / ".plugins" / "mapsynth"
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "make_demo_project.py"), str(folder),
                           "Helsinki"], capture_output=True, text=True, timeout=300,
                          env={**env, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "demo.qgz"


def profile(root: Path) -> Path:
    """A fresh profile root with the plugin installed by symlink and enabled, as the Plugin Manager leaves it."""
    default = root / "profiles" / "default"
    (default / "python" / "plugins").mkdir(parents=True)
    (default / "python" / "plugins" / "mapsynth").symlink_to(ROOT, target_is_directory=True)
    (default / "QGIS").mkdir()
    (default / "QGIS" / "QGIS3.ini").write_text("[PythonPlugins]\nmapsynth=true\n\n[migration]\nsettings=true\n",
                                                encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def desktop():
    for tool in (QGIS, shutil.which("xvfb-run")):
        if not tool or not Path(tool).exists():
            pytest.skip(f"{tool or 'xvfb-run'} is missing: 'make qgis' (as root) installs QGIS and xvfb")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    if GUIDE and not DEMO.is_file():
        pytest.fail(f"MAPSYNTH_GUI_GUIDE: the guide shows make demo's outputs, and {DEMO} is missing: make demo")
    fixture_demo = build_demo(OUT / "demo")  # also the target raster of the toolbox run
    demo = DEMO if DEMO.is_file() else fixture_demo
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "QT_", "QGIS_", "VIRTUAL_ENV")) and k != "DISPLAY"}
    env.update(MAPSYNTH_GUI_OUT=str(OUT), MAPSYNTH_GUI_TESTS=str(Path(__file__).parent), MAPSYNTH_GUI_DEMO=str(demo),
               MAPSYNTH_GUI_MODEL=str(ROOT / "resources" / "models" / "synthesize_city.model3"),
               MAPSYNTH_CACHE_DIR=str(OUT / "cache"), MAPSYNTH_GUI_TARGET=str(OUT / "demo" / "mosaic.tif"),
               MAPSYNTH_GUI_BUILDINGS=str(demo_fixture.buildings_in_wgs84(OUT / "osm_buildings.gpkg")),
               MAPSYNTH_BACKEND_PYTHON=os.environ.get("MAPSYNTH_BACKEND_PYTHON",
                                                      str(ROOT / ".venv-backend" / "bin" / "python")))
    argv = ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24", QGIS, "--profiles-path",
            str(profile(OUT / "profile")), "--profile", "default", "--nologo", "--noversioncheck",
            "--code", str(Path(__file__).parent / "drive_qgis.py")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=OUT,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # xvfb-run, Xvfb and QGIS
        output = proc.communicate()[0] + f"\nQGIS did not finish within {TIMEOUT} s"
    (OUT / "qgis_output.txt").write_text(output, encoding="utf-8")
    results = OUT / "results.json"
    assert results.is_file(), f"QGIS wrote no results: {output[-3000:]}"
    print(f"\nGUI screenshots: {OUT / 'screenshots'}; demo project: {demo}")
    return {**json.loads(results.read_text(encoding="utf-8")), "output": output, "demo_path": str(demo)}


def windows(desktop, prefix=""):
    return {name: info for name, info in desktop["windows"].items() if name.startswith(prefix)}


def test_plugin_is_enabled_and_the_driver_reached_every_window(desktop):
    assert desktop["plugin_loaded"], desktop["output"][-3000:]
    assert desktop["screen"] == list(SCREEN)
    assert not desktop["driver_errors"], "\n".join(desktop["driver_errors"])
    assert len(desktop["algorithms"]) >= 10 and set(windows(desktop, "mapsynth:")) == set(desktop["algorithms"])
    assert {"plugin_settings", "plugin_setup", "plugin_status", "modeler_synthesize_city"} <= set(desktop["windows"])
    for info in desktop["windows"].values():
        assert Path(info["screenshot"]).stat().st_size > 1000, info
    if GUIDE:  # every step of docs/user-guide.md: its dialog filled in, its result photographed
        import importlib.util

        spec = importlib.util.spec_from_file_location("guide_images", ROOT / "scripts" / "guide_images.py")
        guide_images = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(guide_images)
        for name in guide_images.DIALOGS:
            assert desktop["windows"][f"mapsynth:{name}"].get("values"), f"{name}: the dialog was not filled in"
            assert Path(desktop["guide"][name]["screenshot"]).stat().st_size > 1000, desktop["guide"][name]


def test_no_python_error(desktop):
    errors = desktop["python_errors"] + [m for tag, _, m in desktop["log"] if tag == "Python error"]
    assert not errors, "\n\n".join(errors)
    assert "Traceback" not in desktop["output"], desktop["output"][-4000:]


def test_no_message_bar_error(desktop):
    critical = [m for m in desktop["message_bar"] + desktop["message_bar_now"] if m[0] == CRITICAL]
    assert not critical, critical


def test_every_dialog_fits_the_screen_without_horizontal_scrolling(desktop):
    problems = []
    for name, info in desktop["windows"].items():
        if info["width"] > SCREEN[0] or info["height"] > SCREEN[1]:
            problems.append(f"{name}: {info['width']}x{info['height']} does not fit {SCREEN}")
        for area in info["scroll"]:
            if area["visible"] and area["maximum"] > 0:
                problems.append(f"{name}: horizontal scrolling in {area['name'] or 'a scroll area'} "
                                f"({area['maximum']} px), see {info['screenshot']}")
    assert not problems, "\n".join(problems)


def test_graphical_model_is_valid_and_readable(desktop):
    info = desktop["windows"]["modeler_synthesize_city"]
    assert info["loaded"] and info["children"] >= 5
    assert not info["child_issues"], json.dumps(info["child_issues"], indent=1)
    assert not info["overlapping_boxes"], info["overlapping_boxes"]


def test_plugin_dialogs_say_what_a_user_needs(desktop):
    setup = desktop["windows"]["plugin_setup"]
    assert setup["existing"] is True and "already set up" in setup["found_text"], setup
    assert setup["start_is_default"] is False
    status = desktop["windows"]["plugin_status"]
    assert status["buttons"] == ["Close", "Refresh"]
    assert status["table"].get("PyTorch") and status["table"].get("Backend Python"), status["table"]
    assert "MapSynth backend" in status["summary"]


def test_demo_project_opens_with_readable_legends(desktop):
    demo = desktop["demo"]
    assert demo["layers"] == 6 and not demo["invalid_layers"], (desktop["demo_path"], demo)
    nan = {name: texts for name, texts in demo["legend"].items() if any("nan" in t.lower() for t in texts)}
    assert not nan, f"{nan} in {desktop['demo_path']} (built before the fix? rerun make demo)"
    tree = demo["tree"]
    assert tree.index("Synthetic Sentinel-2 (true colour)") < tree.index("Synthetic Sentinel-2 (NIR false colour)")
    assert demo["legend"]["Synthetic Sentinel-2 (true colour)"] == ["B04 (red)", "B03 (green)", "B02 (blue)"]
    assert demo["legend"]["Classified buildings"] == ["Residential", "Non-residential", "Undecided"]


def test_toolbox_run_loads_styled_results_and_logs_under_mapsynth(desktop):
    run = desktop["toolbox"]
    assert len(run["groups"]) == 1, run
    (names,) = run["groups"].values()
    assert names == ["Classified buildings", "Building coverage", "Non-residential building coverage"], names
    assert run["legend"]["Classified buildings"] == ["Residential", "Non-residential", "Undecided"]
    assert run["legend"]["Building coverage"] == ["Coverage fraction (0-1)", "0 / 1"]
    messages = [message for _, _, message in run["mapsynth_log"]]
    assert any(m.startswith("building-masks finished in ") for m in messages), messages
    assert any("reprojected" in m for _, level, m in run["mapsynth_log"] if level == 1), messages  # Qgis.Warning
