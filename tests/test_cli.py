import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from privis.cli import app

runner = CliRunner()


@pytest.fixture
def photo_tree(tmp_path, astronaut):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).save(src / "a.jpg", quality=95)
    Image.fromarray(astronaut).save(src / "sub" / "b.png")
    return src


def test_anonymize_mirrors_tree_and_writes_audit(photo_tree, tmp_path):
    out, audit = tmp_path / "out", tmp_path / "audit.jsonl"
    res = runner.invoke(
        app,
        [
            "anonymize",
            str(photo_tree),
            "-o",
            str(out),
            "--method",
            "fill",
            "--fill-color",
            "255,0,255",
            "--shape",
            "box",
            "--format",
            "png",
            "--audit",
            str(audit),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (out / "a.png").is_file() and (out / "sub" / "b.png").is_file()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {r["file"].rsplit("/", 1)[-1] for r in records} == {"a.jpg", "b.png"}
    assert all(set(r) == {"file", "label", "box", "score", "method", "params"} for r in records)
    painted = np.all(np.asarray(Image.open(out / "a.png")) == [255, 0, 255], axis=-1)
    assert painted.sum() > 5000


def test_bad_file_is_reported_and_batch_goes_on(photo_tree, tmp_path):
    (photo_tree / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(out), "-q"])
    assert res.exit_code == 1
    assert "broken.jpg" in res.output and "cannot read image" in res.output
    assert (out / "a.jpg").is_file() and (out / "sub" / "b.png").is_file()
    assert not (out / "broken.jpg").exists()


def test_existing_output_is_kept_unless_overwrite(photo_tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"keep me")
    res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(out), "-q"])
    assert res.exit_code == 1 and "--overwrite" in res.output
    assert (out / "a.jpg").read_bytes() == b"keep me"
    assert (out / "sub" / "b.png").is_file()
    res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(out), "-q", "--overwrite"])
    assert res.exit_code == 0 and (out / "a.jpg").read_bytes() != b"keep me"


def test_detect_only_writes_no_images(photo_tree, tmp_path):
    audit = tmp_path / "d.jsonl"
    res = runner.invoke(
        app, ["anonymize", str(photo_tree), "-o", str(tmp_path / "out"), "--detect-only", "--audit", str(audit), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "out").exists()
    assert len(audit.read_text().splitlines()) >= 2


def test_missing_path_and_bad_options_are_one_line_errors(tmp_path):
    res = runner.invoke(app, ["anonymize", str(tmp_path / "nope"), "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 1 and "no such file or folder" in res.output
    res = runner.invoke(app, ["anonymize", str(tmp_path), "--method", "fill", "--fill-color", "red"])
    assert res.exit_code == 2 and "--fill-color must be R,G,B" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["anonymize", str(tmp_path), "--detect-only"])
    assert res.exit_code == 2 and "--audit" in res.output


def test_exit_codes_say_usage_some_failed_or_runtime(photo_tree, tmp_path, monkeypatch):
    from privis.detect import plate_net
    from privis.errors import ModelNotFoundError

    res = runner.invoke(app, ["anonymize", str(photo_tree), "--method", "smudge"])
    assert res.exit_code == 2 and "unknown obfuscation method 'smudge'" in res.output  # usage
    (photo_tree / "broken.png").write_bytes(b"not a png")
    res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 1  # some inputs failed, the rest done

    def missing(name: str = "plate_net.onnx"):  # noqa: ANN202
        raise ModelNotFoundError(f"the plate model {name} is missing: reinstall privis")

    monkeypatch.setattr(plate_net, "model_path", missing)
    res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(tmp_path / "o2"), "--targets", "plate"])
    assert res.exit_code == 3 and "reinstall privis" in res.output  # a runtime failure, not the user's doing


