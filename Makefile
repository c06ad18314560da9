# MapSynth: `make demo` runs the main job on the embedded default, `make test` runs every test tier.
# Both set everything up first (idempotent): QGIS from Debian when missing, the QGIS-side test venv and the
# backend venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help

QGIS_PYTHON ?= /usr/bin/python3
BASE_PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
QGIS_PROCESS ?= /usr/bin/qgis_process.bin
BACKEND_VENV := .venv-backend
QGIS_VENV := .venv-qgis
TOOLS_VENV := .venv-tools
# make zip: a development build (X.Y.Z-dev, experimental=True) unless RELEASE=1, which needs real contacts
RELEASE ?=
EMAIL ?=
REPOSITORY_URL ?=
TRACKER_URL ?=
HOMEPAGE_URL ?=
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
export QT_QPA_PLATFORM ?= offscreen

.PHONY: help setup qgis tools test test-quick test-random test-lint test-backend test-qgis test-cli test-demo lint zip doctor demo bench train-demo-model distill-demo-model experiment bench-pix2pix bench-realism bench-realism-ablation bench-realism-training bench-realism-band-weights bench-realism-guard-mask bench-realism-sampler bench-realism-seen-maps bench-realism-longer bench-realism-preset bench-realism-scaling bench-realism-cues bench-realism-fields bench-realism-parcels bench-realism-tones bench-realism-regions bench-realism-voronoi bench-realism-layout-model bench-realism-settlements bench-realism-whiten bench-realism-guidance-below bench-realism-calibration bench-realism-sensor-mtf bench-realism-shorter bench-realism-guidance bench-realism-cosine bench-realism-minsnr bench-area bench-water clean

# The demo dataset the realism ablations train on (made once), and make bench-realism-guard-mask's measurements,
# whose files hold the embedded teacher's recipe's rows that later ablations are compared with
GUARD_MASK_RUNS = [ -n "$$(ls $${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}/measure-guardmask-*/realism.json \
	2>/dev/null)" ] || scripts/realism_guard_mask.sh

