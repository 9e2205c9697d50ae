"""`remove`: regions show the scene behind them, from a plate of clear pixels or inpainting."""

import json
from fractions import Fraction

import numpy as np
import pytest

import privis
from privis.errors import PrivisError
from privis.media.video import Frame
from privis.obfuscate.remove import Remove
from privis.regions import Regions


def _scene(h=60, w=90):
    """A wall with a gradient and stripes: inpainting alone cannot guess it exactly."""
    yy, xx = np.mgrid[:h, :w]
    grey = (80 + xx + 30 * ((yy // 6) % 2)).astype(np.uint8)
    return np.stack([grey, grey // 2, 255 - grey], -1)


def _person(frame, x, y=15, w=14, h=30):
    out = frame.copy()
    out[y : y + h, x : x + w] = (250, 0, 250)  # nothing in the scene is this colour
    return out, Regions([[x, y, x + w, y + h]], label=["person"], score=[0.9])


def test_a_video_fills_a_walker_from_the_scene_seen_clear_elsewhere():
    scene, remove = _scene(), Remove(grow=2)
    remove.start_video()
    for x in range(5, 75, 5):  # walking left to right: every pixel is clear in some frame
        frame, regions = _person(scene, x)
        remove.observe(frame, regions)
        out = remove.apply(frame, regions)
    frame, regions = _person(scene, 10)  # back where the wall has been seen clear
    remove.observe(frame, regions)
    out = remove.apply(frame, regions)
    np.testing.assert_array_equal(out, scene)
    assert remove.filled["background"] > 0


def test_someone_who_stands_still_never_enters_the_plate():
    scene, remove = _scene(), Remove(grow=2)
    remove.start_video()
    for _ in range(300):  # thirty seconds at 10 fps in one place
        frame, regions = _person(scene, 40)
        remove.observe(frame, regions)
        out = remove.apply(frame, regions)
    region = out[15:45, 40:54]
    assert not ((region[..., 0] > 200) & (region[..., 1] < 50)).any()  # none of their pixels
    assert remove.filled["inpainted"] > 0  # the wall behind them was never seen: inpainted


def test_a_single_image_is_inpainted_from_around_the_region_only():
    scene = _scene()
    frame, regions = _person(scene, 30)
    out = Remove().apply(frame, regions)
    region = out[15:45, 30:44]
    assert not ((region[..., 0] > 200) & (region[..., 1] < 50)).any()
    assert np.abs(region.astype(int) - scene[15:45, 30:44]).mean() < 40  # close to the wall, not exact


def test_the_plate_starts_again_when_the_camera_moves_and_is_dropped_after_the_video():
    scene, remove = _scene(), Remove()
    remove.start_video()
    remove.observe(scene, Regions.empty())
    remove.observe(255 - scene, Regions.empty())  # another view
    assert remove.restarts == 1
    remove.end_video()
    frame, regions = _person(scene, 30)
    remove.apply(frame, regions)  # the next file: nothing learned from the last
    assert remove.filled["background"] == 0


def test_grey_16_bit_frames_keep_their_depth():
    scene = _scene()[..., 0].astype(np.uint16) * 257
    frame = scene.copy()
    frame[15:45, 30:44] = 65535
    out = Remove().apply(frame, Regions([[30, 15, 44, 45]]))
    assert out.dtype == np.uint16 and out.shape == scene.shape and out[15:45, 30:44].max() < 65535


def test_options_are_checked():
    for bad in ({"inpaint": "magic"}, {"adapt": 0}, {"grow": -1}, {"radius": 0}):
        with pytest.raises(PrivisError):
            Remove(**bad)


def test_the_pipeline_feeds_every_frame_to_the_plate_and_the_audit_names_the_method(tmp_path):
    from privis.auditlog import AuditLog

    scene = _scene()
    positions = {}

    def walker(frame):
        x = positions[id(frame)] if id(frame) in positions else 5
        return Regions([[x, 15, x + 14, 45]], label=["person"], score=[0.9])

    frames = []
    for i, x in enumerate(range(5, 80, 5)):
        frame, _ = _person(scene, x)
        positions[id(frame)] = x
        frames.append(Frame(frame, i, i, Fraction(1, 10)))
    log = tmp_path / "audit.jsonl"
    anon = privis.Anonymizer(targets="person", method="remove", detectors=[walker], audit=AuditLog(log))
    outs = [out for _, out in anon.for_media("video").frames(iter(frames), lookahead=0)]
    anon.audit.close()
    last = outs[-1]
    assert not ((last[..., 0] > 200) & (last[..., 1] < 50)).any()
    assert np.abs(last.astype(int) - scene).mean() < 2  # the wall, from frames where it was clear
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events and {e["method"] for e in events} == {"remove"}


def test_an_outline_cut_short_is_filled_to_its_box_where_the_plate_knows_the_scene():
    scene, remove = _scene(), Remove(grow=0)
    remove.start_video()
    remove.observe(scene, Regions.empty())
    frame, regions = _person(scene, 30)
    outline = np.zeros(scene.shape[:2], bool)
    outline[15:30, 30:44] = True  # the segmenter found only the upper half
    regions = Regions(regions.xyxy, label=["person"], score=[0.9], mask=[outline])
    np.testing.assert_array_equal(remove.apply(frame, regions), scene)
