import numpy as np
import pytest

from privis.errors import PrivisError
from privis.pipeline import unrotate_boxes
from privis.regions import Regions
from privis.track import Tracker


def det(*boxes, score=0.9):
    return Regions(np.array(boxes, np.float32).reshape(-1, 4), score=[score] * len(boxes))


def test_ids_persist_and_tracks_linger_then_die():
    t = Tracker(linger=2)
    a = t.update(det([0, 0, 10, 10], [50, 50, 60, 60]))
    assert a.track_id.tolist() == [1, 2] and a.data["born"].all()
    b = t.update(det([2, 0, 12, 10]))  # first moved, second missed
    assert sorted(b.track_id.tolist()) == [1, 2] and not b.data["born"].any()
    t.update(Regions.empty())
    c = t.update(Regions.empty())
    assert c.track_id.tolist() == [1]  # track 2: three misses > linger
    assert len(t.update(Regions.empty())) == 0


def test_prediction_follows_motion_and_grows():
    t = Tracker(linger=3, growth=0.1)
    for x in (0, 8, 16):
        t.update(det([x, 0, x + 10, 10]))
    coast = t.update(Regions.empty())
    box = coast.xyxy[0]
    centre = (box[0] + box[2]) / 2
    assert centre == pytest.approx(29, abs=2)  # kept moving ~8 px/frame
    assert box[2] - box[0] > 10  # and grew


def test_frames_without_detection_do_not_count_as_misses():
    t = Tracker(linger=0)
    t.update(det([0, 0, 10, 10]))
    for _ in range(5):
        assert len(t.update(None)) == 1
    assert len(t.update(Regions.empty())) == 0


def test_fast_small_box_matches_by_centre_distance():
    t = Tracker()
    t.update(det([0, 0, 8, 8]))
    r = t.update(det([6, 0, 14, 8]))  # IoU 0.14 but centres 6 px apart
    assert r.track_id.tolist() == [1]


def test_bad_options():
    with pytest.raises(PrivisError):
        Tracker(linger=-1)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_unrotate_boxes_matches_numpy_rotation(k):
    frame = np.zeros((30, 50), bool)
    frame[5:9, 30:41] = True  # box x 30..41, y 5..9
    rotated = np.rot90(frame, k)
    ys, xs = np.nonzero(rotated)
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    assert unrotate_boxes(box, k, 30, 50).tolist() == [[30, 5, 41, 9]]


def test_a_body_cut_by_the_frame_keeps_its_size_and_motion():
    # Walking out through the left side at 15 px/frame: the detector then sees only the upper body.
    size = (432, 768)
    t = Tracker(linger=5)
    for right in (100, 85, 70):  # already cut by the side
        t.update(det([0, 40, right, 400]), size)
    cut = t.update(det([0, 40, 55, 180]), size).xyxy[0]  # then the upper body alone
    assert cut[3] > 350 and cut[2] >= 55  # still the whole height, and it holds what was seen
    whole = t.update(det([0, 40, 42, 400]), size).xyxy[0]  # a full view again replaces it
    np.testing.assert_allclose(whole, [0, 40, 42, 400])


def test_a_body_coming_in_at_the_side_keeps_its_legs_when_only_its_head_is_boxed():
    # Walking in through the right side: a sliver of the whole body, then the detector boxes
    # the head and shoulders alone (wider than the sliver, so not a "part" of it by area).
    size = (432, 768)
    t = Tracker(linger=5)
    t.update(det([714, 81, 768, 401]), size)
    box = t.update(det([698, 15, 768, 235]), size).xyxy[0]
    assert box[0] == 698 and box[1] == 15 and box[3] > 380  # what was seen, and the legs below it
    inside = t.update(det([600, 14, 700, 400]), size).xyxy[0]  # in view: the detection is the box
    np.testing.assert_allclose(inside, [600, 14, 700, 400])


def test_a_smaller_box_inside_the_frame_replaces_the_track_box():
    # One wide box (someone beside the table taken in), then the person alone, away from the sides.
    t = Tracker(linger=5)
    t.update(det([380, 20, 720, 390]), (432, 768))
    box = t.update(det([560, 20, 740, 380]), (432, 768)).xyxy[0]
    np.testing.assert_allclose(box, [560, 20, 740, 380])


def test_a_small_box_elsewhere_is_not_taken_for_part_of_a_track():
    t = Tracker(linger=5, iou_threshold=0.0, max_jump=5)
    for _ in range(3):
        t.update(det([0, 0, 100, 300]), (432, 768))
    box = t.update(det([0, 250, 60, 330]), (432, 768)).xyxy[0]  # at the side, but mostly below the track's box
    np.testing.assert_allclose(box, [0, 250, 60, 330])


def test_a_small_box_found_every_few_frames_is_linked_to_where_it_was_last_seen():
    # A plate 20 px wide moving 15 px a frame, found every 4th frame: 60 px (3 sizes) apart.
    t = Tracker(linger=10)
    t.update(det([0, 100, 20, 110]))
    for _ in range(3):
        t.update(Regions.empty())
    r = t.update(det([60, 100, 80, 110]))
    new = r[r.data["born"]]
    assert len(new) == 1 and new.data["gap"].tolist() == [4]  # a new track, seen 4 frames after the old one
    assert new.data["was"].tolist() == [[0, 100, 20, 110]]
    assert sorted(r.track_id.tolist()) == [1, 2]  # the old track lingers where it was: not taken over


def test_a_box_far_away_is_not_linked():
    t = Tracker(linger=10)
    t.update(det([0, 100, 20, 110]))
    t.update(Regions.empty())
    r = t.update(det([300, 100, 320, 110]))  # 15 sizes away after 2 frames
    assert r[r.data["born"]].data["gap"].tolist() == [0]
