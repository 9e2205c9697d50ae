"""`privis anonymize --ray`: the same bytes as one process, resumable after kill -9, and its speed (issue 21).

Builds `--images` (2000) images from the shared photos (`faces_afw`, `plates_openalpr`,
`faces_masks`): a random crop of 55-100 % of each side, every other one mirrored, at most
640 px on the long side, four in five JPEG (quality 90) and one in five PNG, in folders of
100. Then, on this machine:

1. `privis anonymize SET -o single` (one process), `--ray --workers 1` and `--ray --workers 2`
   (a local Ray on loopback): wall time and images per second, Ray's start and model loading
   included. Every output file of the Ray runs is hashed against the single-process one.
2. A `--ray --workers 2` run killed with SIGKILL (its whole process group: the driver and the
   local Ray) once the manifest holds `--kill-at` of the files, then run again: the manifest
   must show every file finished exactly once, none missing, and the outputs must hash as
   the single-process ones.
3. One 1080p video (`--video-seconds`, a keyframe every 2 s, AAC) on one process and on Ray
   with 2 workers: frames, their times, the audio packets and the whole file, hashed.
4. With `--components`, the costs the scaling model (docs/scaling.md) rests on, each alone.

Usage::

    python benchmarks/scale.py [--images 2000] [--kill-at 0.4] [--work DIR] [--json] [--out benchmarks/results]
    python benchmarks/scale.py --skip-images --components --work DIR --out benchmarks/results  # scale_video.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_DATA, PRIVIS, emit, markdown_table
from PIL import Image

SOURCES = ("faces_afw", "plates_openalpr", "faces_masks")
MANIFEST = ".privis-manifest.sqlite"


def build_set(folder: Path, count: int, data: Path, seed: int = 21) -> int:
    """`count` crops and flips of the shared photos under `folder`; returns how many were made."""
    photos = sorted(p for s in SOURCES for p in (data / s).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        sys.exit(f"no photos under {data}: set PRIVIS_DATA")
    rng = np.random.default_rng(seed)
    cache: dict[Path, Image.Image] = {}
    for i in range(count):
        src = photos[i % len(photos)]
        im = cache.get(src) or cache.setdefault(src, Image.open(src).convert("RGB"))
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = im.crop((x, y, x + cw, y + ch))
        if i % 2:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crop.thumbnail((640, 640))
        sub = folder / f"part{i // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 5 == 4:
            crop.save(sub / f"img{i:05d}.png")
        else:
            crop.save(sub / f"img{i:05d}.jpg", quality=90)
    return count


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every output file under `folder` (the manifest left out), by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(MANIFEST)}  # fmt: skip


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall


def finished(manifest: Path) -> int:
    if not manifest.exists():
        return 0
    try:
        db = sqlite3.connect(manifest, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def killed_and_resumed(work: Path, images: Path, count: int, kill_at: float) -> dict:
    """A 2-worker Ray run killed with SIGKILL part-way, then run again."""
    out = work / "resumed"
    manifest = out / MANIFEST
    cmd = [*PRIVIS, "anonymize", "--ray", "--workers", "2", str(images), "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None and finished(manifest) < kill_at * count:
        time.sleep(0.2)
    at_kill = finished(manifest)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started, as a power cut would
    proc.wait()
    time.sleep(2)
    subprocess.run(["pkill", "-9", "-f", "ray::|raylet|gcs_server"], check=False)  # any Ray left without a parent
    written = sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    wall = timed(cmd)
    db = sqlite3.connect(manifest)
    per_file = dict(db.execute("SELECT name, COUNT(*) FROM events WHERE event = 'finished' GROUP BY name"))
    runs = dict(db.execute("SELECT run, COUNT(*) FROM events WHERE event = 'finished' GROUP BY run"))
    db.close()
    return {"finished_at_kill": at_kill, "outputs_on_disk_at_kill": written, "resume_wall_s": round(wall, 1),
            "finished_per_run": runs, "files_in_manifest": len(per_file),
            "files_finished_twice": sum(1 for n in per_file.values() if n > 1),
            "redone_after_kill": written - at_kill, "out": out}  # fmt: skip


def build_video(path: Path, data: Path, seconds: int, fps: int = 25) -> Path:
    """A 1920x1080 clip panning over a group photo (`faces_afw`, the widest one), a keyframe
    every 2 s as cameras write them, and a 440 Hz AAC track."""
    from privis.media.video import write_video

    photos = sorted((data / "faces_afw").rglob("*.jpg"), key=lambda p: -Image.open(p).size[0])
    im = Image.open(photos[0]).convert("RGB")
    scale = max(2400 / im.width, 1200 / im.height)
    big = np.asarray(im.resize((int(im.width * scale), int(im.height * scale))))
    n = seconds * fps
    span_x, span_y = big.shape[1] - 1920, big.shape[0] - 1080

    def frames():
        for i in range(n):
            x, y = int(span_x * i / max(1, n - 1)), int(span_y * i / max(1, n - 1))
            yield big[y : y + 1080, x : x + 1920]

    return write_video(path, frames(), fps=fps, keyframe_every=2 * fps, tone=440)


def probe(path: Path) -> dict:
    """Frames, their times and the audio packets' hash of a video file."""
    import av

    with av.open(str(path)) as c:
        pts = [int(f.pts) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = hashlib.sha256(b"".join(bytes(p) for p in c.demux(audio=0) if p.size)).hexdigest()
    return {"frames": len(pts), "pts_sha256": hashlib.sha256(str(pts).encode()).hexdigest()[:16],
            "audio_sha256": audio[:16], "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}  # fmt: skip


def one_video(work: Path, data: Path, seconds: int) -> dict:
    """One 1080p video on one process and split over 2 Ray workers."""
    clip = work / "video" / "street_1080p.mp4"
    if not clip.exists():
        clip.parent.mkdir(parents=True, exist_ok=True)
        build_video(clip, data, seconds)
    out = {}
    for name, extra in (("1 process", []), ("Ray, 2 workers", ["--ray", "--workers", "2"])):
        dst = work / "video" / name.replace(",", "").replace(" ", "_") / "street_1080p.mp4"
        wall = timed([*PRIVIS, "anonymize", *extra, str(clip), "-o", str(dst), "-q"])
        out[name] = {"wall_s": round(wall, 1), **probe(dst)}
    out["source"] = probe(clip)
    return out


def components(work: Path, images: Path, clip: Path | None) -> dict:
    """The costs the scaling model rests on, each measured alone on this machine."""
    import statistics

    from privis.config import load_settings
    from privis.media.image import read_image
    from privis.pipeline import Anonymizer
    from privis.scale.manifest import Finished, Manifest

    out: dict = {}
    one = work / "one"
    if not one.exists():
        one.mkdir()
        first = sorted(images.rglob("*.jpg"))[0]
        (one / first.name).write_bytes(first.read_bytes())
    out["ray_fixed_cost_s"] = round(timed([*PRIVIS, "anonymize", "--ray", "--workers", "2", str(one), "-o",
                                           str(work / "one_out"), "-q", "--overwrite"]), 1)  # fmt: skip
    out["process_fixed_cost_s"] = round(timed([*PRIVIS, "anonymize", str(one), "-o", str(work / "one_out1"), "-q",
                                               "--overwrite"]), 1)  # fmt: skip
    files = sorted(images.rglob("*.*"))[:60]
    loaded = [read_image(p) for p in files]
    settings = load_settings()
    t0 = time.perf_counter()
    anon = Anonymizer(settings=settings)
    out["model_load_s"] = round(time.perf_counter() - t0, 2)
    for name, a in (("two_threads", anon), ("one_thread", anon.single_threaded())):
        a.process(loaded[0].rgb, loaded[0].pixels)
        start = time.perf_counter()
        for im in loaded:
            a.process(im.rgb, im.pixels)
        out[f"detect_hide_ms_per_image_{name}"] = round(1000 * (time.perf_counter() - start) / len(loaded), 1)
    sizes = [p.stat().st_size for p in images.rglob("*.*")]
    out["input_kb_mean"] = round(statistics.mean(sizes) / 1024, 1)
    done = work / "1_process"
    if done.exists():
        out["output_kb_mean"] = round(statistics.mean(p.stat().st_size for p in done.rglob("*.*")) / 1024, 1)
    book = Manifest(work / "bench-manifest.sqlite", {"bench": time.time()})
    run = book.start_run()
    rows = [Finished(f"f{i}", f"/in/f{i}", 1, 1, "a" * 64, f"/out/f{i}", "b" * 64, 1, run) for i in range(4000)]
    start = time.perf_counter()
    for i in range(0, len(rows), 8):
        book.record(rows[i : i + 8])
    out["manifest_rows_per_s_in_batches_of_8"] = round(len(rows) / (time.perf_counter() - start))
    book.close()
    if clip is not None:
        out.update(video_components(clip, settings))
    return out


def video_components(clip: Path, settings) -> dict:  # noqa: ANN001
    """1080p: detection per frame on one core, and the one-pass finish (decode, track, paint,
    encode) from detections found beforehand, in frames per second."""
    from privis.pipeline import Anonymizer
    from privis.scale.video_split import detect_piece, merged, pieces, pieces_whole

    video = Anonymizer(settings=settings).for_media("video")
    parts = pieces(clip, 2) or [pieces_whole(clip)]
    start = time.perf_counter()
    found = [detect_piece(video.single_threaded(), clip, p) for p in parts]
    detect_s = time.perf_counter() - start
    frames = sum(p.count for p in parts)
    out_path = clip.with_name("finish_only.mp4")
    start = time.perf_counter()
    video.video(clip, out_path, overwrite=True, detections=merged(found))
    finish_s = time.perf_counter() - start
    return {"video_frames": frames, "video_detect_fps_one_core": round(frames / detect_s, 2),
            "video_finish_fps": round(frames / finish_s, 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--kill-at", type=float, default=0.4, help="share of files finished when the run is killed")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--video-seconds", type=int, default=12, help="length of the 1080p video (0: no video)")
    ap.add_argument("--skip-images", action="store_true", help="only the video")
    ap.add_argument("--components", action="store_true", help="also the costs the scaling model rests on")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="privis-scale-"))
    images = work / "images"
    if not images.exists():
        build_set(images, args.images, args.data)
    count = sum(1 for p in images.rglob("*") if p.is_file())
    report: dict = {"images": count, "runs": {}}
    table = ""
    if not args.skip_images:
        report, table = images_and_resume(work, images, count, args.kill_at)
    if args.video_seconds:
        video = one_video(work, args.data, args.video_seconds)
        report["video_1080p"] = video
        rows = [[k, v.get("wall_s", ""), v["frames"], v["pts_sha256"], v["audio_sha256"], v["file_sha256"]]
                for k, v in video.items()]  # fmt: skip
        table += f"\n\nOne {args.video_seconds} s 1080p video (keyframe every 2 s, AAC):\n\n" + markdown_table(
            ["run", "wall s", "frames", "frame times (hash)", "audio packets (hash)", "file (hash)"], rows
        )
    if args.components:
        clip = work / "video" / "street_1080p.mp4"
        report["components"] = components(work, images, clip if clip.exists() else None)
        table += "\n\nCosts measured alone:\n\n" + markdown_table(
            ["cost", "value"], [[k, v] for k, v in report["components"].items()]
        )
    emit("scale_video" if args.skip_images else "scale", report, table, args.out, args.json)


def images_and_resume(work: Path, images: Path, count: int, kill_at: float) -> tuple[dict, str]:
    """The three runs over the image set, then the killed and resumed one."""
    runs = {
        "1 process": [],
        "Ray, 1 worker": ["--ray", "--workers", "1"],
        "Ray, 2 workers": ["--ray", "--workers", "2"],
    }
    rows, report = [], {"images": count, "runs": {}}
    reference: dict[str, str] = {}
    for name, extra in runs.items():
        out = work / name.replace(",", "").replace(" ", "_")
        wall = timed([*PRIVIS, "anonymize", *extra, str(images), "-o", str(out), "-q"])
        digest = hashes(out)
        if not reference:
            reference = digest
        same = sum(1 for k, v in reference.items() if digest.get(k) == v)
        report["runs"][name] = {"wall_s": round(wall, 1), "images_per_s": round(count / wall, 2),
                                "outputs": len(digest), "identical_to_1_process": same}  # fmt: skip
        rows.append([name, f"{wall:.0f}", f"{count / wall:.2f}", len(digest), f"{same} of {len(reference)}"])
    resumed = killed_and_resumed(work, images, count, kill_at)
    digest = hashes(resumed.pop("out"))
    resumed["identical_to_1_process"] = sum(1 for k, v in reference.items() if digest.get(k) == v)
    report["killed_and_resumed"] = resumed
    table = markdown_table(["run", "wall s", "images/s", "outputs", "identical to 1 process"], rows)
    table += (f"\n\nKilled (SIGKILL to the driver and its local Ray) with {resumed['finished_at_kill']} of {count} "
              f"files in the manifest and {resumed['outputs_on_disk_at_kill']} outputs on disk; the rerun took "
              f"{resumed['resume_wall_s']} s. Finished per run: {resumed['finished_per_run']}; files in the manifest: "
              f"{resumed['files_in_manifest']}; finished twice: {resumed['files_finished_twice']}; outputs identical "
              f"to 1 process: {resumed['identical_to_1_process']} of {len(reference)}.")  # fmt: skip
    return report, table


if __name__ == "__main__":
    main()
