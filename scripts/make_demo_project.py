"""Build demo-output/demo.qgz (styled, grouped layers) and quicklook.png (map | synthetic RGB | NIR false colour
| building masks). Run with QGIS's Python: python3 scripts/make_demo_project.py OUT_DIR AREA
(AREA names the layer group)"""

import sys
from pathlib import Path

import numpy as np
from osgeo import gdal
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path, name: str) -> None:
    sys.path.insert(0, str(out / ".plugins"))
    from mapsynth.plugin.styling import add_styled

    project = QgsProject.instance()
    group = project.layerTreeRoot().insertGroup(0, f"MapSynth demo: {name}")
    layers = [
        (QgsRasterLayer(str(out / "mosaic.tif"), "Synthetic Sentinel-2 (true colour)"), "true_colour"),
        (QgsRasterLayer(str(out / "mosaic.tif"), "Synthetic Sentinel-2 (NIR false colour)"), "false_colour"),
        (QgsRasterLayer(str(out / "masks" / "buildings_coverage.tif"), "Building coverage"), "mask"),
        (QgsRasterLayer(str(out / "masks" / "nonresidential_coverage.tif"), "Non-residential building coverage"),
         "mask"),
        (QgsVectorLayer(f"{out / 'mosaic_seams.gpkg'}|layername=seams", "Seam lines", "ogr"), "seams"),
        (QgsVectorLayer(str(out / "buildings.gpkg"), "Classified buildings", "ogr"), "buildings"),
    ]
    for layer, kind in layers:
        if not layer.isValid():
            sys.exit(f"make_demo_project: cannot read '{layer.name()}' from {layer.source()}")
        add_styled(project, group, layer, kind)
    # the opening view: true colour, classified buildings and seams; NIR and the coverage rasters (which the
    # buildings outline anyway) one click away
    for layer, kind in layers:
        if kind in ("false_colour", "mask"):
            group.findLayer(layer.id()).setItemVisibilityChecked(False)
    layers = [layer for layer, _ in layers]
    project.setCrs(layers[0].crs())
    if not project.write(str(out / "demo.qgz")):
        sys.exit(f"make_demo_project: cannot write {out / 'demo.qgz'}: {project.error()}")
    quicklook(out)


def read(path: Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray().astype(np.float32)


def stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return (np.clip((values - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def quicklook(out: Path) -> None:
    mosaic = read(out / "mosaic.tif") * 1e-4 - 0.1
    masks = read(out / "masks" / "buildings_coverage.tif")
    nonres = read(out / "masks" / "nonresidential_coverage.tif")
    vrt = gdal.BuildVRT("", [str(p) for p in sorted((out / "maps").glob("r*.tif"))])
    ds = gdal.Translate("", vrt, format="MEM", projWin=[*gdal.Info(str(out / "mosaic.tif"), format="json")
                                                        ["cornerCoordinates"]["upperLeft"],
                                                        *gdal.Info(str(out / "mosaic.tif"), format="json")
                                                        ["cornerCoordinates"]["lowerRight"]])
    map_rgb = ds.ReadAsArray()[:3, : mosaic.shape[1], : mosaic.shape[2]].transpose(1, 2, 0)
    true_colour = np.stack([stretch(mosaic[b], 0, 0.2) for b in (2, 1, 0)], axis=-1)
    false_colour = np.stack([stretch(mosaic[3], 0, 0.45), stretch(mosaic[2], 0, 0.2), stretch(mosaic[1], 0, 0.2)],
                            axis=-1)
    mask_rgb = np.stack([stretch(masks, 0, 1), stretch(masks - nonres, 0, 1), stretch(masks - nonres, 0, 1)],
                        axis=-1)
    gap = np.full((mosaic.shape[1], 4, 3), 255, np.uint8)
    panel = np.concatenate([map_rgb, gap, true_colour, gap, false_colour, gap, mask_rgb], axis=1)
    panel = np.kron(panel, np.ones((2, 2, 1), np.uint8))
    driver = gdal.GetDriverByName("MEM").Create("", panel.shape[1], panel.shape[0], 3, gdal.GDT_Byte)
    for band in range(3):
        driver.GetRasterBand(band + 1).WriteArray(panel[:, :, band])
    gdal.GetDriverByName("PNG").CreateCopy(str(out / "quicklook.png"), driver)


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    main(Path(sys.argv[1]), sys.argv[2])
    QgsProject.instance().clear()
    app.exitQgis()
