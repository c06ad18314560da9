"""Tone layouts (prepare/tone_layout.py): what the training layout reads off a real patch, what a random layout draws,
and a pixel model trained with them (4 more map channels) end to end, refused by generate."""

import json

import cv2
import numpy as np
import pytest
from model_fixtures import make_dataset, make_grid
from test_distill import REPORTER
from test_models import generate_params, train_params

from mapsynth_backend.prepare.tone_layout import ToneBank, map_codes, real_layout, write_png
from mapsynth_backend.runtime.protocol import UserError

GRASS, WATER, BUILT = (136, 204, 102), (40, 80, 200), (220, 200, 160)


def paint(size: int, *areas: tuple[tuple[slice, slice], tuple[int, int, int]]) -> np.ndarray:
    out = np.zeros((3, size, size), np.uint8)
    for (rows, cols), colour in areas:
        out[:, rows, cols] = np.array(colour, np.uint8)[:, None, None]
    return out


def two_fields(rng, size=48, noise=0.01) -> np.ndarray:
    """Clip-scaled bands: a dark field left of column 20, a bright one right of it, each with a little noise."""
    unit = np.empty((4, size, size))
    unit[:, :, :20] = np.array([0.2, 0.3, 0.2, 0.5])[:, None, None]
    unit[:, :, 20:] = np.array([0.5, 0.6, 0.6, 0.3])[:, None, None]
    return unit + rng.normal(0, noise, unit.shape)


def test_real_layout_is_each_field_its_mean_and_never_crosses_the_map():
    rng = np.random.default_rng(0)
    unit = two_fields(rng)
    one_class = paint(48, ((slice(None), slice(None)), GRASS))
    layout = real_layout(unit, one_class)
    left, right = (
        {tuple(v) for v in part.reshape(4, -1).T.tolist()} for part in (layout[:, :, :20], layout[:, :, 20:])
    )
    assert not left & right  # no segment spans the step between the fields
    for part, source in ((layout[:, :, :20], unit[:, :, :20]), (layout[:, :, 20:], unit[:, :, 20:])):
        assert np.allclose(part.mean(axis=(1, 2)), source.mean(axis=(1, 2)), atol=1e-9)  # segments' means
        assert part.std(axis=(1, 2)).max() < source.std(axis=(1, 2)).min() / 3  # even tones, not the noise
    # the same image under a map whose class border runs across both fields (row 30): no segment crosses it
    split = paint(48, ((slice(None), slice(None)), GRASS), ((slice(30, None), slice(None)), BUILT))
    layout = real_layout(unit, split)
    above, below = ({tuple(v) for v in part.reshape(4, -1).T.tolist()} for part in (layout[:, :30], layout[:, 30:]))
    assert not above & below
    assert np.allclose(layout[:, 30:, :20].mean(axis=(1, 2)), unit[:, 30:, :20].mean(axis=(1, 2)), atol=1e-9)
    # an even image is one tone everywhere, whatever the map
    flat = np.full((4, 48, 48), 0.4)
    assert np.allclose(real_layout(flat, split), 0.4)


def test_random_layout_cuts_regions_like_the_training_fields_with_their_tones():
    rng = np.random.default_rng(1)
    bank = ToneBank(contrast=1.0, cells=1.0, matched=False)  # the plain draw
    grass = paint(48, ((slice(None), slice(None)), GRASS))
    bank.add(two_fields(rng, noise=0.0), grass)  # two even grass fields, 960 and 1,344 px
    layout = bank.layout(paint(96, ((slice(None), slice(None)), GRASS)), np.random.default_rng(2))
    tones = {tuple(v) for v in layout.reshape(4, -1).T.round(9).tolist()}
    donor = {tuple(v) for v in bank.donors[0].tones[map_codes(grass)[0, 0]].round(9).tolist()}
    assert tones == donor and len(tones) == 2  # the training fields' tones only
    # cut into cells of the training fields' mean area (9,216 / 1,152 = 8 cells): more even regions than tones
    from scipy import ndimage

    regions = sum(ndimage.label(np.all(layout.round(9) == np.array(t)[:, None, None], axis=0))[1] for t in tones)
    assert 3 <= regions <= 8
    cells = bank.layout(paint(96, ((slice(None), slice(None)), GRASS)), np.random.default_rng(3))
    assert not np.array_equal(layout, cells)  # another draw
    assert np.array_equal(layout, bank.layout(paint(96, ((slice(None), slice(None)), GRASS)), np.random.default_rng(2)))


