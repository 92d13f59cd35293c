"""A PNG comparing a suite's runs with and without code execution, once both reports exist."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeloop.eval.report import read_report, report_path, run_name

PANELS = (
    ("accuracy", "accuracy (%)", 100.0),
    ("mean_seconds", "seconds per item", 1.0),
    ("mean_tokens", "tokens per item", 1.0),
)
COLORS = {"no-code": "#9e9e9e", "code": "#1a73e8"}


def compare(out: Path, suite: str, model: str, split: str) -> Path | None:
    """Draw `<suite>-<model>-<split>-compare.png` when `out` holds both modes' reports; else None."""
    with_code = read_report(report_path(out, suite, model, split, "code"))
    without = read_report(report_path(out, suite, model, split, "no-code"))
    if with_code is None or without is None:
        return None
    return draw({"no-code": without, "code": with_code}, out / f"{run_name(suite, model, split)}-compare.png")


def draw(reports: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    # The object API with the Agg canvas: no pyplot, so no global figure state and no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.4), layout="constrained")
    FigureCanvasAgg(figure)
    modes = list(reports)
    for axes, (key, label, scale) in zip(figure.subplots(1, len(PANELS)), PANELS, strict=True):
        values = [float(reports[mode]["summary"][key]) * scale for mode in modes]
        bars = axes.bar(modes, values, color=[COLORS.get(mode, "#555555") for mode in modes])
        axes.bar_label(bars, fmt="%.1f" if scale == 100.0 else "%.3g")
        axes.set_title(label)
        axes.spines[["top", "right"]].set_visible(False)
        if key == "accuracy":
            axes.set_ylim(0, 100)
    first = next(iter(reports.values()))
    counts = ", ".join(f"{mode} n={reports[mode]['summary']['items']}" for mode in modes)
    figure.suptitle(f"{first['suite']} · {first['model']} · {first['split']} split ({counts})")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
