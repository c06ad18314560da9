"""Independent test labels: hand-digitised single-class polygons (LABELS, class in LABEL_FIELD), never derived from
the imagery. They are rasterised on the grid of the dataset's patches (pixel centres inside the polygon), grouped
into spatial clusters, and the clusters into folds. A patch is kept out of every training use of a fold (segmenter,
validation, generator, unpaired maps) when its footprint comes closer than GUARD pixels to a polygon of that fold,
so no scored pixel is ever in a training patch, overlaps included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import IGNORE, Pair, targets
from .links import UserError

# A label value names a palette class, or one of these groups (the rsgislib polygons' forest/grass/urban/water):
# a prediction counts as correct for a polygon when it is any class of the group.
LABEL_GROUPS = {
    "forest": ("forest", "hedge"),
    "grass": ("grass", "farmland"),
    "urban": (
        "other_building",
        "residential_building",
        "residential_landuse",
        "nonresidential_landuse",
        "paved",
        "minor_road",
        "major_road",
        "railway",
    ),
    "water": ("water", "waterway"),
}


@dataclass
class Polygons:
    """The labelled polygons that have pixels on the dataset's grid."""

    ids: list[int]  # feature id in the label layer
    label_names: list[str]  # label classes, sorted
    label_class: np.ndarray  # (polygons,) index into label_names
    geometries: list  # shapely geometries in the dataset's CRS
    raster: np.ndarray  # (H, W) int32: polygon index + 1 on its pixels, 0 elsewhere
    fold: np.ndarray  # (polygons,) fold index
    cluster: np.ndarray  # (polygons,) spatial cluster index
    dropped: list[int]  # feature ids without a pixel on the grid


@dataclass
class Grid:
    """The pixel grid the patches of a dataset share: origin (top left), pixel size, shape, CRS."""

    x0: float
    y0: float
    pixel: float
    shape: tuple[int, int]
    crs: str

    def window(self, pair: Pair) -> tuple[int, int, int, int]:
        """(row, col, height, width) of a patch in the grid."""
        x_min, _, _, y_max = pair.bounds
        height, width = pair.image.shape[1:]
        return round((self.y0 - y_max) / self.pixel), round((x_min - self.x0) / self.pixel), height, width

    def transform(self):
        from rasterio.transform import from_origin

        return from_origin(self.x0, self.y0, self.pixel, self.pixel)


def scene_grid(pairs: list[Pair]) -> Grid:
    first = pairs[0]
    pixel = (first.bounds[2] - first.bounds[0]) / first.image.shape[2]
    x0, y0 = min(p.bounds[0] for p in pairs), max(p.bounds[3] for p in pairs)
    height = max(round((y0 - p.bounds[1]) / pixel) for p in pairs)
    width = max(round((p.bounds[2] - x0) / pixel) for p in pairs)
    return Grid(x0, y0, pixel, (height, width), first.crs)


def mosaic(grid: Grid, pairs: list[Pair], classes) -> tuple[np.ndarray, np.ndarray]:
    """(reflectance (bands, H, W), derived-map class per pixel (H, W)) of the whole area from every patch: the
    input the segmenters predict on and the derived-map baseline."""
    bands = pairs[0].image.shape[0]
    image = np.full((bands, *grid.shape), np.nan, np.float32)
    derived = np.full(grid.shape, IGNORE, np.uint8)
    for pair in pairs:
        row, col, height, width = grid.window(pair)
        image[:, row : row + height, col : col + width] = pair.image
        derived[row : row + height, col : col + width] = targets(pair.map_rgb, classes)
    return image, derived


def _split_source(source: str) -> tuple[str, str | None]:
    """'file.gpkg|layername=x' (a QGIS layer source) -> (file, layer)."""
    path, _, rest = source.partition("|")
    layer = next((p.split("=", 1)[1] for p in rest.split("|") if p.startswith("layername=")), None)
    return path, layer


def read_polygons(source: str, field: str, crs: str) -> tuple[list[int], list[str], list]:
    """(feature ids, class values, shapely geometries in ``crs``) of a polygon layer."""
    import shapely
    from pyogrio.errors import DataSourceError
    from pyogrio.raw import read
    from rasterio.crs import CRS
    from rasterio.warp import transform_geom

    path, layer = _split_source(source)
    if not Path(path).is_file():
        raise UserError(f"LABELS: {path} does not exist; give a polygon layer of hand-labelled classes")
    try:
        meta, fids, wkb, fields = read(path, layer=layer, return_fids=True)
    except DataSourceError as exc:
        raise UserError(f"LABELS: cannot read {source}: {exc}") from exc
    if field not in list(meta["fields"]):
        raise UserError(f"LABEL_FIELD: {field!r} is not a field of {source} (fields: {', '.join(meta['fields'])})")
    if not meta.get("crs"):
        raise UserError(f"LABELS: {source} has no coordinate reference system")
    values = [str(v).strip().lower() for v in fields[list(meta["fields"]).index(field)]]
    source_crs, target = CRS.from_user_input(meta["crs"]), CRS.from_user_input(crs)
    geometries = []
    for blob in wkb:
        geometry = shapely.from_wkb(blob)
        if source_crs != target:
            geometry = shapely.geometry.shape(transform_geom(source_crs, target, shapely.geometry.mapping(geometry)))
        geometries.append(geometry)
    kinds = {g.geom_type for g in geometries}
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise UserError(f"LABELS: expected polygons, {source} has {', '.join(sorted(kinds))}")
    return [int(f) for f in fids], values, geometries


