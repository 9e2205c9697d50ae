import io
import json

import numpy as np
import pytest

import privis
from privis.auditlog import AuditLog
from privis.errors import PrivisError
from privis.regions import Regions
from tests.conftest import mock_regions


def test_anonymizer_hides_the_astronaut(astronaut):
    anon = privis.Anonymizer(method="fill", color=(255, 0, 255), shape="box")
    out, regions = anon.image(astronaut)
    assert len(regions) >= 1
    x1, y1, x2, y2 = regions.xyxy[0].astype(int)
    assert np.all(out[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2] == [255, 0, 255])
    assert not np.shares_memory(out, astronaut)


def test_options_are_routed_and_unknown_ones_refused():
    anon = privis.Anonymizer(method="dp-pixelate", epsilon=0.1, cell=8, m=4, threshold=0.3, small_faces="never")
    assert anon.obfuscator.params() == {"epsilon": 0.1, "cell": 8, "m": 4}
    assert anon.detectors[0].threshold == 0.3
    with pytest.raises(PrivisError, match="unknown option"):
        privis.Anonymizer(method="blur", epsilon=0.1)
    with pytest.raises(PrivisError, match="unknown target"):
        privis.Anonymizer(targets=["car"])


def test_custom_detector_callable_and_policy_margins():
    def one_box(frame):
        return mock_regions([[20, 20, 40, 40]], score=[0.9])

    anon = privis.Anonymizer(detectors=[one_box], method="fill", shape="box", mask_scale=2.0, mask_pad=0)
    out, regions = anon.process(np.full((100, 100, 3), 9, np.uint8))
    assert regions.xyxy.tolist() == [[20, 20, 40, 40]]
    hidden = np.all(out == 0, axis=-1)
    assert hidden[10:50, 10:50].all() and hidden.sum() == 40 * 40
    assert anon.hidden_mask(regions, 100, 100).sum() == 1600


def test_audit_log_holds_geometry_only():
    buf = io.StringIO()
    log = AuditLog(buf)
    anon = privis.Anonymizer(
        detectors=[lambda f: mock_regions([[1, 2, 3, 4]], score=[0.5])], method="dp-pixelate", epsilon=0.2, audit=log
    )
    anon.image(np.zeros((8, 8, 3), np.uint8), name="x.png")
    rec = json.loads(buf.getvalue())
    assert rec == {
        "file": "x.png",
        "label": "face",
        "box": [1.0, 2.0, 3.0, 4.0],
        "score": 0.5,
        "method": "dp-pixelate",
        "params": {"epsilon": 0.2, "cell": 16, "m": 16},
    }


def test_nothing_found_returns_a_copy():
    anon = privis.Anonymizer(detectors=[lambda f: Regions.empty()])
    img = np.ones((4, 4, 3), np.uint8)
    out, regions = anon.image(img)
    assert len(regions) == 0 and np.array_equal(out, img) and out is not img


def test_batch_fails_closed_when_the_detector_breaks(tmp_path):
    from PIL import Image

    from privis.batch import plan, run

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")

    def broken(frame):
        raise RuntimeError("model exploded")

    anon = privis.Anonymizer(detectors=[broken])
    jobs, problems, _ = plan([tmp_path / "a.png"], tmp_path / "out")
    report = run(anon, jobs)
    assert not problems and report.failed == [(str(tmp_path / "a.png"), "model exploded")]
    assert not (tmp_path / "out").exists()


