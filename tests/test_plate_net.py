"""privis's own plate detector (`plate-net`) and the code that trains it, on frames made here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from privis.detect import create_detector
from privis.detect.plate_net import PlateNetDetector
from privis.errors import ModelNotFoundError
from privis.pipeline import Policy
from privis.regions import box_iou


def _plate(text: str = "KX 4821", height: int = 40) -> np.ndarray:
    """A white plate with a black frame and dark characters, not drawn by the training renderer."""
    font = ImageFont.load_default(int(height * 0.75))
    width = int(height * 4.4)
    img = Image.new("RGB", (width, height), (236, 236, 228))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(20, 20, 20), width=2)
    draw.text((width / 2, height / 2), text, font=font, fill=(15, 15, 15), anchor="mm")
    return np.asarray(img)


def _street(seed: int = 0, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A grey, smooth-noise 'road' with a darker 'car' block: no plate, no text."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = rng.normal(110, 6, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    big = np.asarray(Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC))
    frame = np.repeat(np.clip(big, 0, 255)[..., None], 3, axis=2).astype(np.uint8)
    frame[h // 4 : h * 3 // 4, w // 5 : w * 4 // 5] = (60, 70, 90)
    return frame


def _with_plate(frame: np.ndarray, angle: float = 0.0, height: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """`frame` with a plate turned by `angle` degrees at its centre, and the plate's outline box."""
    plate = Image.fromarray(_plate(height=height)).convert("RGBA")
    turned = plate.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    out = Image.fromarray(frame)
    x = (frame.shape[1] - turned.width) // 2
    y = (frame.shape[0] - turned.height) // 2
    out.paste(turned, (x, y), turned)
    return np.asarray(out), np.array([[x, y, x + turned.width, y + turned.height]], np.float32)


@pytest.fixture(scope="module")
def detector() -> PlateNetDetector:
    return create_detector("plate-net")


@pytest.mark.parametrize("angle", [0, 15, -30])
def test_a_turned_plate_is_found_and_covered(detector, angle):
    frame, truth = _with_plate(_street(), angle)
    found = detector.detect(frame)
    assert len(found) >= 1
    grown = found.expand(Policy.mask_scale)  # the margin every hidden region gets
    best = grown.xyxy[np.argmax(box_iou(truth, grown.xyxy)[0])]
    x1, y1, x2, y2 = truth[0]
    bx1, by1, bx2, by2 = best
    inside = max(0, min(x2, bx2) - max(x1, bx1)) * max(0, min(y2, by2) - max(y1, by1)) / ((x2 - x1) * (y2 - y1))
    assert inside >= 0.9, (angle, best, truth)
    assert found.label.tolist() == ["plate"] * len(found)
    assert found.data["quad"].shape == (len(found), 4, 2)


def test_a_night_plate_is_found(detector):
    frame, truth = _with_plate(_street(1))
    dark = np.clip(frame.astype(np.float32) * 0.2 + np.random.default_rng(0).normal(0, 4, frame.shape), 0, 255)
    found = detector.detect(dark.astype(np.uint8))
    assert len(found) and box_iou(truth, found.xyxy).max() > 0.2


def test_a_far_plate_is_found(detector):
    frame, truth = _with_plate(_street(2, (720, 1280)), height=16)
    found = detector.detect(frame)
    assert len(found) and box_iou(truth, found.xyxy).max() > 0.2


def test_a_small_frame_gets_an_enlarged_pass_that_outlines_its_small_plate(detector, monkeypatch):
    frame, truth = _with_plate(_street(7, (240, 320)), height=12)
    found = detector.detect(frame)
    assert len(found) and box_iou(truth, found.xyxy).max() > 0.5  # 1x alone outlines it at IoU 0.29
    seen = []
    probability = detector.probability
    monkeypatch.setattr(detector, "probability", lambda f, s=1.0: seen.append(s) or probability(f, s))
    detector.detect(frame)
    detector.detect(_street(7, (720, 1280)))  # enlarged twice it would pass max_side: 1x and the coarse pass
    assert seen == [1.0, 2.0, 1.0, 0.5]


@pytest.mark.parametrize("seed", [3, 4])
def test_a_street_without_a_plate_gives_nothing(detector, seed):
    assert len(detector.detect(_street(seed))) == 0


def test_a_big_frame_is_scaled_down_and_a_close_up_plate_found_by_the_coarse_pass(detector):
    frame, truth = _with_plate(_street(5, (1800, 2400)), height=320)
    found = detector.detect(frame)
    assert len(found) and box_iou(truth, found.xyxy).max() > 0.3


