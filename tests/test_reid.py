import numpy as np
import pytest

from privis.audit.methods import MethodSpec, parse_method, split_methods
from privis.audit.reid import split, topk
from privis.datasets import resolve_dataset
from privis.errors import PrivisError


def test_parse_method_maps_short_forms_to_obfuscate_params():
    assert parse_method("clear") == MethodSpec("clear", "clear", {})
    assert parse_method("pixelate:16").params == {"cell": 16}
    assert parse_method("blur:0.3").params == {"strength": 0.3}
    assert parse_method("dp-pixelate:eps=1,b=8,m=4").params == {"epsilon": 1.0, "cell": 8, "m": 4}
    assert parse_method("dp-pixelate:0.1").params == {"epsilon": 0.1, "cell": 16, "m": 16}
    with pytest.raises(PrivisError, match="unknown"):
        parse_method("smudge")
    with pytest.raises(PrivisError, match="number"):
        parse_method("pixelate:cell=big")


def test_method_list_keeps_dp_options_together():
    assert split_methods("clear,dp-pixelate:eps=0.1,b=8,pixelate:16") == [
        "clear",
        "dp-pixelate:eps=0.1,b=8",
        "pixelate:16",
    ]


def test_dp_method_is_what_obfuscate_makes():
    import privis

    img = np.random.default_rng(0).integers(0, 255, (112, 92), dtype=np.uint8)
    spec = parse_method("dp-pixelate:eps=0.5")
    ours = spec.apply(img, seed=3)
    theirs = privis.obfuscate(img, "dp-pixelate", epsilon=0.5, cell=16, m=16, seed=3)
    np.testing.assert_array_equal(ours, theirs)


def test_split_is_per_person_and_disjoint():
    labels = np.repeat(np.arange(4), 10)
    train, test = split(labels, 5, np.random.default_rng(0))
    assert not set(train) & set(test)
    assert all((labels[train] == p).sum() == 5 for p in range(4))
    with pytest.raises(PrivisError, match="more than"):
        split(labels, 10, np.random.default_rng(0))


def test_topk():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    assert topk(scores, np.array([1, 2]), 1) == 0.5
    assert topk(scores, np.array([1, 2]), 3) == 1.0


def test_unknown_dataset_name_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVIS_DATA", str(tmp_path))
    with pytest.raises(PrivisError, match="PRIVIS_DATA"):
        resolve_dataset("att")
    with pytest.raises(PrivisError, match="not a folder"):
        resolve_dataset("nothing-like-this")


def test_audit_reid_is_reachable_as_python_dash_m(tmp_path):
    """`python -m privis.cli` (how benchmarks call privis) must see every command."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "privis.cli", "audit", "reid", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_write_outputs_writes_tables_and_both_plots(tmp_path):
    import csv

    from privis.audit.methods import ReidRow
    from privis.audit.reid import write_outputs

    methods = ["clear", "pixelate:16", "dp-pixelate:eps=0.1", "dp-pixelate:eps=1"]
    rows = [ReidRow(m, a, [0.5, 0.6], [0.9, 0.95], 0.025) for m in methods for a in ("cnn", "pca-svm")]
    written = write_outputs(rows, tmp_path)
    assert [p.name for p in written] == ["reid.csv", "reid.json", "reid_methods.png", "reid_epsilon.png"]
    with (tmp_path / "reid.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 8 and table[0]["top1_mean"] == "0.55"
    assert all(p.stat().st_size > 1000 for p in written[2:])


def test_recognizer_scores_split_ties_and_need_a_sole_close_match():
    from privis.audit.reid_photos import score_distances

    dist = np.array([[0.2, 0.7, 0.9], [0.5, 0.5, 0.5], [0.8, 0.65, 0.9]])
    top1, top5, matched = score_distances(dist, np.array([0, 1, 1]))
    assert top1 == pytest.approx((1 + 1 / 3 + 1) / 3)  # a face equally far from all three is chance
    assert top5 == 1.0
    assert matched == pytest.approx(1 / 3)  # row 3 is nearest but beyond dlib's 0.6


def test_photo_set_needs_labels_with_identities_and_both_splits(tmp_path):
    from privis.audit.reid_photos import is_photo_set, load_photo_set

    assert not is_photo_set(tmp_path)
    with pytest.raises(PrivisError, match="no labels.csv"):
        load_photo_set(tmp_path)
    (tmp_path / "labels.csv").write_text("path,split,identities\na.jpg,train,ann\nb.jpg,train,bob\n")
    assert is_photo_set(tmp_path)
    with pytest.raises(PrivisError, match="train .gallery. and test"):
        load_photo_set(tmp_path)
    (tmp_path / "labels.csv").write_text("path,split,identities\na.jpg,train,ann\nb.jpg,test,ann;bob\n")
    photos = load_photo_set(tmp_path)
    assert photos[1].identities == ("ann", "bob") and photos[1].path == tmp_path / "b.jpg"


def test_pretrained_recognizer_matches_a_face_to_itself_not_to_its_filled_copy():
    pytest.importorskip("dlib")
    import cv2
    from skimage import data

    import privis
    from privis.audit.recognizer import FaceRecognizer

    face = data.astronaut()[0:260, 130:330]  # her face, aligned enough for dlib's 5-point model
    rec = FaceRecognizer()
    box = np.array([[50, 58, 139, 178]])  # where privis's detector puts it
    clear = rec.describe(face, box)
    small = cv2.resize(face, (140, 182), interpolation=cv2.INTER_AREA)  # the same face at 70 %
    resized = rec.describe(small, box * 0.7)
    filled = rec.describe(privis.obfuscate(face, "fill"), box)
    assert clear.shape == (1, 128)
    assert 0 < np.linalg.norm(clear - resized) < 0.3
    assert np.linalg.norm(clear - filled) > 0.6
