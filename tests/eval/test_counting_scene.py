"""Issue 19: counting on a scene of known truth (`privis.audit.walkers.car_park_scene`).

People cut from the people video walk across an empty car-park frame in three directions,
pass each other, and one stands in a spot for four seconds. Lines at x = 200, 400 and 600
and a zone round the spot are counted as the video is anonymized; the truth comes from
the paths. Every count must be within one of it, and the seconds stayed within a quarter
(the zone's 10 px hysteresis keeps a stay open while the anchor is just outside). The
same holds with a sign board hanging in front of the scene's middle, under which people
show only their legs (`walkers.SIGN_LEGS`), or only their feet or nothing
(`walkers.SIGN_FEET`), for over a second; line x = 400 is behind it.
"""

import pytest

from privis.media.video import read_frames


@pytest.mark.parametrize("sign", [None, "legs", "feet"], ids=["open", "sign, legs seen", "sign, feet seen"])
def test_lines_and_zone_on_a_scene_of_known_truth(data_root, sign):
    from privis.audit.walkers import SIGN_FEET, SIGN_LEGS, scene_counts

    sign = {"legs": SIGN_LEGS, "feet": SIGN_FEET}.get(sign)
    videos = data_root / "videos"
    rows = scene_counts(read_frames(videos / "intel_one-by-one-person-detection.mp4", 700),
                        read_frames(videos / "intel_car-detection.mp4", 26)[25], sign=sign)  # fmt: skip
    seconds = [r for r in rows if "seconds" in r["what"]]
    counts = [r for r in rows if "seconds" not in r["what"]]
    assert [r for r in counts if abs(r["counted"] - r["truth"]) > 1] == [], rows
    assert [r for r in seconds if abs(r["counted"] - r["truth"]) > 0.25 * r["truth"]] == [], rows