def test_single_file_default_output_name(tmp_path, astronaut):
    src = tmp_path / "photo.png"
    Image.fromarray(astronaut).save(src)
    res = runner.invoke(app, ["anonymize", str(src), "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "photo_anonymized.png").is_file()


def test_rgba_grey_and_16bit_inputs(tmp_path, astronaut):
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 200, np.uint8)])
    Image.fromarray(rgba).save(src / "rgba.png")
    Image.fromarray(astronaut.mean(axis=2).astype(np.uint8)).save(src / "grey.png")
    Image.fromarray((astronaut.mean(axis=2) * 256).astype(np.uint16)).save(src / "deep.png")
    out = tmp_path / "out"
    res = runner.invoke(app, ["anonymize", str(src), "-o", str(out), "-q", "--method", "pixelate"])
    assert res.exit_code == 0, res.output
    assert Image.open(out / "rgba.png").mode == "RGBA"
    assert Image.open(out / "grey.png").mode == "L"
    assert np.asarray(Image.open(out / "deep.png")).dtype.itemsize == 2


def test_video_is_anonymized_with_timing_kept(tmp_path, astronaut):
    import av

    from privis.media.video import write_video

    plain = tmp_path / "plain.mp4"
    write_video(plain, [astronaut] * 6, fps=5)
    src = tmp_path / "clip.mp4"
    with av.open(str(plain)) as a, av.open(str(src), "w") as b:  # same packets, plus tags to strip
        b.metadata["title"] = "secret title"
        b.metadata["location"] = "+52.5200+013.4050/"
        s = b.add_stream_from_template(a.streams.video[0])
        for packet in a.demux(video=0):
            if packet.dts is not None:
                packet.stream = s
                b.mux(packet)
    out = tmp_path / "out.mp4"
    res = runner.invoke(app, ["anonymize", str(src), "-o", str(out), "-q", "--method", "fill"])
    assert res.exit_code == 0, res.output
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert a.metadata.get("title") == "secret title"
        assert "title" not in b.metadata and "location" not in b.metadata
        pa = [f.pts * f.time_base for f in a.decode(video=0)]
        frames = list(b.decode(video=0))
        pb = [f.pts * f.time_base for f in frames]
    assert pa == pb and len(pb) == 6
    assert np.all(frames[0].to_ndarray(format="rgb24")[100:140, 200:250] < 30)  # the face is filled black


def test_eval_faces_json(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("image,x1,y1,x2,y2\na.png,185,65,265,170\n")
    res = runner.invoke(
        app,
        [
            "eval",
            "faces",
            "--labels",
            str(tmp_path / "labels.csv"),
            "--images",
            str(tmp_path),
            "--json",
            "--out",
            str(tmp_path / "report"),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["recall"] == 1.0 and summary["faces"] == 1
    assert (tmp_path / "report" / "eval_faces.md").is_file()
    # Scoring outputs of another tool: an untouched copy hides nothing.
    (tmp_path / "outs").mkdir()
    Image.fromarray(astronaut).save(tmp_path / "outs" / "a.png")
    res = runner.invoke(
        app,
        [
            "eval",
            "faces",
            "--labels",
            str(tmp_path / "labels.csv"),
            "--images",
            str(tmp_path),
            "--outputs",
            str(tmp_path / "outs"),
            "--json",
        ],
    )
    assert json.loads(res.stdout)["recall"] == 0.0


def test_truncated_or_fake_video_is_reported(tmp_path):
    (tmp_path / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 then nothing useful")
    res = runner.invoke(app, ["anonymize", str(tmp_path / "fake.mp4"), "-o", str(tmp_path / "o.mp4"), "-q"])
    assert res.exit_code == 1 and "fake.mp4" in res.output
    assert not (tmp_path / "o.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".privis-")]


def test_output_folder_inside_input_is_not_read_back(photo_tree):
    out = photo_tree / "anon"
    for _ in range(2):
        res = runner.invoke(app, ["anonymize", str(photo_tree), "-o", str(out), "-q", "--overwrite"])
        assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.jpg", "sub/b.png"]
