"""Write a section of docs/BENCHMARKS.md for one change to the teacher's recipe, measured over seeds on the
validation patches against the files of the recipe it changes (for the same seeds: make bench-realism-guard-mask's
'guarded split EMA' rows, or for the changes to the embedded teacher's recipe its run's, make bench-realism-shorter's):
'realism-longer' (4,000 steps, scripts/realism_longer.sh), 'realism-preset' (pixel preset medium,
scripts/realism_preset.sh), 'realism-shorter' (1,500 steps, scripts/realism_shorter.sh), 'realism-guidance' (map
guidance 2 against 1 for the embedded teacher, scripts/realism_guidance.sh), 'realism-cosine' (the learning rate
annealed, scripts/realism_cosine.sh), 'realism-minsnr' (min-SNR loss weighting, scripts/realism_minsnr.sh),
'realism-scaling' (per-band data scaling, scripts/realism_scaling.sh), 'realism-parcels' (maps with parcel
boundaries, scripts/realism_parcels.sh), 'realism-tones' (tone layouts with the map, scripts/realism_tones.sh),
'realism-regions' (tone layouts cut along the map's regions, scripts/realism_regions.sh), 'realism-voronoi' (those
regions cut into cells of about a field, scripts/realism_voronoi.sh), 'realism-layout-model' (a layout model draws
the field mosaic, scripts/realism_layout_model.sh), 'realism-settlements'
(maps with towns drawn as residential land use, scripts/realism_settlements.sh), 'realism-whiten' (the bands
diffused decorrelated, scripts/realism_whiten.sh) or 'realism-guidance-below' (map guidance 0.7 against 1 for the
embedded teacher, scripts/realism_guidance_below.sh).
Every sentence is computed from the numbers; the adoption rule is the one each script states before measuring.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_recipe_section.py longer WORK/measure-{guardmask,longer}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py preset WORK/measure-{scaled,medium-scaled}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py shorter WORK/measure-{scaled,shorter-scaled}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py guidance WORK/measure-guidance-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py cosine WORK/measure-{scaled,cosine-scaled}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py minsnr WORK/measure-{scaled,minsnr-scaled}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py scaling WORK/measure-{guardmask,scaled}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py parcels WORK/measure-{scaled5,parcels}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py tones WORK/measure-{scaled5,tones}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py regions WORK/measure-{scaled5,regions}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py voronoi WORK/measure-{scaled5,voronoi}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py layout-model \
      WORK/measure-{scaled5,layout-model}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py settlements \
      WORK/measure-{scaled5,settlements}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py whiten WORK/measure-{scaled5,whiten}-*/realism.json
  .venv-backend/bin/python scripts/realism_recipe_section.py guidance-below WORK/measure-guidance5-*/realism.json
(the first changed run's spectra plot, real and that model, is copied to docs/realism_CHANGE_spectra.png).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "backend" / "src"))

from bench_doc import header  # noqa: E402
from realism_guard_mask_section import seed_table  # noqa: E402
from realism_training_section import (  # noqa: E402
    c2st,
    merged_by_seed,
    rows,
    seed_means,
    seeds_tail,
    two_run_verdict,
    write_section_over_seeds,
)

from mapsynth_backend.models.pixel import PIXEL_PRESETS  # noqa: E402

RECIPE = (
    "the recipe of make train-demo-model (2,500 steps from scratch, batch 8, learning rate 3e-4, EMA 0.999, seed 0, "
    "on the guarded split; the embedded teacher until band scaling was adopted is this run)"
)

# The embedded teacher's recipe (make train-demo-model: RECIPE with band scaling), the baseline of the changes to it
EMBEDDED = f"{RECIPE}, with band scaling (train-model --data-scaling std; the embedded teacher)"
EMBEDDED_LABEL = "guarded split EMA band scaling"


def architecture(name: str) -> str:
    preset = PIXEL_PRESETS[name]
    channels = ", ".join(map(str, preset["block_out_channels"]))
    layers = preset["layers_per_block"]
    return f"channels {channels}, {layers} layer{'s' if layers > 1 else ''} per block"


CHANGES = {
    "longer": {
        "section": "realism-longer",
        "after": "realism-sampler",
        "title": "## Realism: training the teacher longer",
        "label": "guarded split EMA 4000 steps",
        "plot": "longer",
        "rows": f"{RECIPE} and the same run continued from its last checkpoint to 4,000 steps with the same arguments",
        "verdict": ("4,000 steps score", "2,500", ("2,500 steps", "4,000"), "Longer training"),
    },
    "preset": {
        "section": "realism-preset",
        "after": "realism-longer",
        "title": "## Realism: a larger teacher",
        "before": EMBEDDED_LABEL,
        "label": "guarded split EMA band scaling medium",
        "plot": "medium",
        "rows": f"{EMBEDDED} and pixel preset small ({architecture('small')}, 3.6 M parameters), and the same "
        f"recipe with preset medium ({architecture('medium')}, 9.1 M parameters; the same steps and batch size)",
        "verdict": ("preset medium scores", "small", ("small", "medium"), "The larger preset"),
        "adopt": "medium qualifies to replace small as the teacher's preset",
        "keep": "the teacher keeps preset small; medium stays a train-model option",
    },
    "shorter": {
        "section": "realism-shorter",
        "after": "realism-preset",
        "title": "## Realism: training the teacher for fewer steps",
        "before": EMBEDDED_LABEL,
        "label": "guarded split EMA band scaling 1500 steps",
        "plot": "shorter",
        "rows": f"{EMBEDDED}, here trained to 1,500 steps and continued from that checkpoint to 2,500 with the same "
        "arguments",
        "verdict": ("1,500 steps score", "2,500", ("2,500 steps", "1,500"), "Shorter training"),
        "adopt": "1,500 steps qualify to replace 2,500 in make train-demo-model",
        "keep": "make train-demo-model keeps 2,500 steps",
    },
    "guidance": {
        "section": "realism-guidance",
        "after": "realism-shorter",
        "title": "## Realism: map guidance above 1",
        "before": "embedded teacher guidance 1",
        "label": "embedded teacher guidance 2",
        "plot": "guidance-2",
        "sampling": "20 steps, the card's sampler and water hold",
        "rows": "the embedded teacher sampled with classifier-free map guidance 1 (its card's, one network evaluation "
        "per step) and 2 (what train-model's cards recommend; two evaluations per step)",
        "verdict": ("guidance 2 scores", "guidance 1", ("guidance 1", "2"), "Guidance 2"),
        "adopt": "guidance 2 qualifies to replace the teacher card's 1",
        "keep": "the teacher's card keeps guidance 1",
    },
    "guidance-below": {
        "section": "realism-guidance-below",
        "after": "realism-guidance",
        "title": "## Realism: map guidance below 1",
        "before": "embedded teacher guidance 1",
        "label": "embedded teacher guidance 0.7",
        "plot": "guidance5-0.7",
        "sampling": "20 steps, the card's sampler and water hold; C2ST the mean of 5 classifier runs",
        "rows": "the embedded teacher sampled with classifier-free map guidance 1 (its card's, one network evaluation "
        "per step) and 0.7 (the map-free prediction mixed in: two evaluations per step; one value, fixed before "
        "measuring). Why this run: the teacher's tiles differ from real ones most in colour (the mean-spectrum view "
        "alone scores 67 %, section realism-cues) and its tiles' mean spectra spread less than real ones (standard "
        "deviation between the validation tiles' means 0.0120 / 0.0092 / 0.0156 / 0.107 against real 0.0144 / "
        "0.0115 / 0.0178 / 0.116 in B02 / B03 / B04 / B08, seed 0), while guidance 2 sharpened everything and scored "
        "far worse (section realism-guidance); guidance below 1 samples more widely",
        "verdict": ("guidance 0.7 scores", "guidance 1", ("guidance 1", "0.7"), "Guidance 0.7"),
        "adopt": "guidance 0.7 qualifies to replace the teacher card's 1",
        "keep": "the teacher's card keeps guidance 1",
    },
    "cosine": {
        "section": "realism-cosine",
        "after": "realism-guidance",
        "title": "## Realism: the learning rate annealed",
        "before": EMBEDDED_LABEL,
        "label": "guarded split EMA band scaling cosine",
        "plot": "cosine",
        "rows": f"{EMBEDDED}, its learning rate held at 3e-4, and the same recipe with the learning rate decayed "
        "from 3e-4 to 0 over the 2,500 steps (train-model --lr-scheduler cosine)",
        "verdict": ("the cosine schedule scores", "the constant one", ("constant", "cosine"), "The cosine schedule"),
        "adopt": "the cosine schedule qualifies to replace the constant one in make train-demo-model",
        "keep": "make train-demo-model keeps the constant learning rate",
    },
    "minsnr": {
        "section": "realism-minsnr",
        "after": "realism-cosine",
        "title": "## Realism: min-SNR loss weighting from scratch",
        "before": EMBEDDED_LABEL,
        "label": "guarded split EMA band scaling min-SNR 5",
        "plot": "minsnr",
        "rows": f"{EMBEDDED}, every noise level's loss weighted alike, and the same recipe with min-SNR weighting "
        "(train-model --snr-gamma 5: the low-noise levels, where the loss is easiest, weigh less; Hang et al. 2023)",
        "verdict": ("min-SNR weighting scores", "equal weights", ("equal weights", "min-SNR"), "Min-SNR weighting"),
        "adopt": "min-SNR weighting qualifies for make train-demo-model",
        "keep": "make train-demo-model keeps equal weights; --snr-gamma stays a train-model option",
    },
    "parcels": {
        "section": "realism-parcels",
        "after": "realism-fields",
        "title": "## Realism: maps that draw where one field meets the next",
        "before": "maps without parcel boundaries",
        "label": "maps with parcel boundaries",
        "plot": "parcels",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps (without a water hold: both rows are raw training outputs), and the "
        "same recipe, steps, batch size and seed on the same patches with maps derived again by derive-maps "
        "--parcel-boundaries (the edges where one field meets the next, found in the Sentinel-2 patch by "
        "prepare/field_edges.py and drawn in the parcel-boundary colour; each model is measured on its own maps of "
        "the validation patches, against the same real tiles). Why this run: inside the map's grass, real fields are "
        "even tones with sharp edges that the derived maps do not draw, and both models mottle them (section "
        "realism-fields)",
        "verdict": (
            "the maps with parcel boundaries score",
            "the maps without",
            ("without", "with"),
            "Drawing the parcel boundaries",
        ),
        "adopt": "parcel boundaries qualify for the demo's derived maps (adopting them means retraining the teacher, "
        "distilling the student again and drawing OpenStreetMap's parcel boundaries in their own colour instead of "
        "as hedges)",
        "keep": "the demo's maps stay without parcel boundaries; derive-maps --parcel-boundaries stays an option",
        "fields": "fields-parcels",
        "fields_seen": "which the second model saw with the parcel boundaries added",
        "fields_picture": "realism_parcels_fields.png",
    },
    "tones": {
        "section": "realism-tones",
        "after": "realism-parcels",
        "title": "## Realism: a tone layout given with the map",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "maps alone"},
        "label": "maps with tone layouts",
        "plot": "tones",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps alone (the same files as section realism-parcels' first row), and "
        "the same recipe, steps, batch size and seed given a tone layout with each map: 4 more input channels, one "
        "even tone per segment (prepare/tone_layout.py). Training patches: their own real image cut into segments "
        "(Felzenszwalb's graph segmentation, never across a map-class border; about one field each), each its mean "
        "tone. Validation patches: drawn at random from the training patches only, a generation without imagery "
        "would draw them: each map region cut into Voronoi cells as many as the training segments of its class "
        "give for its area, each cell the tone of a training segment of its class, from one of the 5 training "
        "patches of most similar map; a new layout per seed (layout seed = generation seed). Why this run: the "
        "models mottle the fields and drawing the field edges into the map did not help (section realism-parcels); "
        "here the choice of one tone per field is made outside the network",
        "verdict": (
            "the tone layouts score",
            "the maps alone",
            ("maps alone", "with tone layouts"),
            "The tone layouts",
        ),
        "adopt": "tone layouts qualify for generate (adopting them means a tone bank in the model folder, layouts "
        "drawn across the whole mosaic, and the teacher and student trained again)",
        "keep": "generate stays with maps alone; the tone-layout training stays an experiment (train-model takes a "
        "dataset whose rows carry tone_image, generate refuses such a model)",
        "fields": "fields-tones",
        "fields_seen": "which the second model saw with its plain tone layout of seed 0, pictured below",
        "fields_picture": "realism_tones_fields.png",
        "layouts": "realism_tones_layouts.png",
        "extras": {
            "oracle": {
                "label": "tone layouts of the real images",
                "sentence": "A diagnosis, not a generation: the same model given the layouts read off the real "
                "validation images themselves (an oracle: it sees the held-out images, so its tiles share their "
                "fields' shapes and tones; it says how far the model would get if its layouts were right)",
            },
            "cascade": {
                "label": "tone layouts of the first model's images",
                "sentence": "Two stages, nothing of a held-out image (added after the two rows above were measured, "
                "its rule stated before it was): the model on maps alone generates each validation map (noise seed "
                "1000 + the seed), its image is segmented as a real training patch is, and the tone model paints "
                "that layout",
                "adopt": "the two stages qualify for generate",
                "keep": "generate stays with one stage on maps alone",
            },
            "calibrated": {
                "label": "calibrated tone layouts",
                "sentence": "Calibrated draws (added after the rows above were measured, its rule stated before it "
                "was; set on the training patches alone, realism_tones.py --calibration: the plain draws' tone steps "
                "between neighbouring fields were 1.6-1.9 times real, so each cell now takes the tone its donor patch "
                "has where the cell lies, tones are pulled to the class mean by 0.7 and cells are twice as many; steps "
                "then within 0.001-0.005 of real)",
                "adopt": "the calibrated tone layouts qualify for generate",
                "keep": "generate stays with maps alone",
            },
        },
    },
    "settlements": {
        "section": "realism-settlements",
        "after": "realism-tones",
        "title": "## Realism: maps that draw a town as a town",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "maps as derived"},
        "label": "maps with settlements",
        "plot": "settlements",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps (the same files as section realism-parcels' first row), and the same "
        "recipe, steps, batch size and seed on the same patches with maps derived again by derive-maps --settlements "
        "(prepare/settlements.py: where buildings, roads and grey bare ground make up a fifth of the land within about "
        "40 m, over at least 50 px, the gardens and verges become residential land use, as OSM draws a town; each "
        "model is measured on its own maps of the validation patches, against the same real tiles). Why this run: the "
        "derived maps call a suburb's gardens grass, like a pasture, and the teacher paints them smooth; the test "
        "patches' visible-band gradient energy is twice the validation patches', almost all of it in two suburban "
        "patches (a diagnosis made on the test patches, which is why the choice is made here, on validation). With "
        "settlements, 17 of the 100 training patches, 1 of the 22 validation patches and 5 of the 27 test patches are "
        "more than 5 % residential land use: the validation patches can say little about towns",
        "verdict": (
            "the maps with settlements score",
            "the maps as derived",
            ("as derived", "with settlements"),
            "Drawing the settlements",
        ),
        "adopt": "settlements qualify for the demo's derived maps (adopting them means retraining the teacher, "
        "distilling the student again and keeping OpenStreetMap's residential land use as its own class)",
        "keep": "the demo's maps stay as derived; derive-maps --settlements stays an option",
        "towns": "settlements-town",
        "settlement_town": "realism_settlements_town.png",
    },
    "regions": {
        "section": "realism-regions",
        "after": "realism-tones",
        "title": "## Realism: tone layouts cut along the map's regions",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "maps alone"},
        "label": "maps with region tone layouts",
        "plot": "regions",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps alone (the same files as section realism-parcels' first row), and "
        "the same recipe, steps, batch size and seed given a tone layout with each map cut along the map's own "
        "regions (prepare/tone_layout.py map_regions: the 8-connected pieces of each map class), in training and "
        "generation alike. Training patches: each region its real mean tone. Validation patches: each region the tone "
        "of a region of its class in one of the 5 training patches of most similar map (weight min/max of the two "
        "areas), a new draw per seed (layout seed = generation seed). Why this run: section realism-tones' layouts "
        "were read off the real image in training (segments of the image) but drawn as Voronoi cells in generation, "
        "two kinds of picture, and the model painted the cells' straight edges; here both are the same kind. The "
        "derived maps' hedges rarely close a field (the largest grass region holds about 80 % of a patch's grass), "
        "so a layout says mostly which tone each class has in this patch, not each field's",
        "verdict": (
            "the region tone layouts score",
            "the maps alone",
            ("maps alone", "with region layouts"),
            "The region tone layouts",
        ),
        "adopt": "region tone layouts qualify for generate (adopting them means a tone bank in the model folder, "
        "layouts drawn across the whole mosaic, and the teacher and student trained again)",
        "keep": "generate stays with maps alone; realism_tones.py --regions stays an experiment",
        "fields": "fields-regions",
        "fields_seen": "which the second model saw with its region tone layout of seed 0, pictured below",
        "fields_picture": "realism_regions_fields.png",
        "region_layouts": "realism_regions_layouts.png",
        "layout_tiles": "dataset-regions",
        "extras": {
            "oracle": {
                "label": "region tones of the real images",
                "sentence": "A diagnosis, not a generation: the same model given each validation region's tone read "
                "off the real image (an oracle: it sees the held-out images; it says how far the model would get "
                "with the right tone per region)",
            },
        },
    },
    "voronoi": {
        "section": "realism-voronoi",
        "after": "realism-regions",
        "title": "## Realism: tone layouts that vary inside a map region",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "maps alone"},
        "label": "maps with Voronoi tone layouts",
        "plot": "voronoi",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps alone (the same files as section realism-parcels' first row), and "
        "the same recipe, steps, batch size and seed given a tone layout with each map: every map region (section "
        "realism-regions) cut into Voronoi cells of about 100 px (prepare/tone_layout.py map_cells; 100 px is the "
        "area-weighted mean size of the real image's segments of section realism-tones, set before measuring), in "
        "training and generation alike. Training patches: each cell its real mean tone (the cells' edges are not the "
        "fields' edges, so the tones are a guide, not edges to paint). Validation patches: each cell the tone of a "
        "training cell of its class in one of the 5 training patches of most similar map (weight min/max of the two "
        "areas), a new draw per seed (layout seed = generation seed). Why this run: given each map region's real "
        "tone the recipe scores no better than on maps alone (section realism-regions' oracle), given the real "
        "image's segments 56-59 % (realism-tones' oracle): what the classifier sees is how the tone varies inside a "
        "class at about the scale of a field",
        "verdict": (
            "the Voronoi tone layouts score",
            "the maps alone",
            ("maps alone", "with Voronoi layouts"),
            "The Voronoi tone layouts",
        ),
        "adopt": "Voronoi tone layouts qualify for generate (adopting them means a tone bank in the model folder, "
        "layouts drawn across the whole mosaic, and the teacher and student trained again)",
        "keep": "generate stays with maps alone; realism_tones.py --regions --area stays an experiment",
        "region_layouts": "realism_voronoi_layouts.png",
        "layout_tiles": "dataset-voronoi",
        "extras": {
            "oracle": {
                "label": "cell tones of the real images",
                "sentence": "A diagnosis, not a generation: the same model given each validation cell's tone read "
                "off the real image (an oracle: it sees the held-out images; it says how far tones at this scale, "
                "without the fields' shapes, would get the model)",
            },
        },
    },
    "layout-model": {
        "section": "realism-layout-model",
        "after": "realism-voronoi",
        "title": "## Realism: a layout model draws the field mosaic",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "maps alone"},
        "label": "tone layouts drawn by a layout model",
        "plot": "layout-model",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED} on the derived maps alone (the same files as section realism-parcels' first row), and "
        "two stages: a layout model, the same recipe, steps, batch size and seed trained on the demo maps with each "
        "training patch's tone layout as its image (realism_tones.py --layout-targets: the real image's segments, "
        "each its mean tone, section realism-tones), draws an image for each validation map (noise seed 1000 + the "
        "seed), which is segmented as a real patch is; section realism-tones' tone model (trained on the real "
        "layouts) paints that layout. Nothing of a held-out image is used. Why this run: given the real image's "
        "segments and tones the tone model scores 56-59 % (realism-tones' oracle), given tones at the scale of a "
        "field without the fields' shapes (realism-voronoi's oracle) or one tone per map region (realism-regions' "
        "oracle) about what maps alone score: the classifier sees the field mosaic, and no layout drawn by a rule "
        "came close",
        "verdict": (
            "the layout model's layouts score",
            "the maps alone",
            ("maps alone", "layout model"),
            "The layout model",
        ),
        "adopt": "the layout model qualifies for generate (adopting it means a second model in the model folder, "
        "layouts drawn across the whole mosaic, and the student distilled again)",
        "keep": "generate stays with one model on maps alone; the layout model stays an experiment",
        "model_layouts": "realism_layout_model_layouts.png",
    },
    "whiten": {
        "section": "realism-whiten",
        "after": "realism-settlements",
        "title": "## Realism: the bands diffused decorrelated",
        "before": "maps without parcel boundaries",  # the run's name in make bench-realism-parcels' measurements
        "shown": {"before": "bands scaled one by one"},
        "label": "bands whitened",
        "plot": "whiten",
        "sampling": "20 steps, guidance 1; C2ST the mean of 5 classifier runs",
        "rows": f"{EMBEDDED}: each band scaled alone to a spread of 0.5 (the same files as section realism-parcels' "
        "first row), and the same recipe, steps, batch size and seed with train-model --data-scaling whiten: the "
        "bands diffused together after ZCA whitening, W (x - mean) with W = 0.5 C^(-1/2), C the training split's band "
        "covariance (models/band_scaling.py). Why this run: scaled one by one, the network's errors, about alike in "
        "every channel, come back independent per band while real bands move together, and the teacher's bands are "
        "decorrelated (within a tile B03-B08 +0.05 against real -0.12 on these patches; between the tiles' means "
        "-0.18 against -0.47); whitened, the same errors come back with the bands' own covariance",
        "verdict": (
            "whitening scores",
            "scaling one by one",
            ("one by one", "whitened"),
            "Whitening",
        ),
        "adopt": "whitening qualifies for make train-demo-model (adopting it means retraining the teacher, "
        "distilling the student again and measuring the water hold in the whitened space)",
        "keep": "make train-demo-model keeps --data-scaling std; --data-scaling whiten stays a train-model option",
    },
    "scaling": {
        "section": "realism-scaling",
        "after": "realism-seen-maps",
        "title": "## Realism: each band diffused at the same spread",
        "label": EMBEDDED_LABEL,
        "plot": "scaled",
        "rows": f"{RECIPE}, each band diffused in its clip range mapped to [-1, 1] (the dark visible bands then "
        "spread less than half as much as NIR, so at every noise level their signal-to-noise ratio is several times "
        "lower), and the same recipe with train-model --data-scaling std: each band diffused at a spread of 0.5 "
        "around its training-split mean (models/band_scaling.py), the same steps, batch size and seed",
        "verdict": ("band scaling scores", "the clip-range space", ("clip range", "band scaling"), "Band scaling"),
        "adopt": "band scaling qualifies for the teacher's recipe (adopted: the embedded teacher is this run)",
        "keep": "the teacher's recipe keeps the clip-range space; --data-scaling std stays a train-model option",
        "town": "realism_scaling_town.png",
    },
}


def rule(runs: list[tuple[int, dict]], change: dict) -> str:
    """The rule the ablation's script states before any measurement, applied (none for a diagnosis)."""
    if "adopt" not in change:
        return ""
    outcome = change["adopt"] if all(c2st(f["after"]) < c2st(f["before"]) for _, f in runs) else change["keep"]
    return f" By the rule fixed before measuring (lower whole-tile C2ST at every seed), {outcome}."


