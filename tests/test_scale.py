"""`privis anonymize --ray`: Ray Data batches, their manifest, object storage (issue 21).

One local Ray (loopback) serves the module; the runs compare every output byte with the
single-process batch's.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from privis.cli import app
from privis.errors import PrivisError
from privis.media.video import write_video
from privis.scale import storage
from privis.scale.manifest import Finished, Manifest

pytest.importorskip("ray.data", reason="the [scale] extra (ray[data]) is not installed")

runner = CliRunner()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six images (faces in most, JPEG and PNG, one in a subfolder) and one corrupt file."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()
    astro, coffee = data.astronaut(), data.coffee()
    Image.fromarray(astro).save(folder / "astro.jpg", quality=90)
    Image.fromarray(astro[::-1, ::-1].copy()).save(folder / "sub" / "flipped.png")
    Image.fromarray(astro[:300, 100:400]).save(folder / "crop.jpg", quality=85)
    Image.fromarray(coffee).save(folder / "coffee.jpg")  # no face: copied without metadata
    Image.fromarray(data.camera()).save(folder / "grey.png")
    Image.fromarray(astro).resize((256, 256)).save(folder / "small.webp")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    write_video(folder / "walk.mp4", (np.roll(astro[::2, ::2], 4 * i, axis=1) for i in range(40)), fps=10,
                keyframe_every=10, tone=440)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def single(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    res = runner.invoke(app, ["anonymize", str(photos), "-o", str(out), "-q"])
    assert res.exit_code == 1, res.output  # the broken file
    return out


@pytest.fixture(scope="module")
def local_ray():
    import ray

    yield
    ray.shutdown()


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}  # fmt: skip


def test_ray_writes_the_same_bytes_and_resumes(photos: Path, single: Path, tmp_path: Path, local_ray) -> None:
    out, audit = tmp_path / "out", tmp_path / "audit.jsonl"
    res = runner.invoke(app, ["anonymize", "--ray", "local", "--workers", "2", str(photos), "-o", str(out),
                              "--audit", str(audit), "-q"])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "broken.jpg" in res.output and "cannot read image" in res.output
    assert "7 file(s) done, 0 already finished" in res.output
    assert _outputs(out) == _outputs(single)
    assert (out / ".privis-manifest.sqlite").stat().st_mode & 0o777 == 0o600
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {r["file"] for r in records if "box" in r} >= {"astro.jpg", "sub/flipped.png", "crop.jpg", "walk.mp4"}
    assert len({r["frame"] for r in records if r["file"] == "walk.mp4"}) == 40
    assert any(r.get("event") == "failed" and r["file"] == "broken.jpg" for r in records)

    # A second run finds everything finished: nothing is rewritten.
    times = {p: p.stat().st_mtime_ns for p in out.rglob("*.*")}
    res = runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q", "--verify"])
    assert "0 file(s) done, 7 already finished" in res.output
    assert "verified 7 of 7 output(s)" in res.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.*") if p.name != ".privis-manifest.sqlite"} == {
        p: t for p, t in times.items() if p.name != ".privis-manifest.sqlite"}  # fmt: skip

    # --verify finds an output changed since it was written.
    (out / "crop.jpg").write_bytes(b"changed")
    res = runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q", "--verify"])
    assert res.exit_code == 1 and "changed since it was written" in res.output


def test_a_video_is_detected_in_pieces_and_comes_out_the_same(photos: Path, single: Path, tmp_path: Path,
                                                               local_ray) -> None:  # fmt: skip
    from privis.config import load_settings
    from privis.pipeline import Anonymizer
    from privis.scale.ray_batch import connect
    from privis.scale.video_split import Piece, anonymize_split, pieces

    assert pieces(photos / "walk.mp4", 4) == [Piece(i * 10240, (i + 1) * 10240 if i < 3 else None, 10 * i, 10)
                                              for i in range(4)]  # fmt: skip
    connect(None, 2)
    settings = load_settings()
    written, parts = anonymize_split(Anonymizer(settings=settings), photos / "walk.mp4", tmp_path / "walk.mp4",
                                     workers=2, settings_json=settings.model_dump_json())  # fmt: skip
    assert (written, parts) == (40, 4)
    assert (tmp_path / "walk.mp4").read_bytes() == (single / "walk.mp4").read_bytes()


def test_a_video_that_cannot_be_cut_is_detected_whole(tmp_path: Path) -> None:
    from privis.scale.video_split import pieces

    clip = write_video(tmp_path / "one.mp4", [np.zeros((32, 32, 3), np.uint8)] * 5, fps=5)  # one keyframe
    assert pieces(clip, 4) is None


def test_a_killed_run_redoes_only_what_it_had_not_recorded(photos: Path, single: Path, tmp_path: Path,
                                                            local_ray) -> None:  # fmt: skip
    out = tmp_path / "out"
    runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q"])
    book = out / ".privis-manifest.sqlite"
    # As after a kill between writing two outputs and recording them: on disk, not in the manifest.
    with sqlite3.connect(book) as db:
        db.execute("DELETE FROM files WHERE name IN ('astro.jpg', 'grey.png')")
        db.execute("DELETE FROM events WHERE name IN ('astro.jpg', 'grey.png')")
    (out / "grey.png").write_bytes(b"half")  # and one of them half-written
    res = runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q"])
    assert "2 file(s) done, 5 already finished" in res.output, res.output
    assert _outputs(out) == _outputs(single)
    with sqlite3.connect(book) as db:
        finishes = dict(db.execute("SELECT name, COUNT(*) FROM events WHERE event = 'finished' GROUP BY name"))
    assert sorted(finishes) == sorted(_outputs(single)) and set(finishes.values()) == {1}


def test_ray_refuses_an_output_it_did_not_write(photos: Path, tmp_path: Path, local_ray) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "astro.jpg").write_bytes(b"the user's own file")
    res = runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q"])
    assert res.exit_code == 1 and "exists; pass --overwrite" in res.output
    assert (out / "astro.jpg").read_bytes() == b"the user's own file"


def test_other_settings_do_not_resume(photos: Path, tmp_path: Path, local_ray) -> None:
    out = tmp_path / "out"
    runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q"])
    res = runner.invoke(app, ["anonymize", "--ray", "local", str(photos), "-o", str(out), "-q", "--method", "fill"])
    assert res.exit_code == 2 and "other settings" in res.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    """A local S3 server (moto) on loopback, with credentials that reach only it."""
    pytest.importorskip("moto", reason="moto (a dev dependency) is not installed")
    port = _free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the moto S3 server did not start")
            time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                             "AWS_ENDPOINT_URL")}  # fmt: skip
    os.environ.update(env, AWS_ENDPOINT_URL=endpoint)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="frames")
    yield endpoint
    server.kill()
    server.wait()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_storage_on_s3(s3: str) -> None:
    storage.write_bytes("s3://frames/t/a/b.bin", b"hello")
    assert storage.read_bytes("s3://frames/t/a/b.bin") == b"hello"
    with pytest.raises(PrivisError, match="exists"):
        storage.write_bytes("s3://frames/t/a/b.bin", b"again")
    assert [e.rel for e in storage.listing("s3://frames/t")] == ["a/b.bin"]
    assert storage.stat("s3://frames/t/a/none") is None
    with pytest.raises(PrivisError, match="no such"):
        storage.listing("s3://frames/nothing-here")


def test_ray_from_and_to_s3(photos: Path, single: Path, s3: str, tmp_path: Path, local_ray) -> None:
    for p in photos.rglob("*"):
        if p.is_file() and p.suffix != ".mp4":
            storage.write_bytes(f"s3://frames/in/{p.relative_to(photos).as_posix()}", p.read_bytes())
    book = tmp_path / "manifest.sqlite"
    res = runner.invoke(app, ["anonymize", "--ray", "local", "s3://frames/in", "-o", "s3://frames/out",
                              "--manifest", str(book), "-q", "--verify"])  # fmt: skip
    assert "6 file(s) done" in res.output and "verified 6 of 6" in res.output, res.output
    got = {e.rel: storage.read_bytes(e.location) for e in storage.listing("s3://frames/out")}
    assert got == {k: v for k, v in _outputs(single).items() if not k.endswith(".mp4")}


def test_local_ray_listens_on_loopback_only(local_ray) -> None:
    from privis.scale.ray_batch import connect

    connect(None, 1)
    pids = {int(p) for p in os.listdir("/proc") if p.isdigit() and _is_ray(int(p))}
    assert pids, "no Ray process found"
    listening = _listening(pids)
    assert listening and all(addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1") for addr in listening)


def _is_ray(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(name in cmd for name in (b"raylet", b"gcs_server", b"ray::", b"ray/_private"))


def _listening(pids: set[int]) -> set[str]:
    """Local addresses of the listening TCP sockets held by `pids` (from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(cols[1].split(":")[0])
            words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]  # each 32-bit word is little-endian
            packed = b"".join(words)
            found.add(socket.inet_ntop(socket.AF_INET if width == 4 else socket.AF_INET6, packed))
    return {a.removeprefix("::ffff:") if a.startswith("::ffff:127.") else a for a in found}