def test_random_layout_takes_tones_from_a_training_patch_of_similar_map():
    bank = ToneBank()
    bank.NEIGHBOURS = 1
    sea = paint(32, ((slice(None), slice(None)), WATER), ((slice(None), slice(28, None)), GRASS))
    land = paint(32, ((slice(None), slice(None)), GRASS))
    bank.add(np.full((4, 32, 32), 0.1), sea)  # its grass: 0.1
    bank.add(np.full((4, 32, 32), 0.7), land)  # its grass: 0.7
    coast = bank.layout(
        paint(32, ((slice(None), slice(None)), WATER), ((slice(None), slice(26, None)), GRASS)),
        np.random.default_rng(0),
    )
    assert np.allclose(coast, 0.1)  # the sea patch is the closer map: its grass tone, not the inland one
    inland = bank.layout(land, np.random.default_rng(0))
    assert np.allclose(inland, 0.7)
    town = bank.layout(
        paint(32, ((slice(None), slice(None)), BUILT), ((slice(None), slice(16)), GRASS)), np.random.default_rng(0)
    )
    assert np.allclose(town, 0.7)  # a class no training patch has (built-up): the chosen patch's mean tone


HEDGE = (30, 90, 40)


def test_region_layouts_cut_along_the_map_in_training_and_drawing_alike():
    # a hedge (column 20) cuts the grass into two regions; the real image has two fields meeting at column 20 too,
    # and a third tone inside the right region (rows 30 on) that the map does not draw
    hedged = paint(48, ((slice(None), slice(None)), GRASS), ((slice(None), slice(20, 21)), HEDGE))
    unit = two_fields(np.random.default_rng(4), noise=0.0)
    unit[:, 30:, 21:] = 0.9
    layout = real_layout(unit, hedged, regions=True)
    assert np.allclose(layout[:, :, :20], unit[:, :, :20].mean(axis=(1, 2))[:, None, None])
    right = unit[:, :, 21:].mean(axis=(1, 2))
    assert np.allclose(layout[:, :, 21:], right[:, None, None])  # one region, one tone: the map's cut, not the image's
    assert np.allclose(layout[:, :, 20], unit[:, :, 20].mean(axis=1)[:, None])
    # a hedge drawn as a diagonal staircase is one region, not one per pixel (8-connected regions)
    diagonal = paint(16, ((slice(None), slice(None)), GRASS))
    diagonal[:, np.arange(16), np.arange(16)] = np.array(HEDGE, np.uint8)[:, None]
    noise = np.random.default_rng(5).random((4, 16, 16))
    on_line = real_layout(noise, diagonal, regions=True)[:, np.arange(16), np.arange(16)]
    assert np.allclose(on_line, noise[:, np.arange(16), np.arange(16)].mean(axis=1)[:, None])
    # drawing: each region of the map takes a region tone of its class from the donor, one tone per region
    bank = ToneBank(regions=True)
    bank.add(unit, hedged)
    grass_tones = {tuple(v) for v in bank.donors[0].tones[map_codes(hedged)[0, 0]].round(9).tolist()}
    assert len(grass_tones) == 2  # the donor's two grass regions, not its three image tones
    target = paint(40, ((slice(None), slice(None)), GRASS), ((slice(10, 11), slice(None)), HEDGE))
    target[:, 30:31] = np.array(HEDGE, np.uint8)[:, None, None]
    for seed in range(5):
        drawn = bank.layout(target, np.random.default_rng(seed))
        for rows in (slice(0, 10), slice(11, 30), slice(31, None)):
            tones = {tuple(v) for v in drawn[:, rows].reshape(4, -1).T.round(9).tolist()}
            assert len(tones) == 1 and tones <= grass_tones  # one even tone per region, a donor region's
    # a region of about one donor region's area draws that region's tone most often (weight min/max of the areas:
    # a donor with a 192 px and a 2,064 px grass region, a map with 192 px of grass: 0.91 against 0.09 by area)
    narrow = paint(48, ((slice(None), slice(None)), GRASS), ((slice(None), slice(4, 5)), HEDGE))
    bank = ToneBank(regions=True)
    bank.add(unit, narrow)
    small = paint(48, ((slice(None), slice(None)), HEDGE), ((slice(0, 4), slice(0, 48)), GRASS))
    small_tone = np.round(unit[:, :, :4].mean(axis=(1, 2)), 9)
    picks = [bank.layout(small, np.random.default_rng(seed))[:, 0, 0].round(9) for seed in range(40)]
    assert sum(np.array_equal(p, small_tone) for p in picks) > 30


