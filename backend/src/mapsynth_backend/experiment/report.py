"""The experiment's report: learning curve (mIoU against the real fraction, one line per arm, mean ± standard
deviation over seeds), the summary table and per-class IoU/F1, as a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .links import Report
from .runs import ARMS

COLOURS = {
    "real": "black",
    "real+same_maps": "tab:blue",
    "real+unpaired_maps": "tab:green",
    "synthetic_only": "tab:red",
}


def _fmt(mean: float | None, std: float | None) -> str:
    return "n/a" if mean is None else f"{mean:.3f} ± {std:.3f}"


def learning_curve(summary: list[dict[str, Any]], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for arm in ARMS:
        rows = [r for r in summary if r["arm"] == arm and r["miou"] is not None]
        if not rows:
            continue
        xs = [r["real_fraction"] for r in rows]
        axis.errorbar(
            xs,
            [r["miou"] for r in rows],
            yerr=[r["miou_std"] for r in rows],
            marker="o",
            capsize=3,
            label=arm,
            color=COLOURS[arm],
            linestyle="--" if arm == "synthetic_only" else "-",
        )
    axis.set_xscale("log")
    fractions = sorted({r["real_fraction"] for r in summary})
    axis.set_xticks(fractions, [f"{f:g}" for f in fractions])
    axis.minorticks_off()
    axis.set_xlabel("real fraction of the training split (contiguous block; synthetic_only: its maps only)")
    axis.set_ylabel("test mIoU (held-out real pairs)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def write_report(out: Path, results: dict[str, Any], class_names: list[str], notes: list[str]) -> Path:
    """report.html and learning_curve.png in ``out``."""
    from .links import atomic_write

    summary = results["summary"]
    report = Report("MapSynth augmentation experiment")
    report.section("Setup")
    for line in notes:
        report.text(line)
    report.section("Learning curve")
    figure = learning_curve(summary, "Segmentation on held-out real test pairs")
    atomic_write(
        out / "learning_curve.png", lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    )
    report.figure(figure, "Test mIoU against the real fraction, mean ± standard deviation over seeds")
    report.table(
        ["arm", "real fraction", "real images", "synthetic images", "seeds", "mIoU (mean ± std)"],
        [
            [
                r["arm"],
                r["real_fraction"],
                r["real_images"],
                r["synthetic_images"],
                len(r["seeds"]),
                _fmt(r["miou"], r["miou_std"]),
            ]
            for r in summary
        ],
    )
    report.section("Per class (IoU / F1, mean over seeds)")
    report.table(
        ["arm", "real fraction", *class_names],
        [
            [
                r["arm"],
                r["real_fraction"],
                *(
                    "n/a"
                    if r["per_class"][c]["iou"] is None
                    else f"{r['per_class'][c]['iou']:.2f} / {r['per_class'][c]['f1']:.2f}"
                    for c in class_names
                ),
            ]
            for r in summary
        ],
    )
    missing = results.get("runs_missing", [])
    if missing:
        report.note(f"{len(missing)} planned run(s) have not finished yet: {', '.join(missing)}. Rerun to complete.")
    atomic_write(out / "report.html", lambda tmp: tmp.write_text(report.html(), encoding="utf-8"))
    return out / "report.html"
