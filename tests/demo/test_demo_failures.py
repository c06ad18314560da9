"""make demo (scripts/demo.sh) stops at the first step that fails: it prints that step's own error, exits
non-zero, runs no later step and ends without a Python traceback."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(out: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "demo.sh")], env={**os.environ, "MAPSYNTH_DEMO_DIR": str(out), **env},
                          capture_output=True, text=True, timeout=600)


def test_a_failed_step_stops_the_demo_with_its_own_error(tmp_path):
    """An area the OSM extract does not cover: the render (step 2) fails with its message, and nothing after it
    runs (no generation, no project, no 'Done')."""
    done = run_demo(tmp_path, MAPSYNTH_DEMO_EXTENT="2.30,2.31,48.85,48.86 [EPSG:4326]")  # Paris
    assert done.returncode != 0
    assert "make demo stopped at step 2/7" in done.stderr, done.stderr
    assert "OSM_FILE: the OSM file covers none of the grid" in done.stderr, done.stderr
    assert "== 1/7" in done.stdout and "== 2/7" in done.stdout
    assert "== 3/7" not in done.stdout and "Done in" not in done.stdout
    assert not (tmp_path / "generated").exists() and not (tmp_path / "demo.qgz").exists()
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / "logs" / "2-7.log").is_file()


def test_a_file_that_is_no_osm_extract_fails_at_the_render(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an OSM extract")
    done = run_demo(tmp_path / "out", MAPSYNTH_DEMO_OSM=str(notes))
    assert done.returncode != 0
    assert "make demo stopped at step 2/7" in done.stderr, done.stderr
    assert "OSM_FILE: expected .osm.pbf, .osm, .osm.gz, .osm.bz2" in done.stderr, done.stderr
    assert "== 3/7" not in done.stdout and "Traceback" not in done.stdout + done.stderr
