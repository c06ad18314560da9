"""`evaluate`: how close synthetic imagery is to real Sentinel-2, written as report.html and metrics.json.

Sections: per-band histograms with Wasserstein distances; NDVI per map class; paired SSIM and PSNR when the real
image covers the same grid (data range = the real band's 0.5-99.5 percentile range by default, not 255 and not
max - min, which a few bright pixels set); seam visibility and periodicity of the mosaic (seams.SeamMeter, the
implementation assemble uses); FID and KID with the FID Inception-v3 network from local safetensors weights
(``inception_weights``; built in code, see fid_inception; nothing is downloaded; weights that are not recognised
are refused unless ``unverified_fid``, and then marked). Reflectance is decoded as each file declares it
(radiometry.reflectance_encoding). A section whose input is missing is skipped with a note, not an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..mosaic.seams import no_cut_range
from ..radiometry import reflectance_encoding
from ..runtime.jobs import Command, Param
from ..runtime.jsonsafe import dumps
from ..runtime.outputs import atomic_write
from ..runtime.protocol import Reporter, UserError
from .c2st import REPEATS
from .coverage import grid_labels, nodata_metrics, nodata_text, seam_metrics
from .metrics import RANGE_PERCENTILES, band_id, band_index, data_range, ndvi, psnr, sample, ssim
from .report import Report

BANDS = ("B02", "B03", "B04", "B08")
SECTIONS = ("wasserstein", "ndvi_per_class", "streets", "map_adherence", "paired", "seams", "realism", "fid_kid")

VIEW = (0.0, 0.3)  # reflectance shown in quick-looks


def read_reflectance(path: str, label: str, like=None) -> tuple[np.ndarray, list[str], Any]:
    """Reflectance (bands, H, W) with NaN for nodata, decoded as the file declares (GDAL scale/offset or tags)."""
    import rasterio
    from rasterio.vrt import WarpedVRT

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise UserError(f"{label}: cannot read {path}") from exc
    with src:
        names = [band_id(d) or f"band {i}" for i, d in enumerate(src.descriptions, start=1)]
        if like is not None:
            with WarpedVRT(
                src,
                crs=like.crs,
                transform=like.transform,
                width=like.width,
                height=like.height,
                resampling=rasterio.enums.Resampling.average,
            ) as vrt:
                data = vrt.read()
        else:
            data = src.read()
        tags = src.tags()
        extra = {"labels_name": tags.get("labels", "")}
        extra.update({k: int(tags.get(f"{k}_px", 0) or 0) for k in ("stride", "overlap")})
        scales, offsets = reflectance_encoding(src, label)
        values = data.astype(np.float64) * np.array(scales)[:, None, None] + np.array(offsets)[:, None, None]
        if src.nodata is not None:
            values[data == src.nodata] = np.nan
        profile = {**src.profile, **extra} if like is None else like
    return values.astype(np.float32), names, profile


def map_classes(path: str, like, palette_path: str) -> tuple[np.ndarray, dict[int, str]]:
    """Class index per pixel from a map raster (colours), named through the semantic palette when given."""
    import rasterio
    from rasterio.vrt import WarpedVRT

    with (
        rasterio.open(path) as src,
        WarpedVRT(
            src,
            crs=like.crs,
            transform=like.transform,
            width=like.width,
            height=like.height,
            resampling=rasterio.enums.Resampling.nearest,
        ) as vrt,
    ):
        rgb = vrt.read([1, 2, 3]).astype(np.int64)
    codes = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]
    names = {}
    if palette_path:
        for cls in json.loads(Path(palette_path).read_text())["classes"]:
            r, g, b = cls["rgb"]
            names[(r << 16) | (g << 8) | b] = cls["key"]
        names[0] = "outside_data"  # black: outside the map's data bounds, not a class (docs/SEMANTIC_STYLE.md)
    for code in np.unique(codes):
        names.setdefault(int(code), f"#{int(code):06x}")
    return codes, names


def _rgb_unit(values: np.ndarray, names: list[str]) -> np.ndarray:
    """True colour (B04, B03, B02) with the quick-look stretch, (3, H, W) in [0, 1]: the FID network's input."""
    return np.clip((_stack(values, names, ("B04", "B03", "B02")) - VIEW[0]) / (VIEW[1] - VIEW[0]), 0, 1)


def _stack(values: np.ndarray, names: list[str], bands: tuple[str, ...]) -> np.ndarray:
    if any(band_index(names, b) is None for b in bands):
        raise UserError(f"a raster lacks one of the bands {bands} (its bands: {names})")
    return np.stack([values[band_index(names, b)] for b in bands])