help:
	@echo "make demo    run the main job on the embedded default (sets up first); make demo AREA=helsinki"
	@echo "make test    set up, then lint and run the backend, QGIS headless, qgis_process and GUI (Xvfb) tiers"
	@echo "make test-quick    lint, backend, QGIS and qgis_process tiers without the tests marked slow"
	@echo "make test-random   the backend tier in a random order (SEED=n repeats one); finds order-dependent tests"
	@echo "make setup   install QGIS (Debian, as root) and create $(QGIS_VENV) and $(BACKEND_VENV)"
	@echo "make bench   throughput and quality measurements -> docs/BENCHMARKS.md"
	@echo "make train-demo-model   retrain the embedded demo model from the real scene (< 2 h on 2 cores)"
	@echo "make distill-demo-model   distil the few-step student of the demo model (about 1 h on 2 cores)"
	@echo "make experiment   is the synthetic data useful? augmentation experiment on the demo model's real pairs"
	@echo "make bench-realism   realism of the demo models (C2ST, spectra, band correlations) and a sampler ablation"
	@echo "make bench-realism-ablation   samplers and training changes of the teacher, on validation (about 45 min)"
	@echo "make bench-realism-training   guarded split and flip/turn augmentation of the teacher, on validation (about 70 min)"
	@echo "make bench-realism-band-weights  per-band loss weights against the same recipe without, on validation (about 60 min)"
	@echo "make bench-realism-guard-mask  training on the guard patches with their shared pixels hidden, on validation (about 30 min)"
	@echo "make bench-realism-sampler  the teacher's steps even in log-SNR against its card's sampler, on validation (about 12 min)"
	@echo "make bench-realism-seen-maps  the teacher on its training maps against held-out maps (about 8 min)"
	@echo "make bench-realism-longer  the teacher's recipe trained to 4,000 steps against 2,500, on validation (about 20 min)"
	@echo "make bench-realism-preset  the embedded teacher's recipe (band scaling) with preset medium against small, on validation (about 70 min)"
	@echo "make bench-realism-shorter  the embedded teacher's recipe trained to 1,500 steps against 2,500, on validation (about 25 min)"
	@echo "make bench-realism-guidance  the embedded teacher at map guidance 2 against its card's 1, on validation (about 15 min)"
	@echo "make bench-realism-cosine  the embedded teacher's recipe with its learning rate annealed, on validation (about 20 min)"
	@echo "make bench-realism-minsnr  the embedded teacher's recipe with min-SNR loss weighting, on validation (about 20 min)"
	@echo "make bench-realism-scaling  the teacher's recipe with each band diffused at the same spread, on validation (about 40 min)"
	@echo "make bench-realism-calibration  the teacher's colour statistics at two scales, and fixed corrections fitted on training maps (about 10 min)"
	@echo "make bench-realism-sensor-mtf  each embedded model without and with a sensor transfer function fitted on training maps (about 20 min)"
	@echo "make bench-realism-cues   which views of the tiles (texture, colour, bands) the realism classifier tells apart (about 6 min)"
	@echo "make bench-realism-fields inside the fields: even tones with sharp edges (real) or mottled (the models)? (about 5 min)"
	@echo "make bench-realism-parcels the teacher trained on maps that draw field edges (derive-maps --parcel-boundaries; about 50 min)"
	@echo "make bench-realism-tones   the teacher given tone layouts (which pixels form one field, its tone) with the map (about 75 min)"
	@echo "make bench-realism-regions the teacher given tone layouts cut along the map's own regions (about 55 min)"
	@echo "make bench-realism-voronoi the teacher given tone layouts that vary inside a map region, cut alike in training and generation (about 65 min)"
	@echo "make bench-realism-layout-model a layout model draws the field mosaic, the tone model paints it (after bench-realism-tones; about 45 min)"
	@echo "make bench-realism-settlements   the teacher on maps that draw towns as residential land use (about 40 min)"
	@echo "make bench-realism-whiten   the teacher diffusing its bands decorrelated (ZCA) instead of one by one (about 40 min)"
	@echo "make bench-realism-guidance-below   the embedded teacher at map guidance 0.7 against 1 (about 25 min)"
	@echo "make bench-area   how the chain's time and memory grow with the area (10, 40, 160 km²; about an hour)"
	@echo "make bench-water   the demo's water: generated NDVI by distance from the shore vs the training water"
	@echo "make bench-pix2pix   pix2pix baseline vs the diffusion models, realism on the test patches (trains pix2pix first)"
	@echo "make docs    algorithm reference: docs/algorithms.md and the Help buttons' resources/help/algorithms.html"
	@echo "make guide-images   the user guide's screenshots: each step's dialog filled in and its result (QGIS under Xvfb; make demo first when needed; 3-5 min)"
	@echo "make zip     development zip; release: make zip RELEASE=1 EMAIL=.. REPOSITORY_URL=.. TRACKER_URL=.. HOMEPAGE_URL=.."
	@echo "make lint | make doctor | make clean"

setup: qgis $(QGIS_VENV)/.installed $(BACKEND_VENV)/.installed $(TOOLS_VENV)/.installed

qgis:
	@QGIS_PYTHON=$(QGIS_PYTHON) QGIS_PROCESS=$(QGIS_PROCESS) scripts/ensure_qgis.sh

# QGIS-side test venv: QGIS's own Python and numpy (never numpy 2), plus pytest.
$(QGIS_VENV)/.installed:
	$(QGIS_PYTHON) -m venv --system-site-packages $(QGIS_VENV)
	$(QGIS_VENV)/bin/python -m pip install -q --disable-pip-version-check "pytest>=7"
	@touch $@

