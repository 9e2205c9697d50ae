from contextlib import ExitStack as DoesNotRaise

import numpy as np
import pytest

from privis.errors import PrivisError
from privis.regions import Regions, box_iou
from tests.conftest import mock_regions


@pytest.mark.parametrize(
    ("xyxy", "kwargs", "context"),
    [
        ([[0, 0, 1, 1]], {}, DoesNotRaise()),
        (np.zeros((0, 4)), {}, DoesNotRaise()),
        ([[0, 0, 1]], {}, pytest.raises(PrivisError, match=r"shape \(n, 4\)")),
        ([[0, 0, 1, 1]], {"score": [0.1, 0.2]}, pytest.raises(PrivisError, match=r"score must have shape \(1,\)")),
        ([[0, 0, 1, 1]], {"label": ["a", "b"]}, pytest.raises(PrivisError, match="label")),
        ([[0, 0, 1, 1]], {"data": {"x": [1, 2]}}, pytest.raises(PrivisError, match="data")),
    ],
)
def test_validation(xyxy, kwargs, context):
    with context:
        r = Regions(xyxy, **kwargs)
        assert r.xyxy.dtype == np.float32


def test_indexing_slices_every_field_together():
    r = Regions(
        [[0, 0, 1, 1], [2, 2, 4, 4], [5, 5, 9, 9]],
        label=["face", "plate", "face"],
        score=[0.9, 0.5, 0.1],
        track_id=[1, 2, 3],
        data={"k": np.array([10, 20, 30])},
    )
    sub = r[(r.label == "face") & (r.score > 0.3)]
    assert len(sub) == 1 and sub.track_id.tolist() == [1] and sub["k"].tolist() == [10]
    assert r[1].label.tolist() == ["plate"]
    assert len(r[1:]) == 2
    assert [x.label for x in r] == ["face", "plate", "face"]


def test_merge_and_empty():
    a = mock_regions([[0, 0, 1, 1]], score=[0.5])
    b = mock_regions([[1, 1, 2, 2]], score=[0.6])
    m = Regions.merge([a, Regions.empty(), b])
    assert len(m) == 2 and m.score.tolist() == pytest.approx([0.5, 0.6])
    assert len(Regions.merge([])) == 0
    with pytest.raises(PrivisError, match="track_id"):
        Regions.merge([mock_regions([[0, 0, 1, 1]], score=[1], track_id=[1]), a])


def test_expand_pad_and_clip():
    r = mock_regions([[10, 10, 20, 30]])
    assert r.expand(2.0).xyxy.tolist() == [[5, 0, 25, 40]]
    assert r.expand(1.0, pad=2).xyxy.tolist() == [[8, 8, 22, 32]]
    assert r.expand(3.0).clip(25, 35).xyxy.tolist() == [[0, 0, 25, 35]]
    with pytest.raises(PrivisError):
        r.expand(0)


def test_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert box_iou(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_to_mask_shapes():
    r = mock_regions([[0, 0, 10, 10]])
    box = r.to_mask(20, 20, shape="box")
    ell = r.to_mask(20, 20, shape="ellipse")
    assert box.sum() == 100
    assert 60 < ell.sum() < 100 and not ell[0, 0] and ell[5, 5]


def test_merge_fills_a_data_column_only_some_detectors_give():
    faces = Regions(np.array([[0, 0, 10, 10]], float), label=["face"])
    text = Regions(np.array([[20, 0, 40, 10]], float), label=["text"], data={"entity": np.array(["EMAIL"], object)})
    merged = Regions.merge([faces, text])
    assert merged.data["entity"].tolist() == [None, "EMAIL"]


def test_merge_of_detectors_that_fill_different_fields():
    faces = Regions(
        np.array([[0, 0, 10, 10]], float), label=["face"], score=[0.9], source=["face-centerface"],
        data={"landmarks": np.zeros((1, 5, 2), np.float32)},
    )  # fmt: skip
    plates = Regions(np.array([[20, 0, 40, 10]], float), label=["plate"], score=[0.8])
    merged = Regions.merge([faces, plates])
    assert merged.source.tolist() == ["face-centerface", ""]
    assert merged.data["landmarks"].shape == (2, 5, 2) and np.isnan(merged.data["landmarks"][1]).all()
