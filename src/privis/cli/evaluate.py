"""`privis eval text|faces|plates`: recall and precision on labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from privis import __version__
from privis.cli.core import EXIT_SOME_FAILED, eval_app, guard, progress_iter, shown
from privis.cli.options import (
    MaskPadOpt,
    MaskScaleOpt,
    Ocr,
    OcrOpt,
    Shape,
    ShapeOpt,
    SmallFaces,
    SmallFacesOpt,
    ThresholdOpt,
    parse_color,
)
from privis.detect.plate_net import PLATE_NET_THRESHOLD
from privis.errors import PrivisError


@eval_app.command("text")
@guard
def eval_text(
    data: Annotated[
        str, typer.Option("--data", help="Presidio's test images (docs_presidio), or 'presidio'.")
    ] = "presidio",
    ocr: OcrOpt = Ocr.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write the table and JSON here.")] = None,
) -> None:
    """Recall and precision of text redaction: Presidio's expectations and a rendered form."""
    from privis.audit.text_eval import evaluate_text, form_case, presidio_cases
    from privis.datasets import resolve_dataset
    from privis.detect import create_detector

    cases = [*presidio_cases(resolve_dataset(data)), form_case()]
    engine = (ocr or Ocr.auto).value
    report = {"ocr": engine, **evaluate_text(cases, create_detector("text-pii", ocr=engine))}
    lines = [
        f"recall {report['recall']}, precision {report['precision']}, "
        f"negatives untouched: {report['untouched_negatives']} (ocr: {engine})",
        "",
        "| case | labelled boxes | redaction boxes | recall | precision | missed |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in report["cases"]:
        cells = [r["case"], r["labelled"], r["redacted_boxes"], r["recall"], r["precision"], ", ".join(r["missed"])]
        lines.append("| " + " | ".join("-" if c in (None, "") else str(c) for c in cells) + " |")
    table = "\n".join(lines)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "text_eval.md").write_text(table + "\n")
        (out_dir / "text_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(json.dumps(report) if as_json else table)


OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--outputs", help="Score these already-anonymized files (same relative paths) instead of running privis."
    ),
]

EvalFillOpt = Annotated[
    str, typer.Option("--fill-color", help="With --outputs: the colour that marks obfuscated pixels.")
]

ImagesOpt = Annotated[Path | None, typer.Option("--images", help="Folder the CSV's image paths are relative to.")]

NegativesOpt = Annotated[
    Path | None,
    typer.Option("--negatives", help="A folder of images holding nothing to find: every region there is false."),
]

NegativeOutputsOpt = Annotated[
    Path | None,
    typer.Option("--negative-outputs", help="With --outputs: the other tool's outputs for --negatives."),
]

EvalJsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

EvalOutOpt = Annotated[Path | None, typer.Option("--out", help="Also write the table and JSON here.")]

EvalQuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@eval_app.command("faces")
@guard
def eval_faces(
    labels: Annotated[Path | None, typer.Option("--labels", help="CSV: image,x1,y1,x2,y2[,invalid|ignore].")] = None,
    images: ImagesOpt = None,
    outputs: OutputsOpt = None,
    negatives: NegativesOpt = None,
    negative_outputs: NegativeOutputsOpt = None,
    fill_color: EvalFillOpt = "255,0,255",
    threshold: ThresholdOpt = 0.12,
    small_faces: SmallFacesOpt = SmallFaces.auto,
    shape: ShapeOpt = Shape.box,
    mask_scale: MaskScaleOpt = 1.6,
    mask_pad: MaskPadOpt = 1.0,
    as_json: EvalJsonOpt = False,
    out_dir: EvalOutOpt = None,
    quiet: EvalQuietOpt = False,
) -> None:
    """Recall of face anonymization (a face counts when >= 90% of its pixels are hidden), and false regions.

    A hidden region touching no labelled face is false; with --negatives, so is every
    region on those images.
    """
    settings = {"threshold": threshold, "small_faces": small_faces.value, "shape": (shape or Shape.box).value,
                "mask_scale": mask_scale, "mask_pad": mask_pad}  # fmt: skip
    _eval_recall("face", labels, images, outputs, fill_color, settings, as_json, out_dir, quiet,
                 negatives=negatives, negative_outputs=negative_outputs)  # fmt: skip


@eval_app.command("plates")
@guard
def eval_plates(
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="CSV: image,x1,y1,x2,y2 with an optional region column (eu, us...)."),
    ] = None,
    images: ImagesOpt = None,
    outputs: OutputsOpt = None,
    negatives: NegativesOpt = None,
    negative_outputs: NegativeOutputsOpt = None,
    fill_color: EvalFillOpt = "255,0,255",
    threshold: Annotated[
        float, typer.Option("--threshold", "-t", min=0.01, max=0.99, help="Plate detector score threshold.")
    ] = PLATE_NET_THRESHOLD,
    shape: ShapeOpt = Shape.box,
    mask_scale: MaskScaleOpt = 1.6,
    mask_pad: MaskPadOpt = 1.0,
    as_json: EvalJsonOpt = False,
    out_dir: EvalOutOpt = None,
    quiet: EvalQuietOpt = False,
) -> None:
    """Recall of licence-plate anonymization, by plate height and region (a plate counts when >= 90% is hidden).

    Car photos often show plates nobody labelled, so a region touching no labelled plate
    counts as unknown; only regions on --negatives count as false.
    """
    settings = {
        "threshold": threshold,
        "shape": (shape or Shape.box).value,
        "mask_scale": mask_scale,
        "mask_pad": mask_pad,
    }
    _eval_recall("plate", labels, images, outputs, fill_color, settings, as_json, out_dir, quiet,
                 negatives=negatives, negative_outputs=negative_outputs, unlabelled="unknown")  # fmt: skip