def test_an_unreachable_cluster_is_a_clear_error(photos: Path, tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    start = time.monotonic()
    res = runner.invoke(app, ["anonymize", "--ray", f"127.0.0.1:{port}", str(photos), "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2 and f"cannot reach the Ray cluster at 127.0.0.1:{port}" in res.output
    assert "Traceback" not in res.output and time.monotonic() - start < 20


def test_manifest_refuses_other_settings_and_keeps_finishes(tmp_path: Path) -> None:
    book = Manifest(tmp_path / "m.sqlite", {"method": "blur"})
    run = book.start_run(workers=1)
    book.claim(["/out/a.jpg"])
    book.record([Finished("a.jpg", "/in/a.jpg", 3, 7, "aa", "/out/a.jpg", "bb", 2, run)])
    assert book.claimed("/out/a.jpg") and not book.claimed("/out/b.jpg")
    assert book.finishes() == {"a.jpg": 1}
    book.close()
    with pytest.raises(PrivisError, match="other settings"):
        Manifest(tmp_path / "m.sqlite", {"method": "fill"})
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(PrivisError, match="not a privis manifest"):
        Manifest(tmp_path / "junk.sqlite", {})


def test_storage_on_local_folders(tmp_path: Path) -> None:
    storage.write_bytes(str(tmp_path / "x" / "a.bin"), b"1")
    storage.write_bytes(str(tmp_path / "x" / ".hidden"), b"2")
    assert [e.rel for e in storage.listing(str(tmp_path / "x"))] == ["a.bin"]
    assert (tmp_path / "x" / "a.bin").stat().st_mode & 0o777 == 0o600
    with pytest.raises(PrivisError, match="exists"):
        storage.write_bytes(str(tmp_path / "x" / "a.bin"), b"3")
    with pytest.raises(PrivisError, match="no such file"):
        storage.read_bytes(str(tmp_path / "none"))
    assert np.frombuffer(storage.read_bytes(str(tmp_path / "x" / "a.bin")), np.uint8).tolist() == [49]
