"""The report of the polygon-scored experiment: the design in plain words, macro recall on the independent polygons
per arm and fraction (95 % cluster-bootstrap intervals), the derived-map rule as a baseline row, per-class recall,
and the pre-registered comparisons (the primary uncorrected, the rest Holm-corrected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .links import Report, atomic_write

COLOURS = {
    "real": "black",
    "real+classical": "tab:orange",
    "real+same_maps": "tab:blue",
    "real+unpaired_maps": "tab:green",
}


def _interval(row: dict[str, Any]) -> str:
    low, high = row["interval"]
    return f"{row['macro_recall']:.3f} [{low:.3f}, {high:.3f}]"


def _figure(rows: list[dict[str, Any]]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for arm, colour in COLOURS.items():
        mine = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["real_fraction"])
        if not mine:
            continue
        xs = [r["real_fraction"] for r in mine]
        ys = [r["macro_recall"] for r in mine]
        lows = [y - r["interval"][0] for y, r in zip(ys, mine, strict=True)]
        errors = [lows, [r["interval"][1] - y for y, r in zip(ys, mine, strict=True)]]
        axis.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=arm, color=colour)
    baseline = next((r for r in rows if r["real_fraction"] is None), None)
    if baseline:
        axis.axhline(baseline["macro_recall"], color="grey", linestyle=":", label="derived-map rule")
    fractions = sorted({r["real_fraction"] for r in rows if r["real_fraction"] is not None})
    if fractions:
        axis.set_xscale("log")
        axis.set_xticks(fractions, [f"{f:g}" for f in fractions])
        axis.minorticks_off()
    axis.set_xlabel("real fraction of the training split")
    axis.set_ylabel("macro recall on the labelled polygons")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def write_polygon_report(out: Path, results: dict[str, Any]) -> Path:
    report = Report("MapSynth augmentation experiment (independent labels)")
    polygons = results["polygons"]
    report.section("Design")
    report.text(
        f"Scored on {len(polygons)} hand-labelled single-class polygons ({', '.join(results['label_classes'])};"
        f" {sum(p['pixels'] for p in polygons)} pixels) that were not derived from the imagery; every training"
        " patch of a run (segmenter, validation block, the arm's generator, unpaired maps) lies farther than the"
        " guard from every polygon the run scores, overlaps included, and every polygon is scored once per seed."
        " Per-class recall pools a class's polygon pixels, macro recall averages the classes; intervals are 95 %"
        " cluster bootstraps over polygons (over seeds too for differences)."
    )
    report.text(
        "The derived maps (a rule applied to the imagery) are used only as weak training labels, never as the"
        " answer: the derived-map rule itself is scored on the polygons below as a baseline."
    )
    for warning in results.get("warnings", []):
        report.note(f"Warning: {warning}.")
    for note in results.get("design_notes", []):
        report.note(note)
    report.section("Macro recall")
    figure = _figure(results["rows"])
    atomic_write(
        out / "learning_curve.png", lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    )
    report.figure(figure, "Macro recall on the polygons against the real fraction (95 % cluster-bootstrap interval)")
    names = results["label_classes"]
    report.table(
        ["arm", "real fraction", "seeds", "macro recall [95 % interval]", *(f"recall {n}" for n in names)],
        [
            [
                r["arm"],
                "-" if r["real_fraction"] is None else f"{r['real_fraction']:g}",
                len(r["seeds"]) or "-",
                _interval(r),
                *("n/a" if r["per_class_recall"][n] is None else f"{r['per_class_recall'][n]:.3f}" for n in names),
            ]
            for r in results["rows"]
        ],
    )
    report.section("Comparisons (named before the runs)")
    report.table(
        ["comparison (A - B)", "role", "difference [95 % interval]", "p", "p (Holm)", "seeds A > B"],
        [
            [t["comparison"], t["role"], "not run yet", "", "", ""]
            if t.get("missing")
            else [
                t["comparison"],
                t["role"],
                f"{t['difference']:+.3f} [{t['interval'][0]:+.3f}, {t['interval'][1]:+.3f}]",
                f"{t['p']:.3f}",
                f"{t['p_holm']:.3f}" if "p_holm" in t else "-",
                f"{t['seeds_a_better']}/{t['seeds']}",
            ]
            for t in results["comparisons"]
        ],
    )
    missing = results.get("runs_missing", [])
    if missing:
        report.note(f"{len(missing)} planned run(s) have not finished yet; rerun the same command to complete them.")
    atomic_write(out / "report.html", lambda tmp: tmp.write_text(report.html(), encoding="utf-8"))
    return out / "report.html"
