"""An experiment's result as a small report a student can hand in: report.md, a self-contained
report.html (the PNGs inlined), result.json and the PNG figures, each written atomically.

Every number in it comes from the result; the claims' verdicts say "holds", "contradicted by
this run" or "inconclusive (within the noise)".
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from . import drawing
from .model import VIEWS, Experiment, ExperimentResult, Finding

VERDICT_WORDS = {True: "holds", False: "contradicted by this run", None: "inconclusive (within the noise)"}
FIGURE_WORDS = {
    "val_recon_mse": "validation MSE", "train_recon_mse": "training MSE", "generalisation_gap": "val - train MSE",
    "params": "parameters", "seconds": "seconds", "samples_per_s": "samples/s", "epochs": "epochs",
    "diverged": "diverged (NaN guard)",
}


def figure_words(name: str) -> str:
    return FIGURE_WORDS.get(name, name.replace("_", " "))


def verdict_words(finding: Finding) -> str:
    return VERDICT_WORDS[finding.holds]


def number(value) -> str:
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


def table_columns(experiment: Experiment, result: ExperimentResult) -> list[str]:
    """The experiment's figures, then "diverged" when an arm diverged."""
    columns = list(experiment.figures)
    if any(arm.figures.get("diverged") for arm in result.arms) and "diverged" not in columns:
        columns.append("diverged")
    return columns


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def draw_view(name: str, result: ExperimentResult):
    """The PIL image of one view, all arms together."""
    info = VIEWS[name]
    arms = result.arms
    if info.kind == "line":
        # A run the NaN guard stopped in its first epoch has no point to draw: its legend says why.
        series = [(a.label + (" (diverged)" if a.figures.get("diverged") else ""),
                   a.curves.get(f"{name}.x", list(range(1, len(a.curves[name]) + 1))), a.curves[name]) for a in arms]
        reference = None
        if info.reference:
            first = arms[0].curves
            reference = ("noisy input" if "noisy" in info.reference else info.reference,
                         first.get(f"{info.reference}.x", list(range(1, len(first[info.reference]) + 1))),
                         first[info.reference])
        return drawing.line_chart(series, info.title, info.x_label, info.y_label, info.log_y, reference)
    if info.kind == "bars":
        reference = (info.reference, float(arms[0].figures[info.reference])) if info.reference else None
        return drawing.bar_panels([(a.label, a.curves[name]) for a in arms], info.title, info.x_label,
                                  info.y_label, reference)
    if info.kind == "scatter":
        panels = [(a.label, a.curves[f"{name}.x"], a.curves[f"{name}.y"], a.curves.get(f"{name}.label")) for a in arms]
        return drawing.scatter_panels(panels, info.title, info.x_label, info.y_label,
                                      circle=1.0 if name == "code_plane" else None)
    panels = [(a.label, a.images[name], a.captions.get(name, [])) for a in arms if name in a.images]
    return drawing.image_grid(panels, info.title, info.columns)


def draw_figures(experiment: Experiment, result: ExperimentResult):
    """Each figure that differs between the arms as bars, one block each, two blocks a row (a figure
    every arm shares, such as rho, is in the table only; the validation error is always drawn)."""
    from PIL import Image

    labels = [a.label for a in result.arms]
    blocks = []
    for name in table_columns(experiment, result):
        values = [float(a.figures.get(name, math.nan)) for a in result.arms]
        if len(set(values)) > 1 or name == "val_recon_mse":
            blocks.append(drawing.figure_bars(figure_words(name), labels, values))
    rows = [blocks[i:i + 2] for i in range(0, len(blocks), 2)]
    out = Image.new("RGB", (2 * blocks[0].width, sum(r[0].height for r in rows)), "white")
    y = 0
    for row in rows:
        for k, block in enumerate(row):
            out.paste(block, (k * block.width, y))
        y += row[0].height
    return out


def pictures(experiment: Experiment, result: ExperimentResult) -> dict[str, bytes]:
    """file name -> PNG bytes: figures.png, then one per view."""
    out = {"figures.png": png_bytes(draw_figures(experiment, result))}
    for name in experiment.views:
        out[f"{name}.png"] = png_bytes(draw_view(name, result))
    return out


def result_json(experiment: Experiment, result: ExperimentResult) -> dict:
    data = result.to_json()
    data.update(title=experiment.title, question=experiment.question, dataset=experiment.dataset)
    for arm_json, arm in zip(data["arms"], result.arms):
        arm_json["message"] = arm.message
        arm_json["curves"] = {k: [v if math.isfinite(v) else None for v in map(float, values)]
                              for k, values in arm.curves.items()}
    return data


