"""Write the 'pix2pix' section of docs/BENCHMARKS.md from scripts/bench_pix2pix.sh's measurement (realism.json of
scripts/measure_realism.py): is a conditional GAN, one network pass per image, harder or easier to tell from real
than the pixel diffusion models, and how fast is it? Every sentence is computed from the numbers.

Run in the backend venv: .venv-backend/bin/python scripts/pix2pix_section.py P2P_DIR/measure/realism.json
(the spectra plot beside it, spectra.png, is copied to docs/pix2pix_spectra.png).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header, write_section  # noqa: E402
from measure_realism import markdown  # noqa: E402
from realism_training_section import change, targets_met, trained_on  # noqa: E402

GAN = "pix2pix small"


def by_label(summary: dict) -> dict[str, dict]:
    """Rows by their label (measure_realism names a row 'LABEL, N steps, sampler')."""
    return {name.split(",")[0]: entry for name, entry in summary["models"].items()}


def describe(label: str, entry: dict) -> str:
    speed = 1 / entry["settings"]["s_per_patch"]
    return (
        f"{label} ({trained_on(entry)} training patches, {entry['settings']['steps']} step(s), {speed:.1f} patches/s):"
        f" {100 * entry['c2st']['accuracy']:.1f} % C2ST, {targets_met(entry)}"
    )


def body(summary: dict) -> str:
    rows = by_label(summary)
    if GAN not in rows:
        raise SystemExit(f"realism.json has no '{GAN}' row")
    gan = rows[GAN]
    card = json.loads((Path(gan["settings"]["model"]) / "model_card.json").read_text(encoding="utf-8"))
    others = [label for label in rows if label != GAN]
    comparisons = "; ".join(f"against the {label} {change(rows[label], gan)}" for label in others)
    bands = list(gan["gradient_energy"])
    text = (
        "Per row: " + "; ".join(describe(label, entry) for label, entry in rows.items()) + ". "
        f"pix2pix changes C2ST {comparisons}. Speeds are this run's generation on the CPU (2 threads, batch 8,"
        " refiner included), not a benchmark of their own."
    )
    return "\n".join(
        [
            "## pix2pix baseline: what a discriminator sees",
            "",
            header("scripts/pix2pix_section.py", "make bench-pix2pix  (scripts/bench_pix2pix.sh)"),
            "",
            f"{summary['patches']} held-out patches of the split '{summary['splits']}', each generated once (seed 0),"
            " measured as in the realism section. pix2pix: preset small (a U-Net generator and a PatchGAN"
            f" discriminator, L1 x 100 + adversarial loss), {card['steps']} training steps, batch"
            f" {card['training']['batch_size']}, "
            f"learning rate {card['training']['learning_rate']:g}, seed {card['training']['seed']}, on the guarded"
            " split of the demo dataset; it has no noise input, so each"
            " map gives one image. The embedded teacher and student were trained on the same guarded split (before"
            " issue 28's retrain they were trained on patches that overlap these by about 30 % of their pixels);"
            " the row 'teacher recipe on the guarded split', when present, is the recipe without EMA. One training"
            " seed per model: the C2ST interval is over patches, not over training runs. Every diffusion row samples"
            " with guidance 1 (the embedded cards' own; the guarded-split teacher's card would say 2).",
            "",
            text,
            "",
            markdown(summary, bands).rstrip(),
            "",
            "![radially averaged power spectra, real and each row](pix2pix_spectra.png)",
        ]
    )


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: pix2pix_section.py P2P_DIR/measure/realism.json")
    measured = Path(sys.argv[1])
    summary = json.loads(measured.read_text(encoding="utf-8"))
    shutil.copyfile(measured.with_name("spectra.png"), ROOT / "docs" / "pix2pix_spectra.png")
    write_section("pix2pix", body(summary), after="realism-training")


if __name__ == "__main__":
    main()