def _quicklook(values: np.ndarray, names: list[str], bands=("B04", "B03", "B02")) -> np.ndarray:
    rgb = _stack(values, names, bands)
    return np.nan_to_num(np.clip((rgb - VIEW[0]) / (VIEW[1] - VIEW[0]), 0, 1)).transpose(1, 2, 0)


def evaluate(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    synthetic, names, profile = read_reflectance(params["synthetic"], "SYNTHETIC")
    if len(names) < len(BANDS):
        raise UserError(
            f"SYNTHETIC: {params['synthetic']} has {len(names)} band(s); a MapSynth mosaic has the"
            f" {len(BANDS)} bands {', '.join(BANDS)} (the output of assemble_mosaic)"
        )
    feature_network = None
    if params["inception_weights"]:  # checked before any work; torch only when FID is asked for
        from .fid_inception import load_fid_inception

        feature_network = load_fid_inception(params["inception_weights"], params["unverified_fid"])
    like = _Grid(profile)
    report, metrics = Report("MapSynth evaluation"), {"synthetic": params["synthetic"], "bands": names}
    real = real_names = None
    paired = False
    if params["real"]:
        real, real_names, _ = read_reflectance(params["real"], "REAL")
        aligned, _, _ = read_reflectance(params["real"], "REAL", like=like)
        paired = float(np.isfinite(aligned).all(axis=0).mean()) > 0.5  # same area: compare pixel by pixel
        real = aligned if paired else real
    report.section("No data")
    outside = None
    if params["map"] and params["palette"]:
        outside = map_classes(params["map"], like, params["palette"])[0] == 0
    metrics["nodata"] = nodata_metrics(synthetic, outside)
    report.text(nodata_text(metrics["nodata"]))
    reporter.progress(0.1, "distributions", "evaluate")
    report.section("Reflectance distributions")
    if real is None:
        report.note("No REAL image given: histograms and distances are skipped.")
    else:
        fake_sample, real_sample = sample(synthetic, rng), sample(real, rng)
        rows, distances = [], {}
        figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3))
        for i, name in enumerate(names):
            j = band_index(real_names, name)
            if j is None:
                continue
            distances[name] = float(wasserstein_distance(fake_sample[i], real_sample[j]))
            rows.append([name, float(np.median(real_sample[j])), float(np.median(fake_sample[i])), distances[name]])
            bins = np.linspace(0, max(np.percentile(real_sample[j], 99.5), 0.05), 80)
            axes[i].hist(real_sample[j], bins, alpha=0.6, label="real", density=True)
            axes[i].hist(fake_sample[i], bins, alpha=0.6, label="synthetic", density=True)
            axes[i].set_title(name)
        axes[0].legend()
        report.figure(figure, "Per-band reflectance histograms, real vs synthetic")
        report.table(["band", "real median", "synthetic median", "Wasserstein distance"], rows)
        metrics["wasserstein"] = distances
    reporter.progress(0.3, "NDVI per class", "evaluate")
    report.section("NDVI per map class")
    fake_ndvi = ndvi(synthetic, names)
    if not params["map"] or fake_ndvi is None:
        report.note("No MAP raster given (or no B04/B08): NDVI per class is skipped.")
    else:
        classes, labels = map_classes(params["map"], like, params["palette"])
        real_ndvi = ndvi(real, real_names) if paired else None
        rows, per_class = [], {}
        for code, count in zip(*np.unique(classes, return_counts=True), strict=True):
            if count < 50 or labels[int(code)] == "outside_data":
                continue
            mask = classes == code
            entry = {"pixels": int(count), "synthetic_median": float(np.nanmedian(fake_ndvi[mask]))}
            if real_ndvi is not None:
                entry["real_median"] = float(np.nanmedian(real_ndvi[mask]))
            per_class[labels[int(code)]] = entry
            real_cell = [entry["real_median"]] if real_ndvi is not None else []
            rows.append([labels[int(code)], int(count), *real_cell, entry["synthetic_median"]])
        real_header = ["real NDVI median"] if real_ndvi is not None else []  # no REAL: no column of "nan"
        report.table(["class", "pixels", *real_header, "synthetic NDVI median"], rows)
        figure, axis = plt.subplots(figsize=(max(6, len(per_class)), 3))
        data = [
            fake_ndvi[(classes == code) & np.isfinite(fake_ndvi)]
            for code in np.unique(classes)
            if labels[int(code)] in per_class
        ]
        axis.boxplot([d for d in data if d.size] or [[np.nan]], showfliers=False)
        axis.set_xticks(range(1, len(per_class) + 1), list(per_class), rotation=45, ha="right")
        axis.set_ylabel("synthetic NDVI")
        report.figure(figure, "Synthetic NDVI per map class")
        metrics["ndvi_per_class"] = per_class
    report.section("Streets")
    if not (params["map"] and params["palette"]):
        report.note("No MAP raster (or palette) given: the street metric is skipped.")
    else:
        from .street_section import street_metrics, street_section

        codes, _ = map_classes(params["map"], like, params["palette"])
        metrics["streets"] = street_metrics(synthetic, names, codes, params["palette"])
        street_section(report, metrics["streets"])
    report.section("Map adherence")
    if not (params["segmenter"] and params["map"]):
        report.note("No SEGMENTER (an augmentation experiment's segmenter folder) or no MAP: skipped.")
    else:
        from ..experiment.adherence import adherence_section, map_adherence

        codes, _ = map_classes(params["map"], like, params["palette"])
        pair = (real, real_names) if paired else None
        metrics["map_adherence"] = map_adherence(params["segmenter"], codes, (synthetic, names), pair)
        adherence_section(report, metrics["map_adherence"])
    reporter.progress(0.5, "paired metrics", "evaluate")
    report.section("Paired similarity (same grid)")
    if not paired:
        report.note("REAL does not cover the synthetic image's grid (or is missing): SSIM/PSNR are skipped.")
    else:
        rows, paired_metrics = [], {}
        range_label = (
            "max - min"
            if params["data_range"] == "minmax"
            else f"{RANGE_PERCENTILES[0]}-{RANGE_PERCENTILES[1]} percentile range"
        )
        for i, name in enumerate(names):
            j = band_index(real_names, name)
            if j is None:
                continue
            band_range = data_range(real[j], params["data_range"])
            paired_metrics[name] = {
                "ssim": ssim(synthetic[i], real[j], band_range),
                "psnr_db": psnr(synthetic[i], real[j], band_range),
                "data_range": band_range,
                "data_range_method": range_label,
            }
            rows.append([name, paired_metrics[name]["ssim"], paired_metrics[name]["psnr_db"], band_range])
        report.text(f"SSIM and PSNR use each real band's {range_label} as the data range.")
        report.table(["band", "SSIM", "PSNR (dB)", f"data range (reflectance, {range_label})"], rows)
        figure, axes = plt.subplots(1, 3 if params["map"] else 2, figsize=(12, 4))
        if params["map"]:
            import rasterio

            with rasterio.open(params["map"]) as src:
                axes[0].imshow(src.read([1, 2, 3]).transpose(1, 2, 0))
            axes[0].set_title("map")
        axes[-2].imshow(_quicklook(real, real_names))
        axes[-2].set_title("real")
        axes[-1].imshow(_quicklook(synthetic, names))
        axes[-1].set_title("synthetic")
        for axis in axes:
            axis.axis("off")
        report.figure(figure, "Side by side (true colour, 0-0.3 reflectance)")
        metrics["paired"] = paired_metrics
    reporter.progress(0.7, "seams", "evaluate")
    report.section("Seams")
    labels_path = Path(params["synthetic"]).with_name(profile.get("labels_name") or "-")
    stride = params["stride"] or profile.get("stride")
    if not stride:
        report.note("No STRIDE given and the mosaic has no stride_px tag: seam metrics are skipped.")
    else:
        import rasterio

        if labels_path.is_file():
            with rasterio.open(labels_path) as src:
                labels_raster = src.read(1)
            report.text(f"Seams: the cuts of the label raster {labels_path.name}, tile stride {stride} px.")
        else:
            labels_raster = grid_labels(synthetic.shape[1:], stride, profile.get("overlap", 0))
            report.text(f"Seams: no label raster next to the mosaic; the tile lines of a {stride} px stride.")
        visibility, periodicity = seam_metrics(synthetic, labels_raster, stride)
        low, high = no_cut_range(synthetic, labels_raster, stride)
        report.table(
            [
                "band",
                "seam visibility index (1 = invisible)",
                "the same index on lines without a cut",
                "tiling periodicity (dB)",
            ],
            [
                [n, v, f"{lo:.2f}-{hi:.2f}", "n/a" if p != p else p]
                for n, v, lo, hi, p in zip(names, visibility, low, high, periodicity, strict=True)
            ],
        )
        report.text(
            "Lines without a cut: the cuts moved by 1/4, 1/2 and 3/4 of the stride along both axes. On a small mosaic "
            "the index at the cuts is evidence of a seam only above that range; inside it, it is the image's content."
        )
        metrics["seams"] = {
            n: {"visibility": v, "periodicity_db": p, "no_cut_range": [lo, hi]}
            for n, v, lo, hi, p in zip(names, visibility, low, high, periodicity, strict=True)
        }
        metrics["seam_stride_px"] = int(stride)
        if any(p != p for p in periodicity):
            report.text("Periodicity n/a: it needs at least 6 tile periods along the mosaic (fewer here).")
        seams = np.zeros(labels_raster.shape, bool)
        seams[:, 1:] |= labels_raster[:, 1:] != labels_raster[:, :-1]
        seams[1:] |= labels_raster[1:] != labels_raster[:-1]
        ys, xs = np.nonzero(seams)
        if len(ys):
            y, x = int(np.median(ys)), int(np.median(xs))
            half = 48
            window = (slice(max(0, y - half), y + half), slice(max(0, x - half), x + half))
            figure, axes = plt.subplots(1, 2, figsize=(8, 4))
            axes[0].imshow(_quicklook(synthetic, names)[window])
            axes[0].set_title("close-up")
            axes[1].imshow(_quicklook(synthetic, names)[window])
            axes[1].contour(seams[window], levels=[0.5], colors="red", linewidths=0.6)
            axes[1].set_title("with the seams")
            for axis in axes:
                axis.axis("off")
            report.figure(figure, "Seam close-up")
    reporter.progress(0.8, "realism", "evaluate")
    report.section("Realism")
    if real is None:
        report.note("No REAL image given: realism (classifier test, texture, band correlation) is skipped.")
    else:
        from .realism_section import realism

        classes = map_classes(params["map"], like, params["palette"]) if params["map"] and params["palette"] else None
        metrics["realism"] = realism(
            report, (real, real_names), (synthetic, names), paired, classes, repeats=params["c2st_repeats"]
        )
    report.section("FID / KID")
    if not params["inception_weights"]:
        report.note("No local INCEPTION_WEIGHTS given (nothing is downloaded): FID/KID are skipped.")
    elif real is None:
        report.note("FID/KID need a REAL image.")
    else:
        from .fid_inception import fid_section

        metrics["fid_kid"] = fid_section(
            report, reporter, _rgb_unit(real, real_names), _rgb_unit(synthetic, names), feature_network
        )
    out = Path(params["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(dumps(metrics, indent=2, default=float)))
    atomic_write(out / "report.html", lambda tmp: tmp.write_text(report.html(), encoding="utf-8"))
    reporter.progress(1.0, "done", "evaluate")
    return {
        "report": str(out / "report.html"),
        "metrics": str(out / "metrics.json"),
        "sections": [k for k in SECTIONS if k in metrics],
    }


class _Grid:
    """The synthetic image's grid, for warping other rasters onto it."""

    def __init__(self, profile) -> None:
        self.crs, self.transform = profile["crs"], profile["transform"]
        self.width, self.height = profile["width"], profile["height"]


COMMANDS = (
    Command(
        "evaluate",
        "Compare synthetic imagery with real Sentinel-2: report.html and metrics.json.",
        evaluate,
        (
            Param("synthetic", "path", help="synthetic mosaic or patch (MapSynth encoding)"),
            Param("real", "str", "", "real Sentinel-2 raster (same grid: paired metrics; elsewhere: distributions)"),
            Param("map", "str", "", "map raster on the synthetic grid, for NDVI per class"),
            Param("palette", "str", "", "semantic palette JSON, to name map classes"),
            Param("segmenter", "str", "", "segmenter folder (augmentation-experiment) for map adherence"),
            Param("inception_weights", "str", "", "local FID Inception-v3 weights (.safetensors) for FID/KID"),
            Param(
                "unverified_fid",
                "bool",
                False,
                "accept feature weights that are not the recognised FID Inception weights (report marked UNVERIFIED)",
            ),
            Param(
                "data_range",
                "str",
                "percentile",
                "SSIM/PSNR data range per band: 0.5-99.5 percentiles of the real band, or max - min",
                choices=("percentile", "minmax"),
            ),
            Param("stride", "int", 0, "tile stride (px) for seam metrics; 0 = the mosaic's stride_px tag", minimum=0),
            Param(
                "c2st_repeats",
                "int",
                REPEATS,
                "realism: runs of the classifier two-sample test averaged (each about 15 s on 2 cores; one run moves"
                " by several points with the classifier's seed)",
                minimum=1,
            ),
            Param("output_dir", "path", help="folder for report.html and metrics.json"),
        ),
    ),
)