def correct_classes(label_names: list[str], segmenter_names: list[str]) -> np.ndarray:
    """(label classes, segmenter classes) True where that prediction is right for a polygon of that class."""
    table = np.zeros((len(label_names), len(segmenter_names)), bool)
    for index, name in enumerate(label_names):
        members = LABEL_GROUPS.get(name, (name,))
        if name not in LABEL_GROUPS and name not in segmenter_names:
            raise UserError(
                f"LABEL_FIELD: the class {name!r} is neither a map class of the dataset ({', '.join(segmenter_names)})"
                f" nor one of {', '.join(LABEL_GROUPS)}"
            )
        for member in members:
            if member in segmenter_names:
                table[index, segmenter_names.index(member)] = True
    return table


def _clusters(geometries: list, distance: float) -> np.ndarray:
    """Single-linkage clusters: polygons closer than ``distance`` share one (they could share a patch)."""
    parent = list(range(len(geometries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(geometries)):
        for j in range(i + 1, len(geometries)):
            if geometries[i].distance(geometries[j]) < distance:
                parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(geometries))]
    index = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([index[r] for r in roots], np.int64)


def _folds(cluster: np.ndarray, pixels: np.ndarray, folds: int) -> np.ndarray:
    """Clusters to folds, largest first into the fold with the fewest pixels (deterministic)."""
    sizes = np.bincount(cluster, weights=pixels)
    load, fold_of = np.zeros(folds), np.zeros(len(sizes), np.int64)
    for c in sorted(range(len(sizes)), key=lambda c: (-sizes[c], c)):
        fold_of[c] = int(np.argmin(load))
        load[fold_of[c]] += sizes[c]
    return fold_of[cluster]


def load_polygons(source: str, field: str, grid: Grid, valid: np.ndarray, folds: int, patch_size: int) -> Polygons:
    """Polygons rasterised on ``grid`` (pixels with imagery only, ``valid``), clustered and assigned to folds."""
    from rasterio.features import rasterize

    fids, values, geometries = read_polygons(source, field, grid.crs)
    shapes = [(g, n + 1) for n, g in enumerate(geometries) if not g.is_empty]
    raster = rasterize(shapes, grid.shape, transform=grid.transform(), fill=0, dtype="int32") if shapes else None
    if raster is None:
        raise UserError(f"LABELS: {source} has no polygon")
    raster[~valid] = 0
    pixels = np.bincount(raster.ravel(), minlength=len(geometries) + 1)[1:]
    keep = [i for i in range(len(geometries)) if pixels[i] > 0]
    if not keep:
        raise UserError(f"LABELS: no polygon of {source} covers a pixel of the dataset's patches")
    renumber = np.zeros(len(geometries) + 1, np.int32)
    renumber[[i + 1 for i in keep]] = np.arange(1, len(keep) + 1)
    raster = renumber[raster]
    names = sorted({values[i] for i in keep})
    geometries = [geometries[i] for i in keep]
    cluster = _clusters(geometries, patch_size * grid.pixel)
    n_folds = min(folds, int(cluster.max()) + 1)
    return Polygons(
        ids=[fids[i] for i in keep],
        label_names=names,
        label_class=np.array([names.index(values[i]) for i in keep], np.int64),
        geometries=geometries,
        raster=raster,
        fold=_folds(cluster, pixels[keep].astype(np.float64), n_folds),
        cluster=cluster,
        dropped=[fids[i] for i in range(len(fids)) if pixels[i] == 0],
    )


def footprint(pair: Pair):
    import shapely

    return shapely.box(*pair.bounds)


def touches(pairs: list[Pair], geometries: list, guard_m: float) -> set[str]:
    """Patch ids whose footprint comes within ``guard_m`` metres of any of ``geometries`` (touching included)."""
    import shapely

    if not geometries:
        return set()
    zone = shapely.union_all([g.buffer(guard_m) if guard_m > 0 else g for g in geometries])
    shapely.prepare(zone)
    return {p.patch_id for p in pairs if zone.intersects(footprint(p))}


def polygon_counts(predicted: np.ndarray, raster: np.ndarray, members: list[int], n_classes: int) -> np.ndarray:
    """(len(members), n_classes): pixels of each member polygon (index) per predicted class; IGNORE left out."""
    out = np.zeros((len(members), n_classes), np.int64)
    for row, index in enumerate(members):
        values = predicted[raster == index + 1]
        values = values[values != IGNORE]
        out[row] = np.bincount(values.astype(np.int64), minlength=n_classes)[:n_classes]
    return out