def test_probability_is_a_quarter_of_the_frame(detector):
    prob = detector.probability(np.zeros((100, 130, 3), np.uint8))
    assert prob.shape == (25, 33) and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1


def test_bad_options_and_missing_model_are_clear(tmp_path):
    with pytest.raises(ValueError, match="threshold"):
        PlateNetDetector(threshold=1.5)
    with pytest.raises(ValueError, match="max_side"):
        PlateNetDetector(max_side=10)
    with pytest.raises(ValueError, match="upscale"):
        PlateNetDetector(upscale=0.5)
    with pytest.raises(ModelNotFoundError, match="not found"):
        PlateNetDetector(model=tmp_path / "none.onnx")


def test_a_threshold_sweep_decides_as_detect_does(detector):
    # benchmarks/plate_check_threshold.py rates once and decides at many thresholds.
    frame, truth = _with_plate(_street(7), angle=15)
    quads, scores = detector.proposals(frame)
    rated = detector.rate(frame, quads)
    same = detector.decide(frame.shape[:2], quads, scores, rated, detector.check)
    found = detector.detect(frame)
    assert np.allclose(same.xyxy, found.xyxy) and np.allclose(same.score, found.score)
    every = detector.decide(frame.shape[:2], quads, scores, rated, None)  # no second look: all proposals
    assert len(every) >= len(found) >= 1 and box_iou(truth, found.xyxy).max() > 0.3
    assert len(detector.decide(frame.shape[:2], quads, scores, rated, 0.999999)) <= len(found)


def test_single_threaded_twin_finds_the_same(detector):
    frame, _ = _with_plate(_street(6))
    a, b = detector.detect(frame), detector.single_threaded().detect(frame)
    assert np.allclose(a.xyxy, b.xyxy, atol=1e-3)


# ---------------------------------------------------------------- training


def test_rendered_plates_have_their_layout():
    from privis.learn.plate_data import PLATE_STYLES, render_plate

    for i, style in enumerate(PLATE_STYLES):
        plate, got = render_plate(np.random.default_rng(i), style, height=60)
        assert got == style and plate.shape[0] == 60
        aspect = plate.shape[1] / plate.shape[0]
        assert abs(aspect - PLATE_STYLES[style]["aspect"]) <= 0.1 * PLATE_STYLES[style]["aspect"] + 0.02
        assert (plate[..., 3] == 255).mean() > 0.9  # the plate fills its box, save rounded corners
        assert plate[..., :3].std() > 20  # characters on it


def test_training_samples_mark_the_plates_they_show():
    from privis.learn.plate_data import Photo, make_sample

    rng = np.random.default_rng(0)
    photo, truth = _with_plate(_street(7))
    x1, y1, x2, y2 = truth[0]
    real = [Photo(photo, np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], np.float32))]
    empty = [_street(8)]
    marked = 0
    for _ in range(20):
        img, mask = make_sample(rng, real, empty, size=128)
        assert img.shape == (128, 128, 3) and mask.shape == (128, 128) and img.dtype == mask.dtype == np.uint8
        marked += bool((mask > 127).any())
    assert 5 <= marked <= 20  # most samples hold a plate, some are empty on purpose


def test_a_trained_network_exports_to_onnx_the_detector_runs(tmp_path):
    pytest.importorskip("torch")
    import torch

    from privis.learn.plate_train import export, loss_fn, plate_net

    model = plate_net()
    imgs, masks = torch.rand(2, 3, 64, 64), torch.zeros(2, 1, 64, 64)
    masks[:, :, 20:30, 10:50] = 1
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = None
    for _ in range(5):
        loss = loss_fn(model(imgs), masks)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < first
    path = export(model, tmp_path / "m.onnx")
    det = PlateNetDetector(model=path)
    assert det.probability(np.zeros((64, 96, 3), np.uint8)).shape == (16, 24)


def test_an_exported_network_comes_back_from_its_onnx_and_trains_on_with_batchnorm_frozen(tmp_path):
    pytest.importorskip("torch")
    import torch

    from privis.learn.plate_train import _freeze_norms, export, from_onnx, plate_net

    model = plate_net()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = export(model.eval(), tmp_path / "m.onnx")
    back = from_onnx(path)
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        assert torch.allclose(back(x), model(x), atol=1e-4)
    back.train()
    _freeze_norms(back)
    export(back, tmp_path / "again.onnx")  # exporting midway keeps BatchNorm frozen
    norms = [m for m in back.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert back.training and not any(m.training for m in norms)
    with pytest.raises(ValueError, match="not a PlateNet export"):
        from_onnx(PlateNetDetector().check_model)