def test_voronoi_cells_cut_each_map_region_at_about_the_given_area():
    from mapsynth_backend.prepare.tone_layout import map_cells

    hedged = paint(64, ((slice(None), slice(None)), GRASS), ((slice(None), slice(24, 25)), HEDGE))
    codes = map_codes(hedged)
    cells = map_cells(codes, 100.0, np.random.default_rng(0))
    # left grass 64 x 24 = 1,536 px -> 15 cells, hedge 64 px -> 1, right grass 64 x 39 = 2,496 px -> 25
    assert len(np.unique(cells)) == 41 and cells.max() == 40
    assert not set(np.unique(cells[:, :24])) & set(np.unique(cells[:, 25:]))  # no cell crosses the hedge
    assert len(np.unique(cells[:, 24])) == 1  # the hedge, smaller than a cell, stays whole
    assert np.array_equal(cells, map_cells(codes, 100.0, np.random.default_rng(0)))  # the seed fixes the cut
    assert not np.array_equal(cells, map_cells(codes, 100.0, np.random.default_rng(1)))
    assert np.array_equal(map_cells(codes, 0.0), map_cells(codes))  # no area: the map's regions
    # training: each cell its real mean tone; drawing: each cell one tone of a donor cell of its class
    unit = np.random.default_rng(2).random((4, 64, 64))
    layout = real_layout(unit, hedged, regions=True, area=100.0, seed=0)
    for cell in (0, 20, 40):
        inside = cells == cell
        assert np.allclose(layout[:, inside], unit[:, inside].mean(axis=1)[:, None])
    bank = ToneBank(regions=True, area=100.0)
    bank.add(unit, hedged, seed=0)
    donor = {tuple(v) for v in bank.donors[0].tones[int(codes[0, 0])].round(9).tolist()}
    assert len(donor) == 40  # the donor's 15 + 25 grass cells
    drawn = bank.layout(hedged, np.random.default_rng(3))
    grass = {tuple(v) for v in drawn[:, codes == codes[0, 0]].T.round(9).tolist()}
    assert grass <= donor and len(grass) > 10  # donor cells' tones, many of them: the region varies inside


def with_tones(dataset):
    """The dataset's rows with a tone_image each: their real layout (training and validation alike here)."""
    radiometry = json.loads((dataset / "radiometry.json").read_text())
    low = np.array([radiometry["clip"][b][0] for b in radiometry["bands"]])
    high = np.array([radiometry["clip"][b][1] for b in radiometry["bands"]])
    import rasterio

    from mapsynth_backend.radiometry import decode_reflectance

    for split in ("train", "validation"):
        path = dataset / split / "metadata.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        (dataset / split / "tones").mkdir()
        for row in rows:
            with rasterio.open(dataset / split / row["multispectral"]) as src:
                unit = (decode_reflectance(src.read()) - low[:, None, None]) / (high - low)[:, None, None]
            image = cv2.imread(str(dataset / split / row["conditioning_image"]))[:, :, ::-1].transpose(2, 0, 1)
            row["tone_image"] = f"tones/{row['patch_id']}.png"
            write_png(dataset / split / row["tone_image"], real_layout(unit, image))
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows[0], low, high


