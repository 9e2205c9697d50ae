"""Issue 7 on intel_one-by-one-person-detection.mp4: people counted across a line, and no frame kept.

My own count, made by watching the video (every 10th frame tiled into contact sheets,
then the frames around each arrival and departure one by one): six people, one at a
time. Each comes in from the bottom edge left of centre, walks up to the table in the
middle, reads, then turns and walks out past the right of the table towards the
bottom-right corner:

1. a woman in a grey cardigan, fair hair (frames ~60-195, leaves ~185-195)
2. a man in black (~230-450, leaves ~435-450)
3. a woman with long fair hair, black top (~510-695, leaves ~685-695)
4. a man in a black T-shirt (~750-870, leaves ~855-870)
5. a woman with dark hair, grey top (~940-1200, leaves ~1185-1200)
6. a man in a grey shirt (~1240-1390, leaves ~1350-1390)

A vertical line at x = 560, drawn top to bottom, lies between the table and the exit,
so each of the six crosses it once, left to right (forward), and nobody crosses back.
So do lines at x = 400 and 500 (through and past the table) and 650 and 700, which people
cross as they leave through the right edge: their boxes are cut by it before the
anchor gets there, and the counter carries them out (issue 19). A line at x = 450 runs
where they stand at the table, their feet on it for up to 25 s: each goes past it once,
and swaying over it is no crossing (before `CountConfig.recross_seconds`: 8 / 2).

People come in from below the frame, head first. Where each head came into view (frames
60, 227, 502, 745, 921 and 1234, one by one): x = 260, 217, 192, 230, 398 and 184. So five
cross x = 300, the fifth person coming in right of it; the counter places them by carrying
their head back to the bottom edge. A line at x = 200 is crossed by two, and is not held
here: those heads come in within 20 px of it, closer than the counter can place them
(README, "Counting").
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

VIDEO = "videos/intel_one-by-one-person-detection.mp4"
MY_COUNT = 6
LINES = {"exit": 560, "x300": 300, "x400": 400, "x450": 450, "x500": 500, "x650": 650, "x700": 700}
CROSSED_BY = {"x300": 5}  # my count where it is not all six
MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".mp4", ".mkv", ".avi",
                  ".mov", ".webm", ".h264", ".y4m", ".raw", ".ppm", ".npy"}  # fmt: skip


def _files(root: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _is_media(path: Path) -> bool:
    if path.suffix.lower() in MEDIA_SUFFIXES:
        return True
    try:
        with Image.open(path):
            return True
    except Exception:  # noqa: BLE001 - not an image, which is the point
        pass
    head = path.read_bytes()[:12]
    return head[4:8] == b"ftyp" or head.startswith(b"\x1aE\xdf\xa3")  # MP4/MOV or Matroska/WebM


def _assert_my_counts(crossings: dict) -> None:
    """Each line's forward count within one of my count there and of six (issue 19), and at most one backward."""
    for name in LINES:
        forward, truth = crossings[name]["forward"], CROSSED_BY.get(name, MY_COUNT)
        assert abs(forward - truth) <= 1 and abs(forward - MY_COUNT) <= 1, (name, crossings)
        assert crossings[name]["backward"] <= 1, (name, crossings)


def test_stream_counts_the_people_crossing_a_line_and_writes_no_frame(data_root, tmp_path):
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    before = {**_files(work), **_files(tmp)}
    env = {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
    lines = [arg for name, x in LINES.items() for arg in ("--line", f"{name}={x},0,{x},432")]
    cmd = [sys.executable, "-m", "privis.cli", "stream", str(data_root / VIDEO), "--count", *lines,
           "--as-fast-as-possible", "--json"]  # fmt: skip
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["frames"] == 1394 and report["dropped"] == 0
    crossings = report["counts"]["lines"]
    _assert_my_counts(crossings)

    after = {**_files(work), **_files(tmp)}
    new = [p for p in after if p not in before or after[p] != before.get(p)]
    assert [p.name for p in new] == ["privis-counts.sqlite"], new
    assert not [p for p in new if _is_media(p)]

    counts = subprocess.run([sys.executable, "-m", "privis.cli", "counts", "--json"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert counts.returncode == 0, counts.stderr
    assert json.loads(counts.stdout)["lines"] == crossings


def test_the_counts_hold_with_two_in_three_frames_dropped(data_root):
    # Issue 19: the count does not depend on pacing. A live stream that falls behind drops
    # whichever frames arrive while one is processed, differently on every run; here every
    # third frame alone is kept, at its own time, the same on every run.
    from privis.analytics.counting import CountConfig, parse_line
    from privis.audit.walkers import count_frames
    from privis.media.video import read_frames

    lines = tuple(parse_line(f"{name}={x},0,{x},432") for name, x in LINES.items())
    _assert_my_counts(count_frames(read_frames(data_root / VIDEO), CountConfig(lines=lines), step=3)["lines"])
