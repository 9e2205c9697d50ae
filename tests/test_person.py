"""Persons (outlines from MediaPipe's models), outlines through margins and tracking, per-label settings."""

import numpy as np
import pytest
from skimage import data

import privis
from privis.pipeline import Policy
from privis.regions import Regions
from privis.track import Tracker


@pytest.fixture(scope="module")
def person_detector():
    from privis.detect import create_detector

    return create_detector("person-mediapipe")


def _grey(name):
    img = getattr(data, name)()
    return np.ascontiguousarray(np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3])


def test_pose_anchors_match_the_model():
    from privis.detect.person import pose_anchors

    anchors = pose_anchors()
    assert anchors.shape == (2254, 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_the_cameraman_is_found_with_an_outline_not_a_box(person_detector):
    frame = _grey("camera")
    found = person_detector(frame)
    assert list(found.label) == ["person"] and found.source[0] == "person-mediapipe"
    outline = found.mask_of(0)
    assert outline.shape == frame.shape[:2]
    x1, y1, x2, y2 = found.xyxy[0].astype(int)
    box_area = (x2 - x1) * (y2 - y1)
    assert 0.3 * box_area < outline.sum() < 0.9 * box_area  # a body's shape inside its box
    assert outline[200, 200] and not outline[100, 450]  # the coat, not the sky


def test_no_person_in_an_empty_scene_or_a_cup(person_detector):
    assert len(person_detector(np.full((360, 640, 3), 128, np.uint8))) == 0
    assert len(person_detector(_grey("coffee"))) == 0  # the segmentation's blob is rejected by the detector


def test_targets_person_hides_by_the_outline(person_detector):
    frame = _grey("camera")
    anon = privis.Anonymizer(targets="person", method="fill", color=(255, 0, 255), detectors=[person_detector])
    out, regions = anon.process(frame)
    painted = (out == [255, 0, 255]).all(axis=2)
    hidden = anon.hidden_mask(regions, *frame.shape[:2])
    assert (painted == hidden).all()
    assert painted[200, 200] and not painted[100, 450]
    assert painted.sum() >= regions.mask_of(0).sum()  # grown by the person margin, never shrunk


def test_merge_keeps_outlines_beside_boxes():
    outline = np.zeros((20, 20), bool)
    outline[5:10, 5:10] = True
    person = Regions([[5, 5, 10, 10]], label=["person"], mask=[outline])
    face = Regions([[0, 0, 4, 4]], label=["face"])
    both = Regions.merge([face, person])
    assert both.mask_of(0) is None and both.mask_of(1).sum() == 25
    assert both.to_mask(20, 20).sum() == 16 + 25
    assert len(both[both.label == "person"]) == 1 and both[[1]].mask_of(0) is outline


def test_policy_grows_an_outline_inside_its_grown_box():
    outline = np.zeros((100, 100), bool)
    outline[40:60, 45:55] = True
    person = Regions([[45, 40, 55, 60]], label=["person"], mask=[outline])
    grown = Policy(labels={"person": (1.2, 2.0)}).apply(person, 100, 100)
    m = grown.mask_of(0)
    # radius = pad + (scale - 1) * min(w, h) / 2 = 2 + 0.2 * 10 / 2 = 3 px
    assert m[40, 42] and not m[40, 41] and m[37, 50] and not m[36, 50]
    x1, y1, x2, y2 = grown.xyxy[0]
    ys, xs = np.nonzero(m)
    assert x1 <= xs.min() and xs.max() < x2 and y1 <= ys.min() and ys.max() < y2


def test_tracker_keeps_the_outline_only_on_the_frame_it_was_seen():
    outline = np.zeros((50, 50), bool)
    outline[10:30, 10:20] = True
    tracker = Tracker(linger=2)
    seen = tracker.update(Regions([[10, 10, 20, 30]], label=["person"], score=[0.9], mask=[outline]))
    assert seen.mask_of(0) is outline
    coasting = tracker.update(Regions.empty())
    assert len(coasting) == 1 and coasting.mask is None  # the box stands in for it


def _box(label, xyxy):
    return lambda frame: Regions([xyxy], label=[label], score=[0.9])


def test_a_method_and_its_optionsper_label():
    frame = np.full((100, 200, 3), 120, np.uint8)
    anon = privis.Anonymizer(
        targets=("face", "plate"),
        method={"face": "fill", "plate": "fill"},
        color={"face": (255, 0, 0), "plate": (0, 255, 0)},
        shape="box",
        mask_scale={"face": 1.0, "plate": 2.0},
        mask_pad=0,
        detectors=[_box("face", [10, 10, 30, 30]), _box("plate", [100, 40, 120, 50])],
    )
    out, _ = anon.process(frame)
    assert out[20, 20].tolist() == [255, 0, 0] and out[9, 20].tolist() == [120, 120, 120]
    assert out[45, 95].tolist() == [0, 255, 0]  # grown to 90..130 x 35..55
    assert anon.methods == {"face": "fill", "plate": "fill"}


def test_methods_differ_per_label_and_the_audit_says_which(tmp_path):
    from privis.auditlog import AuditLog

    frame = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
    log = tmp_path / "audit.jsonl"
    anon = privis.Anonymizer(
        targets=("face", "plate"),
        method={"": "blur", "plate": "fill"},
        shape="box",
        audit=AuditLog(log),
        detectors=[_box("face", [10, 10, 40, 40]), _box("plate", [100, 40, 140, 60])],
    )
    out, _ = anon.image(frame)
    anon.audit.close()
    assert (out[50, 120] == 0).all() and not (out[25, 25] == 0).all()
    import json

    methods = {r["label"]: r["method"] for r in map(json.loads, log.read_text().splitlines()) if "label" in r}
    assert methods == {"face": "blur", "plate": "fill"}


def test_per_label_threshold_reaches_each_detector():
    anon = privis.Anonymizer(targets=("face", "plate"), threshold={"face": 0.3, "plate": 0.7})
    assert [d.threshold for d in anon.detectors] == [0.3, 0.7]


def test_a_setting_for_a_label_that_is_not_a_target_is_an_error():
    with pytest.raises(privis.PrivisError, match="person"):
        privis.Anonymizer(targets="face", method={"person": "fill"})
    with pytest.raises(privis.PrivisError, match="plate"):
        privis.Anonymizer(targets="face", threshold={"plate": 0.5})


def test_cli_parses_per_label_settings():
    from privis.cli.options import Shape, media_settings, parse_methods, per_label

    assert per_label("0.4", "--threshold", float) == 0.4
    assert per_label("face=0.3, plate=0.5", "--threshold", float) == {"face": 0.3, "plate": 0.5}
    assert parse_methods("fill,person=pixelate") == {"": ("fill", {}), "person": ("pixelate", {})}
    with pytest.raises(privis.PrivisError, match="twice"):
        per_label("face=0.3,face=0.4", "--threshold", float)
    settings = media_settings(None, targets="face,plate", method="face=blur,plate=fill", shape=Shape.box,
                              fill_color="255,0,255", blur_strength=1.0).resolved("image")  # fmt: skip
    assert (settings.face.method, settings.plate.method) == ("blur", "fill")
    assert settings.face.method_options == {"shape": "box", "strength": 1.0}
    assert settings.plate.method_options == {"shape": "box", "color": (255, 0, 255)}
    with pytest.raises(privis.PrivisError, match="--epsilon is for --method dp-pixelate"):
        media_settings(None, targets="face", epsilon=0.5)


def test_one_detector_serves_two_threads_at_once(person_detector):
    from concurrent.futures import ThreadPoolExecutor

    frame = _grey("camera")
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(person_detector, [frame] * 8))
    assert all(len(r) == 1 for r in found)