def markdown(experiment: Experiment, result: ExperimentResult, files: list[str]) -> str:
    columns = table_columns(experiment, result)
    lines = [f"# {experiment.title}", "", f"**Question.** {experiment.question}", "", experiment.explanation, "",
             f"Dataset `{experiment.dataset}`, budget `{result.budget}`, seed {result.seed}. Every number below "
             f"was measured in this run; `seconds` and `samples/s` are wall-clock times.", "",
             "## Figures", "",
             "| arm | " + " | ".join(figure_words(c) for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for arm in result.arms:
        cells = [number(arm.figures.get(c, math.nan)) for c in columns]
        lines.append(f"| {md_escape(arm.label)} | " + " | ".join(cells) + " |")
    lines += ["", "## Findings", ""]
    for f in result.findings:
        lines.append(f"- **{md_escape(f.claim)}** ({verdict_words(f)}): {md_escape(f.evidence)}.")
    notes = [f"- {md_escape(a.label)}: {md_escape(a.message)}" for a in result.arms if a.message]
    if notes:
        lines += ["", "## What the trainer said", "", *notes]
    lines += ["", "## Pictures", ""]
    for name in files:
        title = VIEWS[name[:-4]].title if name[:-4] in VIEWS else "Every figure, arm by arm"
        lines += [f"![{md_escape(title)}]({name})", ""]
        captions = [f"- {md_escape(arm.label)}: {md_escape(c)}"
                    for arm in result.arms for c in arm.captions.get(name[:-4], [])]
        if captions:
            lines += [*captions, ""]
    return "\n".join(lines).rstrip() + "\n"


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
       "td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:.5em 0}"
       ".holds{color:#1a7f37}.contradicted{color:#c62828}.inconclusive{color:#8a6d00}")


def html_page(experiment: Experiment, result: ExperimentResult, images: dict[str, bytes]) -> str:
    e = html.escape
    columns = table_columns(experiment, result)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(experiment.title)}</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{e(experiment.title)}</h1>",
             f"<p><b>Question.</b> {e(experiment.question)}</p>"]
    parts += [f"<p>{e(p)}</p>" for p in experiment.explanation.split("\n\n")]
    parts.append(f"<p>Dataset <code>{e(experiment.dataset)}</code>, budget <code>{e(result.budget)}</code>, seed "
                 f"{result.seed}. Every number was measured in this run; seconds and samples/s are wall-clock.</p>")
    parts.append("<h2>Figures</h2><table><tr><th>arm</th>"
                 + "".join(f"<th>{e(figure_words(c))}</th>" for c in columns) + "</tr>")
    for arm in result.arms:
        parts.append(f"<tr><td>{e(arm.label)}</td>"
                     + "".join(f"<td>{e(number(arm.figures.get(c, math.nan)))}</td>" for c in columns) + "</tr>")
    parts.append("</table><h2>Findings</h2><ul>")
    for f in result.findings:
        css = {True: "holds", False: "contradicted", None: "inconclusive"}[f.holds]
        parts.append(f"<li><b>{e(f.claim)}</b> <span class='{css}'>({e(verdict_words(f))})</span>: "
                     f"{e(f.evidence)}.</li>")
    parts.append("</ul>")
    notes = [f"<li>{e(a.label)}: {e(a.message)}</li>" for a in result.arms if a.message]
    if notes:
        parts.append("<h2>What the trainer said</h2><ul>" + "".join(notes) + "</ul>")
    parts.append("<h2>Pictures</h2>")
    for name, data in images.items():
        title = VIEWS[name[:-4]].title if name[:-4] in VIEWS else "Every figure, arm by arm"
        parts.append(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>")
        captions = [f"{a.label}: {c}" for a in result.arms for c in a.captions.get(name[:-4], [])]
        if captions:
            parts.append("<figcaption><ul>" + "".join(f"<li>{e(c)}</li>" for c in captions) + "</ul></figcaption>")
        parts.append("</figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(result: ExperimentResult, experiment: Experiment, out_dir) -> dict[str, Path]:
    """Write report.md, report.html, result.json and the PNGs into ``out_dir`` (made if missing);
    returns file name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = pictures(experiment, result)
    written: dict[str, Path] = {}
    for name, data in images.items():
        atomic_write_bytes(out / name, data)
        written[name] = out / name
    texts = {
        "result.json": json.dumps(result_json(experiment, result), indent=1, allow_nan=False) + "\n",
        "report.md": markdown(experiment, result, list(images)),
        "report.html": html_page(experiment, result, images),
    }
    for name, text in texts.items():
        atomic_write_text(out / name, text)
        written[name] = out / name
    return written
