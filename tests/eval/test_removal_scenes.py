"""Issue 19: `--method remove` against a known background (`privis.audit.walkers.removal_scenes`).

People cut from the people video walk and stand on an empty car-park frame, and walk in and
out through the frame's sides, from the very first frame (a cold start) and after 2 s of
the empty scene. The removed regions must come within 28 dB of the true background in every
scene, and the person who stands still must leave no ghost (measured: 34.0, 34.0 and 37.4 dB;
the standing person 57 dB or identical).
"""

from privis.media.video import read_frames


def test_removed_people_show_the_background_behind_them(data_root):
    from privis.audit.walkers import removal_scenes

    videos = data_root / "videos"
    rows = removal_scenes(read_frames(videos / "intel_one-by-one-person-detection.mp4", 700),
                          read_frames(videos / "intel_car-detection.mp4", 26)[25])  # fmt: skip
    assert len(rows) == 3
    assert [r for r in rows if r["psnr_db"] < 28] == [], rows
    assert [r for r in rows if r["psnr_standing_db"] < 45] == [], rows