def test_video_frame_failure_is_blacked_out_and_logged(tmp_path, astronaut):
    from privis.media.video import write_video

    write_video(tmp_path / "in.mp4", [astronaut] * 3, fps=3)
    calls = {"n": 0}

    def flaky(frame):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("glitch")
        return Regions.empty()

    buf = io.StringIO()
    anon = privis.Anonymizer(detectors=[flaky], audit=AuditLog(buf))
    assert anon.video(tmp_path / "in.mp4", tmp_path / "out.mp4") == 3
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert events == [
        {
            "file": str(tmp_path / "in.mp4"),
            "event": "frame_failed_blacked_out",
            "frame": 1,
            "pts": pytest.approx(1 / 3, abs=1e-3),
            "reason": "glitch",
        }
    ]
    import av

    with av.open(str(tmp_path / "out.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert frames[1].max() < 20 and frames[0].mean() > 50


def test_parallel_detection_keeps_order_and_results(astronaut):
    """Two frames detected at once give what one at a time gives, in order; failures stay per frame."""
    from fractions import Fraction

    from privis.media.video import Frame

    def shifting(frame):  # a box that moves with the frame's content, so order matters
        if frame[0, 0, 0] == 7:
            raise RuntimeError("bad frame")
        x = float(frame[0, 0, 1])
        return Regions([[x, 10, x + 20, 30]], score=[0.9])

    frames = []
    for i in range(9):
        img = astronaut[:64, :64].copy()
        img[0, 0] = (7 if i == 4 else 0, 5 * i, 0)
        frames.append(Frame(img, i, i, Fraction(1, 9)))
    outs = {}
    for workers in (1, 2):
        anon = privis.Anonymizer(method="fill", shape="box", detectors=[shifting], workers=workers, linger=0)
        outs[workers] = [(f.index, px.copy()) for f, px in anon.frames(iter(frames), lookahead=0)]
    assert [i for i, _ in outs[2]] == list(range(9))
    for (_, a), (_, b) in zip(outs[1], outs[2], strict=True):
        np.testing.assert_array_equal(a, b)
    assert outs[2][4][1].max() == 0  # the failed frame is black


def test_workers_must_be_positive():
    with pytest.raises(PrivisError, match="workers"):
        privis.Anonymizer(workers=0)


def test_video_dp_pixelate_records_the_epsilon_each_track_spent(tmp_path, astronaut):
    from privis.media.video import write_video

    write_video(tmp_path / "in.mp4", [astronaut] * 6, fps=6)
    buf = io.StringIO()
    anon = privis.Anonymizer(
        detectors=[lambda f: mock_regions([[100, 60, 300, 260]], label=["face"], score=[0.9])],
        method="dp-pixelate",
        epsilon=0.25,
        refresh=4,
        audit=AuditLog(buf),
    )
    anon.video(tmp_path / "in.mp4", tmp_path / "out.mp4")
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    budget = [e for e in events if e.get("event") == "track_budget"]
    assert len(budget) == 1
    assert budget[0]["frames"] == 6 and budget[0]["releases"] == 2 and budget[0]["epsilon_spent"] == 0.5
    regions = [e for e in events if "event" not in e]
    assert len(regions) == 6 and regions[0]["params"]["epsilon"] == 0.25


def test_policy_grows_faces_but_not_text_boxes():
    from privis.pipeline import Policy

    regions = Regions([[10, 10, 30, 30], [50, 10, 90, 20]], label=["face", "text"])
    out = Policy(mask_scale=2.0, mask_pad=1.0).apply(regions, 200, 200)
    assert out.xyxy.tolist() == [[-0.0, -0.0, 41.0, 41.0], [50.0, 10.0, 90.0, 20.0]]


def _hidden_frames(found, count):
    """Whether each of `count` video frames hides a small box moving 15 px a frame that the
    detector finds only on the frames where `found(i)`; eight frames are held back."""
    from fractions import Fraction

    from privis.media.video import Frame

    def detector(frame):
        i = int(frame[0, 0, 1])
        return Regions([[10 + 15 * i, 100, 30 + 15 * i, 110]], score=[0.9]) if found(i) else Regions.empty()

    frames = []
    for i in range(count):
        img = np.full((200, 256, 3), 128, np.uint8)
        img[0, 0] = (0, i, 0)
        frames.append(Frame(img, i, i, Fraction(1, 10)))
    anon = privis.Anonymizer(method="fill", shape="box", detectors=[detector], mask_pad=0, mask_scale=1.0)
    out = anon.frames(iter(frames), lookahead=8)
    return [px[102:108, 14 + 15 * i : 26 + 15 * i].max() == 0 for i, (_, px) in enumerate(out)]


def test_a_region_found_late_is_hidden_back_along_its_path():
    """First found on frame 6 and again on frame 9: the held-back frames before 6 are hidden
    where its pace puts it, not only at frame 6's box."""
    hidden = _hidden_frames(lambda i: i in (6, 9), 12)
    assert all(hidden[1:10]), hidden  # from the look-ahead of the second find to it


def test_a_region_found_every_few_frames_is_hidden_on_the_frames_between():
    """Found every 4th frame: the held-back frames between two finds are hidden along the way,
    not only where it was last seen."""
    assert all(_hidden_frames(lambda i: i % 4 == 0, 13))