# Backend venv: a plain venv with torch (TORCH_SPEC, default the CPU wheel) and the backend, editable.
$(BACKEND_VENV)/.installed: backend/pyproject.toml
	test -x $(BACKEND_VENV)/bin/python || $(BASE_PYTHON) -m venv $(BACKEND_VENV)
	$(BACKEND_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BACKEND_VENV)/bin/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BACKEND_VENV)/bin/python -m pip install -q --disable-pip-version-check -e "backend[test]"
	@touch $@

# Every tier runs even after a failure, two at a time (TEST_JOBS); the summary names what failed and how long each
# tier took.
test: setup
	@scripts/test_tiers.sh

# A quick loop while working: lint, backend, QGIS and qgis_process tiers without the tests marked slow (pytest -m);
# make test and CI run everything.
test-quick: setup
	@PYTEST_ADDOPTS='-m "not slow"' TIERS="backend qgis cli lint" scripts/test_tiers.sh

test-lint: lint

test-backend: setup
	cd backend && ../$(BACKEND_VENV)/bin/python -m pytest

# The backend tier in a random order (pytest-randomly; the seed is printed, SEED=n repeats an order): a test that
# passes only after another one has run shows up here.
test-random: setup
	@seed=$${SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	echo "backend tier in random order, seed $$seed (make test-random SEED=$$seed repeats it)"; \
	cd backend && ../$(BACKEND_VENV)/bin/python -m pytest -p randomly --randomly-seed=$$seed

test-qgis: setup
	$(QGIS_VENV)/bin/python -m pytest tests/unit tests/qgis

test-cli: setup
	$(QGIS_VENV)/bin/python -m pytest tests/cli

# make demo's script (scripts/demo.sh) end to end on real OSM extracts, and how it fails
test-demo: setup
	$(QGIS_VENV)/bin/python -m pytest tests/demo

# QGIS desktop in a virtual 1280x800 display (the tests start it through xvfb-run -a): every MapSynth window opened,
# checked and photographed (.mapsynth-test/gui/screenshots).
.PHONY: test-gui
test-gui: setup
	$(QGIS_VENV)/bin/python -m pytest tests/gui

# The algorithm reference, from the algorithms' definitions and `mapsynth describe --json` (a test fails when stale).
.PHONY: docs
docs: $(QGIS_VENV)/.installed $(BACKEND_VENV)/.installed
	MAPSYNTH_BACKEND_PYTHON=$(CURDIR)/$(BACKEND_VENV)/bin/python $(QGIS_VENV)/bin/python scripts/make_algorithms_doc.py

# docs/user-guide.md's pictures: the GUI tier (QGIS desktop under Xvfb, MAPSYNTH_GUI_GUIDE set) photographs every
# dialog filled in with the demo's inputs and every step's result (make demo's outputs, the demo dataset's, and
# three small runs of its own: 10 fine-tuning steps, a what-if edit, land-cover maps; about 5 min on 2 cores), then
# they are copied with the parameters and values each dialog showed (tests/qgis/test_user_guide.py fails when a
# dialog has changed since, or a picture is missing, empty or from another run).
.PHONY: guide-images
guide-images: setup
	[ -f demo-output/demo.qgz ] || QGIS_PROCESS=$(QGIS_PROCESS) scripts/demo.sh
	$(DEMO_DATASET)
	MAPSYNTH_GUI_GUIDE=1 MAPSYNTH_GUI_OUT=$(CURDIR)/.mapsynth-test/gui-guide $(QGIS_VENV)/bin/python -m pytest \
		tests/gui -q -k reached_every_window
	$(QGIS_PYTHON) scripts/guide_images.py .mapsynth-test/gui-guide

lint: $(BACKEND_VENV)/.installed
	$(BACKEND_VENV)/bin/ruff check .
	$(BACKEND_VENV)/bin/ruff format --check --diff backend/src

# The plugins.qgis.org security scanners, at the versions the site runs (QGIS-Plugins-Website REQUIREMENTS.txt).
$(TOOLS_VENV)/.installed:
	test -x $(TOOLS_VENV)/bin/python || $(BASE_PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install -q --disable-pip-version-check "bandit~=1.9" "detect-secrets~=1.5" \
		"flake8~=7.3"
	@touch $@

tools: $(TOOLS_VENV)/.installed

# git archive of HEAD with the contacts written into its metadata.txt, then the validator and the site's scan;
# a zip that fails either is deleted.
ZIP := dist/mapsynth-$(VERSION)$(if $(RELEASE),,-dev).zip
zip: $(TOOLS_VENV)/.installed
	$(QGIS_PYTHON) scripts/build_zip.py $(ZIP) $(if $(RELEASE),--release) --email "$(EMAIL)" \
		--repository "$(REPOSITORY_URL)" --tracker "$(TRACKER_URL)" --homepage "$(HOMEPAGE_URL)"
	$(QGIS_PYTHON) scripts/validate_zip.py $(if $(RELEASE),--release) $(ZIP) || { rm -f $(ZIP); exit 1; }
	$(TOOLS_VENV)/bin/python scripts/security_scan.py $(ZIP) || { rm -f $(ZIP); exit 1; }

doctor: $(BACKEND_VENV)/.installed
	$(BACKEND_VENV)/bin/mapsynth doctor

# Each script rewrites only its own sections of docs/BENCHMARKS.md (scripts/bench_doc.py); make experiment and
# make bench-pix2pix are the long ones.
bench: setup
	$(QGIS_VENV)/bin/python scripts/bench.py
	$(QGIS_PYTHON) scripts/bench_demo_run.py .mapsynth-bench-demo
	QGIS_PROCESS=$(QGIS_PROCESS) $(BACKEND_VENV)/bin/python scripts/bench_demo_modes.py
	$(BACKEND_VENV)/bin/python scripts/bench_inpaint.py --write
	[ ! -f "$${MAPSYNTH_FEWSTEP_STUDENT:-resources/models/mapsynth-demo-pixel-fewstep}/model_card.json" ] || \
		QT_QPA_PLATFORM=offscreen $(QGIS_VENV)/bin/python scripts/bench_fewstep.py

# Realism of the demo models (what a discriminator sees) and a sampler ablation, on held-out patches of the demo
# dataset (built first if missing) -> docs/BENCHMARKS.md, sections "realism-refiner" (the refiner's setting, chosen
# on validation; package_fewstep_model.py's REFINER) and then "realism" (test; about 40 min on 2 cores)
# The demo dataset, built first when missing (the realism and training targets read it)
DEMO_DATASET = [ -f .mapsynth-demo-training/dataset/radiometry.json ] || DEMO_PREPARE_ONLY=1 \
	QGIS_PROCESS=$(QGIS_PROCESS) scripts/train_demo_model.sh
ABLATION_DIR = $${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}
# The embedded teacher's run measured on validation (embedded_run of scripts/realism_train_lib.sh)
EMBEDDED_RUN_FILES = $(ABLATION_DIR)/measure-scaled-[0-9]*/realism.json
REALISM_TEACHER := resources/models/mapsynth-demo-pixel-small
REALISM_STUDENT := resources/models/mapsynth-demo-pixel-fewstep
# What gives the demo models' tiles away: C2ST on views of the tiles (texture removed / only, mean spectrum, bands).
bench-realism-cues: setup
	$(DEMO_DATASET)
	$(BACKEND_VENV)/bin/python scripts/realism_cues.py --write

# Inside the fields: the gradient's median and tail inside the map's grass, real against each embedded model.
bench-realism-fields: setup
	$(DEMO_DATASET)
	$(BACKEND_VENV)/bin/python scripts/realism_fields.py --seeds 0,1,2 --out .mapsynth-realism-training/fields --write

# The teacher's recipe on maps that draw where one field meets the next (derive-maps --parcel-boundaries), against the
# same recipe on the demo's maps, both measured with C2ST averaged over 5 classifier runs (validation).
bench-realism-parcels: setup
	$(DEMO_DATASET)
	scripts/realism_parcels.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py parcels \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-parcels-*/realism.json

# The teacher's recipe given tone layouts with the map (prepare/tone_layout.py: which pixels form one even field and
# its tone; held-out layouts drawn from training segments only), against the same recipe on maps alone (validation).
bench-realism-tones: setup
	$(DEMO_DATASET)
	scripts/realism_tones.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py tones \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-tones-*/realism.json

# The teacher's recipe given tone layouts cut along the map's own regions in training and generation alike (one tone
# per map region: real in training, drawn from training regions for held-out maps), against maps alone (validation).
bench-realism-regions: setup
	$(DEMO_DATASET)
	scripts/realism_regions.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py regions \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-regions-*/realism.json

# The teacher's recipe given tone layouts whose map regions are cut into Voronoi cells of about a field (real cell
# tones in training, drawn from training cells for held-out maps), against maps alone (validation).
bench-realism-voronoi: setup
	$(DEMO_DATASET)
	scripts/realism_voronoi.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py voronoi \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-voronoi-*/realism.json

# Two stages: a layout model (the teacher's recipe trained to draw the real images' tone layouts from the maps) and
# the tone model of bench-realism-tones painting its layouts, against the same recipe on maps alone (validation).
bench-realism-layout-model: setup
	$(DEMO_DATASET)
	scripts/realism_layout_model.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py layout-model \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-layout-model-*/realism.json

# The teacher's recipe on maps that draw a town's gardens and verges as residential land use (derive-maps
# --settlements), against the same recipe on the demo's maps (validation).
bench-realism-settlements: setup
	$(DEMO_DATASET)
	scripts/realism_settlements.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py settlements \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-settlements-*/realism.json

# The teacher's recipe with its bands diffused decorrelated (train-model --data-scaling whiten), against the same
# recipe with each band scaled alone (std, the embedded teacher's), on the validation patches.
bench-realism-whiten: setup
	$(DEMO_DATASET)
	scripts/realism_whiten.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py whiten \
		$(ABLATION_DIR)/measure-scaled5-*/realism.json $(ABLATION_DIR)/measure-whiten-*/realism.json

# Colour statistics of the teacher at two scales and post-hoc corrections fitted on the training maps (validation).
bench-realism-calibration: setup
	$(DEMO_DATASET)
	$(BACKEND_VENV)/bin/python scripts/realism_calibration.py --seeds 0,1,2 --out .mapsynth-realism-training/calibration --write

# Each embedded model without and with the sensor transfer function fitted on its training-map generations (validation).
bench-realism-sensor-mtf: setup
	$(DEMO_DATASET)
	$(BACKEND_VENV)/bin/python scripts/realism_sensor_mtf.py --seeds 0,1,2 --out .mapsynth-realism-training/sensor-mtf --write

bench-realism: setup
	$(DEMO_DATASET)
	$(BACKEND_VENV)/bin/python scripts/realism_polish.py --splits validation --polish 0,0 --polish 24,1 \
		--polish 49,1 --polish 49,2 --polish 74,2 --seeds 0,1,2 --out .mapsynth-realism-training/refiner --write
	$(BACKEND_VENV)/bin/python scripts/measure_realism.py --write --splits test --c2st-repeats 5 \
		--variant $(REALISM_TEACHER),20, \
		--variant $(REALISM_TEACHER),20,sde-dpmsolver++ --variant $(REALISM_TEACHER),20,ddim-trailing \
		--variant $(REALISM_STUDENT),8,,no-refiner --variant $(REALISM_STUDENT),4, --variant $(REALISM_STUDENT),4,,fit-mtf

bench-realism-ablation: setup
	$(DEMO_DATASET)
	scripts/realism_ablation.sh
	T=resources/models/mapsynth-demo-pixel-small; W=$${MAPSYNTH_ABLATION_DIR:-.mapsynth-realism-ablation}; \
	$(BACKEND_VENV)/bin/python scripts/measure_realism.py --splits validation --guidance 1 --write --ablation \
		--variant "$$T,20,,,teacher" --variant "$$T,20,sde-dpmsolver++,,teacher" \
		--variant "$$T,50,sde-dpmsolver++,,teacher" --variant "$$T,50,ddim-eta1,,teacher" \
		--variant "$$W/plain/model,20,,,+1200 steps" --variant "$$W/ema/model,20,,,+1200 steps EMA" \
		--variant "$$W/ema-minsnr/model,20,,,+1200 steps EMA min-SNR 5"

bench-realism-training: setup
	$(DEMO_DATASET)
	scripts/realism_training.sh
	$(BACKEND_VENV)/bin/python scripts/realism_training_section.py \
		$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}/measure/realism.json

# Per-band loss weights (train-model --band-weights gradient) and EMA against the same recipe without (about 1.5 h)
bench-realism-band-weights: setup
	$(DEMO_DATASET)
	scripts/realism_band_weights.sh
	$(BACKEND_VENV)/bin/python scripts/realism_band_weights_section.py \
		$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}/measure-{bandw,ema}-*/realism.json

