"""A small dataset with spatial train/validation/test splits (the layout build-dataset writes) for the augmentation
experiment: 8 px fields of water, grass and residential buildings with distinct spectra, so a segmenter can learn
the task in a few dozen steps; plus helpers that fill a SYNTHETIC_DIR with copies of the real images or noise."""

import json
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.radiometry import encode_reflectance, set_band_encoding

BANDS = ["B02", "B03", "B04", "B08"]
SIZE = 32
ORIGIN = (420000.0, 5809000.0)
COLOURS = np.array([[40, 90, 200], [140, 205, 95], [180, 40, 40]], np.uint8)  # water, grass, residential_building
SPECTRA = np.array([[0.06, 0.05, 0.03, 0.02], [0.03, 0.06, 0.04, 0.4], [0.09, 0.1, 0.12, 0.2]])


def _write_tif(path: Path, reflectance: np.ndarray, transform) -> None:
    profile = {"driver": "GTiff", "width": SIZE, "height": SIZE, "crs": "EPSG:32630", "transform": transform}
    with rasterio.open(path, "w", count=4, dtype="uint16", nodata=0, **profile) as dst:
        dst.write(encode_reflectance(reflectance, np.ones((1, SIZE, SIZE), bool)))
        set_band_encoding(dst, BANDS)