def body(kind: str, measured: list[Path]) -> str:
    change = CHANGES[kind]
    labels = {"before": change.get("before", "guarded split EMA"), "after": change["label"]}
    labels |= {role: extra["label"] for role, extra in change.get("extras", {}).items()}
    merged = merged_by_seed(measured)
    optional = tuple(change.get("extras", {}))  # an extra may be measured at fewer seeds than the two runs
    runs = sorted((seed, rows(summary, labels, optional)) for seed, summary in merged.items())
    first = merged[runs[0][0]]
    keep = {name: entry for name, entry in first["models"].items() if name.split(",")[0] in labels.values()}
    first = {**first, "models": keep}
    bands = list(next(iter(keep.values()))["gradient_energy"])
    script = f"scripts/realism_{kind.replace('-', '_')}.sh"
    return "\n".join(
        [
            change["title"],
            "",
            header("scripts/realism_recipe_section.py", f"make bench-realism-{kind}  ({script})"),
            "",
            f"{first['patches']} patches of the split '{first['splits']}' (choices are made here, never on the test "
            f"patches), each generated once per seed ({change.get('sampling', '20 steps, guidance 1')}), measured as "
            "in the realism section. "
            f"Rows: {change['rows']}. One training seed: the intervals are over patches, the seeds over generation "
            "noise and classifier, not over training runs.",
            "",
            *seeds_tail(
                two_run_verdict(runs, *change["verdict"])
                + rule(runs, change)
                + extras(runs, change)
                + layout_tiles(change, measured)
                + fields(change, measured)
                + towns(change, measured),
                seed_table(runs, bands, labels | change.get("shown", {})),
                runs[0][0],
                first,
                bands,
                f"realism_{kind.replace('-', '_')}_spectra.png",
                f"radially averaged power spectra, real and the {change['label']} model",
            ),
            *pictures(change),
        ]
    )