# The teacher's 20 steps even in log-SNR (sde-dpmsolver++-logsnr) against its card's sampler (about 12 min)
bench-realism-sampler: setup
	$(DEMO_DATASET)
	scripts/realism_sampler.sh
	$(BACKEND_VENV)/bin/python scripts/realism_sampler_section.py \
		$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}/measure-logsnr-*/realism.json

# The teacher on the maps it was trained on against held-out maps (is the gap overfitting? about 8 min)
bench-realism-seen-maps: setup
	$(DEMO_DATASET)
	scripts/realism_seen_maps.sh
	W=$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}; $(BACKEND_VENV)/bin/python \
		scripts/realism_seen_maps_section.py $$W/measure-seen-train/realism.json $$W/measure-seen-validation/realism.json

# The teacher's recipe trained on to 4,000 steps against 2,500 (about 20 min with bench-realism-guard-mask's runs done)
bench-realism-longer: setup
	$(DEMO_DATASET)
	$(GUARD_MASK_RUNS)
	scripts/realism_longer.sh
	W=$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}; $(BACKEND_VENV)/bin/python \
		scripts/realism_recipe_section.py longer $$W/measure-guardmask-*/realism.json $$W/measure-longer-*/realism.json

# The embedded teacher's recipe with the larger pixel preset medium against small (about 70 min on 2 cores)
bench-realism-preset: setup
	$(DEMO_DATASET)
	scripts/realism_preset.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py preset $(EMBEDDED_RUN_FILES) \
		$(ABLATION_DIR)/measure-medium-scaled-*/realism.json

