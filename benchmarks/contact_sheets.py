"""Contact sheets of `privis anonymize --targets face,plate,person` on the people and car videos.

Runs the same command a user types on intel_one-by-one-person-detection.mp4 and
intel_car-detection.mp4 (../shared/data/videos), everything painted magenta so that a
miss stands out, and tiles 16 evenly spaced frames of each output into one PNG. Also
counts, per label, the frames in which something was hidden (from the audit log) and
the end-to-end frames per second. The videos have no labels: the sheets are read by eye
and the README's account of what is missed comes from them.

Usage::

    python benchmarks/contact_sheets.py [--json] [--out benchmarks/results]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
from _common import PAINT, PRIVIS, emit, markdown_table, video_args
from PIL import Image, ImageDraw, ImageFont

VIDEOS = ("intel_one-by-one-person-detection.mp4", "intel_car-detection.mp4")
TARGETS = "face,plate,person"


def contact_sheet(video: Path, dst: Path, *, count: int = 16, columns: int = 4, width: int = 384) -> list[int]:
    """Tile `count` evenly spaced frames of `video` into a PNG at `dst`; returns their indices."""
    with av.open(str(video)) as c:
        total = c.streams.video[0].frames or sum(1 for _ in c.decode(video=0))
    wanted = np.linspace(0, total - 1, count).round().astype(int).tolist()
    tiles = []
    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                img = frame.to_image()
                img = img.resize((width, round(img.height * width / img.width)))
                ImageDraw.Draw(img).text((6, 4), f"frame {i}", fill="yellow", font=ImageFont.load_default(size=16))
                tiles.append(img)
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * width, rows * tiles[0].height))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * width, (k // columns) * tile.height))
    dst.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dst)
    return wanted


def main() -> int:
    args = video_args(__doc__)
    sheets = (args.out or Path(tempfile.mkdtemp())) / "contact_sheets"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in VIDEOS:
            src, dst, log = args.data / name, Path(tmp) / name, Path(tmp) / f"{name}.jsonl"
            cmd = [*PRIVIS, "anonymize", str(src), "-o", str(dst), "--targets", TARGETS, *PAINT,
                   "--audit", str(log), "--quiet"]  # fmt: skip
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            seconds = time.perf_counter() - start
            with av.open(str(dst)) as c:
                frames = sum(1 for _ in c.decode(video=0))
            hidden: dict[str, set[int]] = defaultdict(set)
            for line in log.read_text().splitlines():
                record = json.loads(line)
                if "label" in record:
                    hidden[record["label"]].add(record["frame"])
            shown = contact_sheet(dst, sheets / f"{Path(name).stem}.png")
            rows.append({
                "video": name, "frames": frames, "seconds": round(seconds, 1), "fps": round(frames / seconds, 1),
                **{f"frames_with_{label}": len(hidden.get(label, ())) for label in TARGETS.split(",")},
                "sheet": str((sheets / f"{Path(name).stem}.png").relative_to(sheets.parent)), "sheet_frames": shown,
            })  # fmt: skip
            print(rows[-1], file=sys.stderr)
    table = markdown_table(
        ["video", "frames", "fps (end to end)", "frames with a face", "with a plate", "with a person", "sheet"],
        [[r["video"], r["frames"], r["fps"], r["frames_with_face"], r["frames_with_plate"], r["frames_with_person"],
          r["sheet"]] for r in rows],
    )  # fmt: skip
    emit("contact_sheets", {"command_targets": TARGETS, "videos": rows}, table, args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