def extras(runs: list[tuple[int, dict]], change: dict) -> str:
    """Sentences on the further rows of an ablation (``extras``: the same model given other inputs), each against
    the maps alone, with its own adoption rule where it has one (``adopt``/``keep``)."""
    text = ""
    for role, extra in change.get("extras", {}).items():
        measured = [(seed, f) for seed, f in runs if role in f]  # an extra may be measured at fewer seeds
        means = seed_means(measured, ("before", role))
        seeds = "" if len(measured) == len(runs) else f" (seed {', '.join(str(seed) for seed, _ in measured)} only)"
        per_seed = " / ".join(f"{c2st(f[role]):.1f}" for _, f in measured)
        detail = " / ".join(f"{100 * f[role]['c2st_detail']['accuracy']:.1f}" for _, f in measured)
        lower = sum(c2st(f[role]) < c2st(f["before"]) for _, f in measured)
        text += (
            f" {extra['sentence']}{seeds}: C2ST {per_seed} % (mean {means[role]['c2st']:.1f} % against"
            f" {means['before']['c2st']:.1f} % for the maps alone at the same seeds; lower at {lower} of"
            f" {len(measured)}), on detail {detail} %, mean gradient ratio of the visible bands"
            f" {means[role]['grad']:.2f}, of B08 {means[role]['nir']:.2f}."
        )
        if "adopt" in extra:
            outcome = extra["adopt" if lower == len(runs) else "keep"]
            text += f" By its rule (lower whole-tile C2ST at every seed), {outcome}."
    return text