# The embedded teacher's recipe (band scaling) trained to 1,500 steps against 2,500 (about 25 min on 2 cores)
bench-realism-shorter: setup
	$(DEMO_DATASET)
	scripts/realism_shorter.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py shorter $(EMBEDDED_RUN_FILES) \
		$(ABLATION_DIR)/measure-shorter-scaled-*/realism.json

# The embedded teacher at map guidance 2 against its card's 1 (about 15 min on 2 cores)
bench-realism-guidance: setup
	$(DEMO_DATASET)
	scripts/realism_guidance.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py guidance $(ABLATION_DIR)/measure-guidance-*/realism.json

# The embedded teacher at map guidance 0.7 against its card's 1, C2ST averaged over 5 classifier runs (validation)
bench-realism-guidance-below: setup
	$(DEMO_DATASET)
	scripts/realism_guidance_below.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py guidance-below \
		$(ABLATION_DIR)/measure-guidance5-*/realism.json

# The embedded teacher's recipe with its learning rate annealed (cosine) against constant (about 20 min on 2 cores)
bench-realism-cosine: setup
	$(DEMO_DATASET)
	scripts/realism_cosine.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py cosine $(EMBEDDED_RUN_FILES) \
		$(ABLATION_DIR)/measure-cosine-scaled-*/realism.json