def _eval_recall(
    target: str,
    labels: Path | None,
    images: Path | None,
    outputs: Path | None,
    fill_color: str,
    settings: dict[str, Any],
    as_json: bool,
    out_dir: Path | None,
    quiet: bool,
    *,
    negatives: Path | None = None,
    negative_outputs: Path | None = None,
    unlabelled: str = "false",
) -> None:
    """`eval faces` and `eval plates`: score privis (in memory, with `settings`) or another tool's files,
    on labelled images, on negatives, or both."""
    from privis.audit.detection_eval import evaluate, load_box_labels, negative_images, painted_outputs, pipeline_masks

    if labels is None and negatives is None:
        raise PrivisError("give --labels and --images (recall), --negatives (false regions), or both")
    if (labels is None) != (images is None):
        raise PrivisError("--labels and --images go together: the CSV and the folder its paths are relative to")
    files = outputs is not None or negative_outputs is not None  # scoring another tool's painted files
    if files and (labels is not None) != (outputs is not None):
        raise PrivisError("scoring files: --labels needs --outputs, and --outputs needs --labels")
    if files and (negatives is not None) != (negative_outputs is not None):
        raise PrivisError("scoring files: --negatives needs --negative-outputs (the same tool's outputs for them)")
    mask_for: Any = None
    negative_mask_for: Any = None
    if files:
        color = parse_color(fill_color)
        if images is not None and outputs is not None:
            mask_for = painted_outputs(images, outputs, color)
        if negatives is not None and negative_outputs is not None:
            negative_mask_for = painted_outputs(negatives, negative_outputs, color)
        system = {"tool": "outputs", "outputs": str(outputs or negative_outputs), "fill_color": list(color)}
    else:
        from privis.pipeline import Anonymizer

        options = {k: v for k, v in settings.items() if k not in ("mask_scale", "mask_pad")}
        anonymizer = Anonymizer(
            targets=[target], method="fill", mask_scale=settings["mask_scale"], mask_pad=settings["mask_pad"], **options
        )
        mask_for = negative_mask_for = pipeline_masks(anonymizer)
        system = {"tool": f"privis {__version__}", **settings}
    noun = f"{target}s"
    progress = None if quiet or as_json else progress_iter
    summary: dict[str, Any] = {"labels": None if labels is None else str(labels), **system}
    failed: list[str] = []
    if labels is not None and images is not None:
        report = evaluate(load_box_labels(labels), images, mask_for, progress=progress, noun=noun,
                          unlabelled=unlabelled, timed=not files)  # fmt: skip
        summary.update(report.summary())
        failed += report.failed
    if negatives is not None:
        negative = evaluate(negative_images(negatives), negatives, negative_mask_for, progress=progress, noun=noun,
                            timed=not files)  # fmt: skip
        summary["negatives"] = {"folder": str(negatives), "images": negative.images, **negative.precision(),
                                "failed": negative.failed}  # fmt: skip
        failed += [f"negatives: {item}" for item in negative.failed]
    table = _recall_table(summary, noun)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"eval_{noun}.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out_dir / f"eval_{noun}.md").write_text(table + "\n")
    typer.echo(json.dumps(summary) if as_json else table)
    if failed:
        for item in failed:
            typer.secho(f"privis: skipped {shown(item)}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(EXIT_SOME_FAILED)


def _recall_table(s: dict[str, Any], noun: str = "faces") -> str:
    one = noun.rstrip("s")
    if s.get("labels") is None:
        return _negatives_table(s["negatives"])
    lines = [
        f"{noun}: {s[noun]} in {s['images']} images; recall {s['recall']}; "
        f"false-obfuscated share {s['false_obfuscated_share']}",
        "",
        f"| {one} height (px) | {noun} | recall |",
        "|---|---:|---:|",
    ]
    kind = "false" if "false_regions" in s else "unknown"
    for name, b in s["by_height"].items():
        lines.append(f"| {name} | {b[noun]} | {'-' if b['recall'] is None else b['recall']} |")
    speed = f"; {s['ms_per_megapixel']} ms per megapixel (decode and detection)" if "ms_per_megapixel" in s else ""
    stray = f"{s[kind + '_regions']}, {s[kind + '_regions_per_image']} per image, {s[kind + '_regions_per_megapixel']}"
    lines += ["", f"regions hidden: {s['regions']}; touching no labelled {one} ({kind}): {stray} per MP{speed}"]
    if s.get("negatives"):
        lines += ["", _negatives_table(s["negatives"], s[kind + "_regions_by_height"], kind)]
    if s.get("by_region"):
        lines += ["", f"| region | {noun} | recall |", "|---|---:|---:|"]
        for name, b in s["by_region"].items():
            lines.append(f"| {name} | {b[noun]} | {b['recall']} |")
    return "\n".join(lines)


def _negatives_table(neg: dict[str, Any], labelled: dict[str, int] | None = None, kind: str = "") -> str:
    speed = f"; {neg['ms_per_megapixel']} ms per MP (decode and detection)" if "ms_per_megapixel" in neg else ""
    lines = [
        f"negatives ({neg['folder']}): {neg['images']} images, {neg['megapixels']} MP; false regions "
        f"{neg['false_regions']}: {neg['false_regions_per_image']} per image, {neg['false_regions_per_megapixel']} "
        f"per MP; false-obfuscated share {neg['false_obfuscated_share']}{speed}",
        "",
        "| region height (px) | false, on negatives |" + (f" {kind}, on labelled images |" if labelled else ""),
        "|---|---:|" + ("---:|" if labelled else ""),
    ]
    for name, n in neg["false_regions_by_height"].items():
        lines.append(f"| {name} | {n} |" + (f" {labelled[name]} |" if labelled else ""))
    return "\n".join(lines)
