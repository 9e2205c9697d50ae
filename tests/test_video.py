"""Video output keeps what the source had: every frame and its time, the rotation flag, the audio."""

from fractions import Fraction

import av
import numpy as np
import pytest

import privis
from privis.errors import MediaError
from privis.regions import Regions
from tests.conftest import mock_regions

PTS = [0, 100, 200, 350, 400, 700, 750, 800, 1000, 1100]  # variable frame rate, time base 1/1000


def make_video(path, astronaut, *, rotation=0, audio=True):
    """A 10-frame VFR H.264 clip of the astronaut with an AAC track and an optional rotation flag."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10, options={"crf": "20", "preset": "veryfast"})
        v.width, v.height, v.pix_fmt = 256, 256, "yuv420p"
        v.time_base = Fraction(1, 1000)
        v.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=16000) if audio else None
        if a is not None:
            a.layout = "mono"
        # Stored turned clockwise, so that the rotation flag (counter-clockwise) shows it upright.
        small = np.ascontiguousarray(np.rot90(astronaut[::2, ::2], -(rotation // 90)))
        for i, pts in enumerate(PTS):
            f = av.VideoFrame.from_ndarray(np.roll(small, 3 * i, axis=1), format="rgb24")
            f.pts = pts
            f.time_base = Fraction(1, 1000)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        if a is not None:
            t = np.arange(int(16000 * 1.2)) / 16000
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
                af.sample_rate = 16000
                af.pts = start
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(video=0))
        info = {
            "pts_s": [float(f.pts * f.time_base) for f in frames],
            "rotation": int(frames[0].rotation),
            "duration": float(c.duration / 1e6) if c.duration else None,
            "first": frames[0].to_ndarray(format="rgb24"),
        }
        c.seek(0)
        info["audio"] = [bytes(p) for p in c.demux(audio=0) if p.size] if c.streams.audio else []
        info["fps"] = v.average_rate
    return info


@pytest.mark.parametrize("rotation", [0, 90])
def test_frames_timing_rotation_and_audio_survive(tmp_path, astronaut, rotation):
    src = make_video(tmp_path / "in.mp4", astronaut, rotation=rotation)
    dst = tmp_path / "out.mp4"
    anon = privis.Anonymizer(method="fill", color=(255, 0, 255), shape="box")
    assert anon.video(src, dst) == len(PTS)
    a, b = probe(src), probe(dst)
    assert b["pts_s"] == pytest.approx(a["pts_s"])
    assert b["rotation"] == a["rotation"] == rotation
    assert abs(b["duration"] - a["duration"]) <= 0.1 + 1e-6  # within one (shortest) frame
    assert a["audio"] and b["audio"] == a["audio"]
    painted = np.all(np.abs(b["first"].astype(int) - [255, 0, 255]) < 40, axis=-1)
    assert painted.sum() > 1000  # the face was found (upright for the rotated clip) and hidden


def test_no_audio_drops_audio(tmp_path, astronaut):
    src = make_video(tmp_path / "in.mp4", astronaut)
    anon = privis.Anonymizer(detectors=[lambda f: Regions.empty()])
    anon.video(src, tmp_path / "out.mp4", audio=False)
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert not c.streams.audio


def test_h265_output(tmp_path, astronaut):
    src = make_video(tmp_path / "in.mp4", astronaut, audio=False)
    anon = privis.Anonymizer(detectors=[lambda f: Regions.empty()])
    assert anon.video(src, tmp_path / "out.mp4", codec="h265") == len(PTS)
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "hevc"


def test_lookahead_hides_a_face_before_its_first_detection(tmp_path, astronaut):
    src = make_video(tmp_path / "in.mp4", astronaut, audio=False)
    seen = {"n": 0}

    def late(frame):  # the "detector" finds the face only from the 4th frame on
        seen["n"] += 1
        return mock_regions([[90, 20, 140, 95]], score=[0.9]) if seen["n"] >= 4 else Regions.empty()

    anon = privis.Anonymizer(detectors=[late], method="fill", shape="box", lookahead=8, mask_pad=0, mask_scale=1.0)
    anon.video(src, tmp_path / "out.mp4", audio=False)
    with av.open(str(tmp_path / "out.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for f in frames:  # every frame, including the three before the first detection
        assert f[30:85, 100:130].mean() < 20

    seen["n"] = 0
    no_look = privis.Anonymizer(detectors=[late], method="fill", shape="box", lookahead=0, mask_pad=0, mask_scale=1.0)
    no_look.video(src, tmp_path / "out2.mp4", audio=False)
    with av.open(str(tmp_path / "out2.mp4")) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert first[30:85, 100:130].mean() > 40  # without look-ahead the first frames leak


def test_detect_every_tracks_in_between(tmp_path, astronaut):
    src = make_video(tmp_path / "in.mp4", astronaut, audio=False)
    calls = []

    def counting(frame):
        calls.append(1)
        return mock_regions([[90, 20, 140, 95]], score=[0.9])

    anon = privis.Anonymizer(detectors=[counting], method="fill", shape="box", detect_every=3)
    anon.video(src, tmp_path / "out.mp4", audio=False)
    assert len(calls) == 4  # frames 0, 3, 6, 9
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert all(f.to_ndarray(format="rgb24")[40:80, 105:125].mean() < 20 for f in c.decode(video=0))


def test_corrupt_video_is_a_media_error(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    with pytest.raises(MediaError):
        privis.Anonymizer(detectors=[lambda f: Regions.empty()]).video(tmp_path / "bad.mp4", tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize(
    ("codec", "suffix", "pix_fmt"),
    [
        ("libx265", ".mp4", "yuv420p"),
        ("libvpx-vp9", ".webm", "yuv420p"),
        ("libsvtav1", ".mkv", "yuv420p"),
        ("mjpeg", ".avi", "yuvj420p"),
        ("gif", ".gif", "rgb8"),
    ],
)
def test_decodes_common_codecs(tmp_path, astronaut, codec, suffix, pix_fmt):
    """H.265, VP9, AV1, MJPEG and GIF inputs come out as H.264 with every frame and its time."""
    src = tmp_path / f"in{suffix}"
    small = np.ascontiguousarray(astronaut[::4, ::4])  # 128x128
    with av.open(str(src), "w") as c:
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 128, 128, pix_fmt
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.roll(small, 2 * i, axis=1), format="rgb24")
            for p in s.encode(frame.reformat(format=pix_fmt) if pix_fmt != "rgb24" else frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    dst = tmp_path / "out.mp4"
    anon = privis.Anonymizer(detectors=[lambda f: Regions.empty()])
    assert anon.video(src, dst) == 6
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        ta = [float(f.pts * f.time_base) for f in a.decode(video=0)]
        tb = [float(f.pts * f.time_base) for f in b.decode(video=0)]
        assert b.streams.video[0].codec_context.name == "h264"
    assert tb == pytest.approx(ta)