def make_split_dataset(folder: Path, rows: int = 6, cols: int = 6, seed: int = 0, splits: bool = True) -> Path:
    """rows x cols patches; the last column is the test split and (0, 0) and (1, 0) validation, unless
    ``splits`` is False (then there is no test split)."""
    rng = np.random.default_rng(seed)
    records: dict[str, list] = {}
    for row in range(rows):
        for col in range(cols):
            pid = f"r{row:04d}_c{col:04d}"
            split = "train"
            if splits and col == cols - 1:
                split = "test"
            elif splits and col == 0 and row < 2:
                split = "validation"
            base = folder / split
            for sub in ("multispectral", "conditioning"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            classes = rng.integers(0, 3, (SIZE // 8, SIZE // 8)).repeat(8, 0).repeat(8, 1)
            reflectance = SPECTRA[classes].transpose(2, 0, 1) + rng.normal(0, 0.005, (4, SIZE, SIZE))
            x0, y0 = ORIGIN[0] + col * SIZE * 10, ORIGIN[1] - row * SIZE * 10
            _write_tif(base / "multispectral" / f"{pid}.tif", reflectance, from_origin(x0, y0, 10, 10))
            cv2.imwrite(str(base / "conditioning" / f"{pid}.png"), COLOURS[classes][:, :, ::-1])
            records.setdefault(split, []).append(
                {
                    "conditioning_image": f"conditioning/{pid}.png",
                    "multispectral": f"multispectral/{pid}.tif",
                    "patch_id": pid,
                    "split": split,
                    "bounds": [x0, y0 - SIZE * 10, x0 + SIZE * 10, y0],
                    "crs": "EPSG:32630",
                }
            )
    for split, lines in records.items():
        (folder / split / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    (folder / "radiometry.json").write_text(json.dumps({"bands": BANDS}))
    return folder


def make_model_card(folder: Path, bands=BANDS, size: int = SIZE) -> Path:
    """A generator's model_card.json alone: enough for runs that read their synthetic images from SYNTHETIC_DIR."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_card.json").write_text(json.dumps({"family": "pixel", "bands": bands, "patch_size": size}))
    return folder


def fill_synthetic(dataset: Path, out: Path, kind: str, variations: int = 1, seed: int = 0) -> Path:
    """<patch_id>_vNN.tif for every training map: exact copies of the real image, or uniform noise."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for line in (dataset / "train" / "metadata.jsonl").read_text().splitlines():
        record = json.loads(line)
        source = dataset / "train" / record["multispectral"]
        with rasterio.open(source) as src:
            transform = src.transform
        for variation in range(variations):
            target = out / f"{record['patch_id']}_v{variation:02d}.tif"
            if kind == "copy":
                target.write_bytes(source.read_bytes())
            else:
                _write_tif(target, rng.uniform(0, 0.5, (4, SIZE, SIZE)), transform)
    return out


def map_raster(dataset: Path, out: Path) -> tuple[str, str]:
    """(the first test pair's image, its map as a GeoTIFF on the same grid): inputs of evaluate's map adherence."""
    record = json.loads((dataset / "test" / "metadata.jsonl").read_text().splitlines()[0])
    image = dataset / "test" / record["multispectral"]
    colours = cv2.imread(str(dataset / "test" / record["conditioning_image"]))[:, :, ::-1].transpose(2, 0, 1)
    with rasterio.open(image) as src:
        profile = {**src.profile, "count": 3, "dtype": "uint8", "nodata": None}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(colours)
    return str(image), str(out)


NAMES = ["water", "grass", "urban"]  # label classes of the polygons, in the order of COLOURS


def make_scene_dataset(folder: Path, rows: int = 5, cols: int = 7, stride: int = 24, seed: int = 0) -> Path:
    """A dataset cut from ONE scene (8 px fields of the three classes) into overlapping 32 px patches (stride
    < SIZE, so neighbours share pixels); patches of the first row, first two columns are the validation split.
    Writes scene_classes.npy (the fields) and scene.json (origin, pixel size) next to the splits."""
    rng = np.random.default_rng(seed)
    height, width = (rows - 1) * stride + SIZE, (cols - 1) * stride + SIZE
    fields = rng.integers(0, 3, (height // 8 + 1, width // 8 + 1))
    classes = fields.repeat(8, 0).repeat(8, 1)[:height, :width]
    scene = SPECTRA[classes].transpose(2, 0, 1) + rng.normal(0, 0.005, (4, height, width))
    records: dict[str, list] = {}
    for row in range(rows):
        for col in range(cols):
            pid = f"r{row:04d}_c{col:04d}"
            split = "validation" if row == 0 and col < 2 else "train"
            base = folder / split
            for sub in ("multispectral", "conditioning"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            y, x = row * stride, col * stride
            x0, y0 = ORIGIN[0] + x * 10, ORIGIN[1] - y * 10
            _write_tif(
                base / "multispectral" / f"{pid}.tif", scene[:, y : y + SIZE, x : x + SIZE], from_origin(x0, y0, 10, 10)
            )
            patch = COLOURS[classes[y : y + SIZE, x : x + SIZE]]
            cv2.imwrite(str(base / "conditioning" / f"{pid}.png"), patch[:, :, ::-1])
            records.setdefault(split, []).append(
                {
                    "conditioning_image": f"conditioning/{pid}.png",
                    "multispectral": f"multispectral/{pid}.tif",
                    "file_name": f"multispectral/{pid}.tif",
                    "patch_id": pid,
                    "split": split,
                    "bounds": [x0, y0 - SIZE * 10, x0 + SIZE * 10, y0],
                    "crs": "EPSG:32630",
                }
            )
    for split, lines in records.items():
        (folder / split / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    clip = {band: [0.0, 0.5] for band in BANDS}  # what a generator trained on the dataset needs
    (folder / "radiometry.json").write_text(json.dumps({"bands": BANDS, "clip": clip}))
    np.save(folder / "scene_classes.npy", fields)
    return folder


def make_label_polygons(dataset: Path, out: Path, cells: list[tuple[int, int]]) -> Path:
    """A GeoPackage of hand-label-like polygons: one square per 8 px field (row, col) of the scene, inset by
    1.2 px, its class name in the field ``class``; in EPSG:4326, so the experiment must reproject them."""
    import shapely
    from pyproj import Transformer

    fields = np.load(dataset / "scene_classes.npy")
    to_wgs84 = Transformer.from_crs("EPSG:32630", "EPSG:4326", always_xy=True)
    geometries, names = [], []
    for row, col in cells:
        x0, y0 = ORIGIN[0] + col * 80 + 12, ORIGIN[1] - row * 80 - 12  # edges between pixel centres
        square = shapely.box(x0, y0 - 50, x0 + 50, y0)
        square = shapely.segmentize(square, 5)
        geometries.append(shapely.transform(square, lambda xy: np.column_stack(to_wgs84.transform(*xy.T))))
        names.append(NAMES[fields[row, col]])
    from pyogrio.raw import write

    write(
        str(out),
        np.array(shapely.to_wkb(geometries), dtype=object),
        [np.array(names, dtype=object)],
        ["class"],
        layer="labels",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    return out