# The embedded teacher's recipe with min-SNR loss weighting (gamma 5) against equal weights (about 20 min on 2 cores)
bench-realism-minsnr: setup
	$(DEMO_DATASET)
	scripts/realism_minsnr.sh
	$(BACKEND_VENV)/bin/python scripts/realism_recipe_section.py minsnr $(EMBEDDED_RUN_FILES) \
		$(ABLATION_DIR)/measure-minsnr-scaled-*/realism.json

# The teacher's recipe with each band diffused at the same spread (train-model --data-scaling std) against the clip
# range's [-1, 1] (about 40 min on 2 cores with bench-realism-guard-mask's runs done)
bench-realism-scaling: setup
	$(DEMO_DATASET)
	$(GUARD_MASK_RUNS)
	scripts/realism_scaling.sh
	W=$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}; $(BACKEND_VENV)/bin/python \
		scripts/realism_recipe_section.py scaling $$W/measure-guardmask-*/realism.json $$W/measure-scaled-[0-9]*/realism.json

# Training on the guard patches with their shared pixels hidden (build-training-dataset --train-guard) against the
# guarded split alone, the same recipe (about 30 min on 2 cores with the guarded model already trained)
bench-realism-guard-mask: setup
	$(DEMO_DATASET)
	scripts/realism_guard_mask.sh
	$(BACKEND_VENV)/bin/python scripts/realism_guard_mask_section.py \
		$${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}/measure-guardmask-*/realism.json