def fields(change: dict, measured: list[Path]) -> str:
    """The inside-the-fields measure (scripts/realism_fields.py) of both rows, when the ablation's script made one
    (WORK/fields-NAME/fields.json beside the measurements): the gradient's tail inside the demo maps' grass."""
    if "fields" not in change:
        return ""
    path = measured[0].parent.parent / change["fields"] / "fields.json"
    if not path.is_file():
        return ""
    summary = json.loads(path.read_text(encoding="utf-8"))
    bands = list(summary["real"]["grass"])

    def tails(runs: dict) -> str:
        return " / ".join(f"{sum(r['grass'][b]['tail'] for r in runs.values()) / len(runs):.1f}" for b in bands)

    rows = "; ".join(f"{label} {tails(runs)}" for label, runs in summary["models"].items())
    real = " / ".join(f"{summary['real']['grass'][b]['tail']:.1f}" for b in bands)
    return (
        f" Inside the fields (section realism-fields' measure, on the demo maps' grass, the same seeds): the tail of"
        f" the gradient (99th percentile / median; {' / '.join(bands)}) is real {real}; {rows} (means over the seeds)."
        "\n\nSeed 0, the three validation patches with the most field interior (the picture of section realism-fields"
        f" for these two models; the map column is the demo's map, {change['fields_seen']}):\n\n"
        f"![map, real and both models with their B08 gradient]({change['fields_picture']})"
    )


