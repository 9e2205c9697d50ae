"""`privis.config`: one configuration behind the CLI and the Python API, resolved per media."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import privis
from privis.cli import app
from privis.config import ConfigError, Settings, load_settings, route_options
from privis.obfuscate import OBFUSCATORS, Obfuscator, register_obfuscator
from privis.obfuscate.blur import Blur

runner = CliRunner()


def test_images_and_video_get_their_own_defaults_where_nothing_is_set():
    image, video = Settings().resolved("image"), Settings().resolved("video")
    assert (image.face.mask_scale, image.face.mask_pad, image.video.workers) == (1.6, 1.0, 1)
    assert (video.face.mask_scale, video.face.mask_pad) == (1.6, 2.0)
    assert image.face.detector_options == {"small_faces": "auto"}
    assert video.face.detector_options["small_faces"] == "crowd" and video.face.detector_options["verify"] is None
    assert (image.text.mask_scale, image.person.mask_scale) == (1.0, 1.04)  # their own margins
    with_plates = Settings(targets="face,plate").resolved("image")
    assert with_plates.face.detector_options["small_faces"] == "crowd"


def test_what_the_user_sets_wins_over_the_media_defaults():
    s = Settings(mask_pad=0.5, face={"detector_options": {"small_faces": "never"}}, video={"workers": 1})
    video = s.resolved("video")
    assert video.face.mask_pad == 0.5 and video.plate.mask_pad == 0.5 and video.text.mask_pad == 0.0
    assert video.face.detector_options["small_faces"] == "never" and video.video.workers == 1


def test_the_python_anonymizer_uses_video_defaults_for_video():
    anon = privis.Anonymizer()
    video = anon.for_media("video")
    assert anon.policy.margins("face") == (1.6, 1.0) and video.policy.margins("face") == (1.6, 2.0)
    assert anon.detectors[0].small_faces == "auto" and video.detectors[0].small_faces == "crowd"
    assert video.workers >= 1 and video is anon.for_media("video") and video.for_media("image") is anon
    assert privis.Anonymizer(mask_pad=0.5).for_media("video").policy.margins("face") == (1.6, 0.5)


def test_file_then_environment_then_arguments(tmp_path, monkeypatch):
    path = tmp_path / "privis.toml"
    path.write_text('targets = ["face", "plate"]\n[face]\nmask_scale = 1.8\nmask_pad = 3\n[video]\ncrf = 30\n')
    monkeypatch.setenv("PRIVIS_FACE__MASK_SCALE", "1.9")
    s = load_settings(path, video={"crf": 18})
    assert s.targets == ["face", "plate"] and s.face.mask_scale == 1.9 and s.face.mask_pad == 3
    assert s.video.crf == 18
    monkeypatch.setenv("PRIVIS_CONFIG", str(path))
    assert privis.Anonymizer().policy.margins("face") == (1.9, 3.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [("bogus: 1\n", "unknown setting 'bogus'"), ("video:\n  workers: 0\n", "video.workers"),
     ("targets: [face, car]\n", "unknown target"), ("face: [\n", "not valid YAML"), ("- 1\n", "mapping")],
)  # fmt: skip
def test_a_bad_settings_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_an_option_both_components_take_is_an_error_naming_them():
    class Veil(Obfuscator):
        def __init__(self, *, threshold: float = 0.5, shape: str = "box") -> None:
            super().__init__(shape=shape)
            self.threshold = threshold

        def render(self, frame, bounds):  # noqa: ANN001, ANN201
            x1, y1, x2, y2 = bounds
            return np.zeros((y2 - y1, x2 - x1, frame.shape[2]), np.float32)

    table = OBFUSCATORS.snapshot()
    try:
        register_obfuscator("veil", Veil)
        with pytest.raises(ConfigError, match="face detector face-centerface and the face method veil"):
            route_options(Settings(method="veil"), {"threshold": 0.3})
        s = route_options(Settings(method="veil"), {"shape": "ellipse"})
        assert s.face.method_options == {"shape": "ellipse"}
    finally:
        OBFUSCATORS.restore(table)
    with pytest.raises(ConfigError, match="unknown option 'strenght'.*detector face-centerface and method blur"):
        privis.Anonymizer(strenght=0.5)
    with pytest.raises(ConfigError, match="person: detector person-mediapipe and method blur take"):
        privis.Anonymizer(targets="face,person", small_faces={"person": "never"})


def test_a_method_may_be_an_instance():
    veil = Blur(strength=1.0, shape="box")
    anon = privis.Anonymizer(targets="face,plate", method={"face": veil})
    assert anon.obfuscators["face"] is veil and anon.methods == {"face": "blur", "plate": "blur"}
    assert privis.Anonymizer(method=veil).settings.shown()["method"] == "Blur"


def test_config_show_prints_the_effective_settings(tmp_path):
    path = tmp_path / "privis.yaml"
    path.write_text("targets: [face, plate]\nplate:\n  method: fill\n")
    res = runner.invoke(app, ["config", "show", "--config", str(path), "--media", "video", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["plate"]["method"] == "fill" and shown["face"]["mask_pad"] == 2.0 and "person" not in shown
    res = runner.invoke(app, ["config", "show", "--method", "face=blur:strength=0.4", "--json"])
    assert json.loads(res.stdout)["face"]["method_options"] == {"strength": 0.4}
    res = runner.invoke(app, ["config", "show", "--targets", "face,plate", "--detector", "plate=plate-text:tilts=[30]",
                              "--json"])  # fmt: skip
    plate = json.loads(res.stdout)["plate"]
    assert (plate["detector"], plate["detector_options"]) == ("plate-text", {"tilts": [30]})
    res = runner.invoke(app, ["config", "show", "--detector", "face=nosuch"])
    assert res.exit_code == 2 and "unknown detector 'nosuch'" in res.output
    res = runner.invoke(app, ["config", "show", "--method", "smudge"])
    assert res.exit_code == 2 and "unknown obfuscation method 'smudge'; known: blur" in res.output


def _decoded(path) -> list[np.ndarray]:  # noqa: ANN001
    import av

    with av.open(str(path)) as box:
        return [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]


def test_the_cli_and_the_python_api_hide_the_same_regions_in_a_video(tmp_path, astronaut):
    from privis.auditlog import AuditLog
    from privis.media.video import write_video

    canvas = np.full((256, 384, 3), 90, np.uint8)
    frames = []
    for i in range(8):  # the astronaut walks right, halved to put her face near the small-face sizes
        frame = canvas.copy()
        frame[:256, 12 * i : 12 * i + 256] = astronaut[::2, ::2]
        frames.append(frame)
    src = write_video(tmp_path / "walk.mp4", frames, fps=8)
    paint = ["--method", "fill:color=[255,0,255]", "--shape", "box", "-q"]
    res = runner.invoke(app, ["anonymize", str(src), "-o", str(tmp_path / "cli.mp4"), "--audit",
                              str(tmp_path / "cli.jsonl"), *paint])  # fmt: skip
    assert res.exit_code == 0, res.output
    audit = AuditLog(tmp_path / "py.jsonl")
    anon = privis.Anonymizer(method="fill", color=(255, 0, 255), shape="box", audit=audit)
    anon.video(src, tmp_path / "py.mp4", name="walk.mp4")
    audit.close()

    def records(name: str) -> list[dict]:
        lines = (tmp_path / name).read_text().splitlines()
        return [{k: v for k, v in r.items() if k not in ("time", "run")} for r in map(json.loads, lines) if "box" in r]

    assert len(records("py.jsonl")) >= 8 and records("cli.jsonl") == records("py.jsonl")
    cli, py = _decoded(tmp_path / "cli.mp4"), _decoded(tmp_path / "py.mp4")
    magenta = [int(((f[..., 0] > 200) & (f[..., 1] < 60) & (f[..., 2] > 200)).sum()) for f in py]
    assert magenta == [int(((f[..., 0] > 200) & (f[..., 1] < 60) & (f[..., 2] > 200)).sum()) for f in cli]
    # The video margin (2 px) paints more than the image one (1 px) would: the comparison can tell them apart.
    image_mask = privis.Anonymizer(method="fill", shape="box").hidden_mask(anon.detect(frames[0]), 256, 384)
    assert magenta[0] > int(image_mask.sum())


def test_a_preset_is_a_starting_point_that_a_file_and_flags_override(tmp_path):
    from privis.config import PRESETS

    medical = load_settings(preset="medical")
    assert medical.targets == ["face", "text"] and medical.text.detector_options == {"text": "all"}
    path = tmp_path / "p.yaml"
    path.write_text("targets: [text]\n")
    assert load_settings(path, preset="medical").targets == ["text"]
    with pytest.raises(ConfigError, match="unknown preset 'x'; known: medical"):
        load_settings(preset="x")
    assert set(PRESETS) == {"medical"}