# How the chain's cost grows with the area (10, 40, 160 km² of Liechtenstein; about an hour on 2 cores)
bench-area: setup
	QGIS_PROCESS=$(QGIS_PROCESS) $(QGIS_PYTHON) scripts/bench_area.py

# Why the demo's water misses its NDVI target: generated water by distance from the shore vs the training water
bench-water: setup
	QGIS_PROCESS=$(QGIS_PROCESS) $(QGIS_PYTHON) scripts/bench_water.py

# make demo AREA=helsinki: another preset area (scripts/demo.sh; default liechtenstein)
demo: setup
	@QGIS_PROCESS=$(QGIS_PROCESS) $(if $(AREA),MAPSYNTH_DEMO_AREA=$(AREA)) scripts/demo.sh

train-demo-model: setup
	QGIS_PROCESS=$(QGIS_PROCESS) scripts/train_demo_model.sh

distill-demo-model: setup
	$(DEMO_DATASET)
	scripts/distill_demo_model.sh

# The augmentation experiment on the demo model's Aberystwyth pairs; resumable (rerun after a kill).
experiment: setup
	QGIS_PROCESS=$(QGIS_PROCESS) scripts/run_experiment.sh
	$(BASE_PYTHON) scripts/experiment_docs.py

# pix2pix baseline vs the diffusion models through the realism measures: trains pix2pix small on the guarded demo
# split (~15 min on 2 cores), measures the test patches, writes the section 'pix2pix' (scripts/pix2pix_section.py).
bench-pix2pix: setup
	QGIS_PROCESS=$(QGIS_PROCESS) scripts/bench_pix2pix.sh
	$(BACKEND_VENV)/bin/python scripts/pix2pix_section.py $${P2P_DIR:-.mapsynth-pix2pix-small}/measure/realism.json

clean:
	rm -rf dist .mapsynth-demo demo-output $(QGIS_VENV)
	find . -name __pycache__ -type d -prune -not -path "./$(BACKEND_VENV)/*" -exec rm -rf {} +