def towns(change: dict, measured: list[Path]) -> str:
    """The town diagnosis of realism_settlements_picture.py (WORK/NAME/towns.json beside the measurements): both
    models' gradient ratios on every patch of a split, reported after the rule was applied, never used by it."""
    if "towns" not in change:
        return ""
    path = measured[0].parent.parent / change["towns"] / "towns.json"
    if not path.is_file():
        return ""
    summary = json.loads(path.read_text(encoding="utf-8"))
    ratios = "; ".join(
        f"{label} {' / '.join(f'{value:.2f}' for value in bands.values())}"
        for label, bands in summary["gradient_ratio"].items()
    )
    names = " / ".join(next(iter(summary["gradient_ratio"].values())))
    return (
        f" A diagnosis after the rule was applied (it chooses nothing): on the {summary['patches']} {summary['split']}"
        f" patches, seed 0, the gradient ratio ({names}; target 0.9-1.15) is {ratios}."
    )


def layout_tiles(change: dict, measured: list[Path]) -> str:
    """The tile-mean diagnosis of realism_tones.py --tile-stats (WORK/DATASET/tile_stats.json): how the drawn layouts'
    32 px tiles spread in mean tone, how their mean B03 and B08 go together, and how well a classifier of mean colours
    alone tells them from the real tiles, against the real images (and the oracle layouts, which keep every region's
    real mean: the classifier's reference for two samples of the same colours)."""
    if "layout_tiles" not in change:
        return ""
    path = measured[0].parent.parent / change["layout_tiles"] / "tile_stats.json"
    if not path.is_file():
        return ""
    stats = json.loads(path.read_text(encoding="utf-8"))
    real, oracle = stats.pop("real"), stats.pop("oracle")
    bands = list(real["spread"])
    draws = [stats[name] for name in sorted(stats)]

    def joined(key: str, form: str) -> str:
        return " / ".join(format(d[key], form) for d in draws)

    def spread(entry: dict) -> str:
        return " / ".join(f"{entry['spread'][b]:.4f}" for b in bands)

    return (
        f" What the layouts alone hold, no model in between (the {real['tiles']} validation tiles of 32 px, each"
        f" seed's draw): the spread of the tiles' mean tone ({' / '.join(bands)}) is real {spread(real)}, drawn"
        f" {'; '.join(spread(d) for d in draws)}; the correlation of the tiles' mean B03 and B08 real"
        f" {real['r_B03_B08']:.2f}, drawn {joined('r_B03_B08', '.2f')}; evaluate's C2ST on the tiles' mean colours"
        f" alone (5 runs) tells the drawn layouts from the real tiles {joined('c2st_mean_colour', '.1f')} % of the"
        f" time (the oracle layouts: {oracle['c2st_mean_colour']:.1f} %)."
    )


