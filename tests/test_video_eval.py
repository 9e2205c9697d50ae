import numpy as np
import pytest

import privis
from privis.audit.detection_eval import leak_rate
from privis.audit.synthetic import pan_zoom_clip
from privis.media.video import write_video
from privis.regions import Regions

FACE = [181, 58, 270, 178]


def test_pan_zoom_clip_maps_boxes(astronaut):
    clip = list(pan_zoom_clip(astronaut, np.array([FACE]), frames=5, size=(320, 180)))
    assert len(clip) == 5 and all(f.shape == (180, 320, 3) for f, _ in clip)
    frame, boxes = clip[0]
    x1, y1, x2, y2 = boxes[0].astype(int)
    # The mapped box still frames the face: skin-toned centre, not the background.
    assert frame[(y1 + y2) // 2, (x1 + x2) // 2].mean() > 100


@pytest.mark.parametrize(("detect", "expected"), [(True, 0.0), (False, 1.0)])
def test_leak_rate(tmp_path, astronaut, detect, expected):
    clip = list(pan_zoom_clip(astronaut, np.array([FACE]), frames=12, size=(320, 180)))
    src = write_video(tmp_path / "clip.mp4", [f for f, _ in clip], fps=12)
    kwargs = {} if detect else {"detectors": [lambda f: Regions.empty()]}
    privis.Anonymizer(method="fill", color=(255, 0, 255), shape="box", **kwargs).video(src, tmp_path / "out.mp4")
    result = leak_rate(tmp_path / "out.mp4", [b for _, b in clip], (255, 0, 255))
    assert result["frames"] == 12 and result["pairs"] > 0
    assert result["leak_rate"] == expected