def test_a_pixel_model_trains_on_tone_layouts_and_generate_refuses_it(tmp_path):
    from mapsynth_backend.generate.command import generate
    from mapsynth_backend.models import load_model
    from mapsynth_backend.radiometry import ClipRange
    from mapsynth_backend.train.command import train
    from mapsynth_backend.train.data import load_pair

    grid = make_grid(tmp_path / "grid.gpkg", 2, 3, 16)
    dataset = make_dataset(tmp_path, grid)
    row, low, high = with_tones(dataset)
    pair = load_pair({**row, "root": str(dataset / "validation")}, "pixel", ClipRange(low, high))
    png = cv2.imread(str(dataset / "validation" / row["tone_image"]), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    assert pair["map"].shape[0] == 7  # the map's 3 channels, then the 4 bands' tones in band order
    assert np.allclose(pair["map"][3:].numpy(), png.transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)
    out = tmp_path / "tones"
    train(
        train_params(
            dataset=str(dataset), family="pixel", preset="tiny", max_steps=2, output_dir=str(out), validation_every=2
        ),
        REPORTER,
    )
    model = load_model(out / "model")
    assert model.card["map_channels"] == 7 and model.unet.config.in_channels == 4 + 7
    grid = cv2.imread(str(out / "validation" / "final.png"))[:, :, ::-1]
    first_map = cv2.imread(str(dataset / "validation" / row["conditioning_image"]))[:, :, ::-1]
    assert grid.shape == (16 * 2, 16 * 5, 3)  # map | real | generated | real NIR | generated NIR, 2 samples
    assert np.array_equal(grid[:16, :16], first_map)  # the grid's map is the map's RGB, not a tone channel
    with pytest.raises(UserError, match="tone layouts"):
        train(
            train_params(dataset=str(dataset), family="pix2pix", max_steps=1, output_dir=str(tmp_path / "p")), REPORTER
        )
    with pytest.raises(UserError, match="tone layouts"):
        generate(
            generate_params(
                model=str(out / "model"),
                patch_grid=str(tmp_path / "grid.gpkg"),
                map_dir=str(tmp_path / "maps"),
                output_dir=str(tmp_path / "gen"),
            ),
            REPORTER,
        )
    assert not (tmp_path / "gen").exists() or not any((tmp_path / "gen").glob("*.tif"))


def test_calibrated_draws_take_the_donors_tone_where_the_cell_lies_and_pull_it_to_the_mean():
    grass = paint(48, ((slice(None), slice(None)), GRASS))
    fields = two_fields(np.random.default_rng(0), noise=0.0)  # dark left of column 20, bright right of it
    plain, matched = (ToneBank(contrast=1.0, cells=2.0, matched=m) for m in (False, True))
    for bank in (plain, matched):
        bank.add(fields, grass)
    donor = matched.donors[0].layout
    agree = {
        name: np.mean(
            [np.mean(np.all(b.layout(grass, np.random.default_rng(seed)) == donor, axis=0)) for seed in range(8)]
        )
        for name, b in (("plain", plain), ("matched", matched))
    }
    # each cell takes the tone at its seed, and a cell lies mostly on its seed's side: far more pixels agree
    assert agree["matched"] > 0.75 and agree["plain"] < 0.6, agree
    pulled = ToneBank(matched.donors, contrast=0.5, cells=2.0, matched=True)
    code = map_codes(grass)[0, 0]
    mean = np.average(matched.donors[0].tones[code], axis=0, weights=matched.donors[0].sizes[code])
    full, half = matched.layout(grass, np.random.default_rng(3)), pulled.layout(grass, np.random.default_rng(3))
    assert np.allclose(half, mean[:, None, None] + 0.5 * (full - mean[:, None, None]))  # the same draw, half the step