# The pictures an ablation's script may write besides the spectra: change key -> (caption, alt text)
PICTURES = {
    "town": (
        "The three most built-up validation patches at full resolution (seed 0; one 10 m pixel = 4 x 4 screen pixels, "
        "true colour, one fixed stretch): map, real Sentinel-2, then each model.",
        "validation patches at full resolution: map, real, both models",
    ),
    "settlement_town": (
        "The three test patches with the most residential land use in the settlement maps, at full resolution (seed 0; "
        "one 10 m pixel = 4 x 4 screen pixels, true colour, one fixed stretch; shown, not measured for a choice): both "
        "maps, real Sentinel-2, then each model on its own map.",
        "test patches with towns: both maps, real, each model",
    ),
    "layouts": (
        "The layouts (one 10 m pixel = 3 x 3 screen pixels, true colour): map, real Sentinel-2, then the plain draw "
        "and the calibrated draw; the first four rows are training patches (both columns: the layout read off the "
        "real image), the last four validation patches at layout seed 0 (drawn from training segments; the real "
        "image beside them was not used).",
        "map, real image and tone layout: training patches, then validation patches",
    ),
    "region_layouts": (
        "The layouts (one 10 m pixel = 3 x 3 screen pixels, true colour): map, real Sentinel-2, then the layout; the "
        "first four rows are training patches (each region or cell its real mean tone), the last four validation "
        "patches at layout seed 0 (drawn from training regions or cells; the real image beside them was not used).",
        "map, real image and region tone layout: training patches, then validation patches",
    ),
    "model_layouts": (
        "The layouts (one 10 m pixel = 3 x 3 screen pixels, true colour): map, real Sentinel-2, the real image's "
        "layout, then the layout model's; the first four rows are training patches (both layout columns: the real "
        "image's layout, what the layout model was trained to draw), the last four validation patches at seed 0 (the "
        "real layout shown for comparison, the tone model never saw it; the layout model's draw is what it painted).",
        "map, real image, real layout and the layout model's layout: training patches, then validation patches",
    ),
}


def pictures(change: dict) -> list[str]:
    """The captioned pictures of PICTURES that the change names (realism_scaling.sh's town, realism_tones.py's
    layouts)."""
    lines = []
    for key, (caption, alt) in PICTURES.items():
        if key in change:
            lines += ["", caption, "", f"![{alt}]({change[key]})"]
    return lines


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in CHANGES:
        raise SystemExit(f"usage: realism_recipe_section.py {'|'.join(CHANGES)} WORK/measure-*/realism.json ...")
    kind = sys.argv[1]
    change = CHANGES[kind]
    write_section_over_seeds(
        change["section"],
        change["after"],
        f"realism_{kind.replace('-', '_')}_spectra.png",
        lambda measured: body(kind, measured),
        plot=change["plot"],
        files=sys.argv[2:],
    )


if __name__ == "__main__":
    main()
