"""`person-mediapipe`: whole people, each with its own outline, from MediaPipe's pose and selfie models.

A person is identifiable by far more than the face (clothes, build, gait), so
``--targets person`` hides the whole body by its outline. Two small TFLite models that
ship in the ``mediapipe`` 0.10.21 wheel do the work, run by LiteRT (``ai-edge-litert``):

1. BlazePose's person detector (224 px, letterboxed) finds each person and two
   keypoints, the hips' midpoint and a point on the circle that holds the whole body;
   those give a square region of interest around each body.
2. The selfie segmentation model (256 px) cuts each person's region out at its own
   scale, so that every person gets an outline (scenes with several people), and once
   over the whole frame, whose large blobs the detector missed (a body seen from
   behind, cut by the frame's edge) become people too.

A detection whose region the segmentation finds empty is dropped (the detector's
mistakes are faces of cats and statues), and a blob is a person only where the
detector, run again on the blob's own square, finds one there.
Only the model files are used; ``import mediapipe`` itself is never run (it pins
numpy<2), so the Makefile installs that wheel with ``--no-deps``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.detect.nms import nms
from privis.errors import ModelNotFoundError, PrivisError
from privis.regions import Regions

INSTALL_HINT = "pip install --no-deps mediapipe==0.10.21 ai-edge-litert"
POSE_DETECTOR = "pose_detection/pose_detection.tflite"
SELFIE = "selfie_segmentation/selfie_segmentation.tflite"
SELFIE_LANDSCAPE = "selfie_segmentation/selfie_segmentation_landscape.tflite"
DETECTOR_SIDE = 224


def mediapipe_model(name: str) -> Path:
    """Path of a model file inside the installed mediapipe wheel (``modules/<name>``)."""
    spec = importlib.util.find_spec("mediapipe")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "modules" / name
        if path.is_file():
            return path
    raise ModelNotFoundError(
        f"the MediaPipe model {Path(name).name} was not found: it ships inside the 'mediapipe' 0.10.21 "
        f"wheel; install it with `{INSTALL_HINT}` (privis uses only the model file)"
    )


def _interpreter(name: str, threads: int):  # noqa: ANN202 - LiteRT's type is optional at import time
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelNotFoundError(f"LiteRT runs the person models: install it with `{INSTALL_HINT}`") from exc
    path = str(mediapipe_model(name))
    with _native_stderr_silenced():  # LiteRT prints an INFO line per model on the C++ side
        interp = Interpreter(path, num_threads=threads)
        interp.allocate_tensors()
    return interp


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (native libraries' own logging)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded, closed): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=1)
def pose_anchors() -> np.ndarray:
    """Anchor centres (2254, 2) of BlazePose's detector, in [0, 1] of its 224 px input.

    SSD anchors as in MediaPipe's pose_detection graph: strides 8, 16, 32, 32, 32 with
    fixed size, two anchors per cell per layer, layers of equal stride sharing a grid.
    """
    strides = [8, 16, 32, 32, 32]
    centres = []
    i = 0
    while i < len(strides):
        same = sum(1 for s in strides[i:] if s == strides[i])
        side = int(np.ceil(DETECTOR_SIDE / strides[i]))
        ys, xs = np.mgrid[0:side, 0:side]
        grid = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, 2 * same, axis=1).reshape(-1, 2))
        i += same
    return np.concatenate(centres).astype(np.float32)


@register_detector("person-mediapipe")
class PersonDetector(Detector):
    """People, each with a pixel outline (``Regions.mask``).

    Parameters
    ----------
    threshold : float, default 0.6
        Person detector score below which a detection is dropped.
    mask_threshold : float, default 0.5
        Segmentation probability above which a pixel belongs to a person.
    roi_scale : float, default 1.25
        The region cut out around each person, relative to the circle holding its body.
    min_blob : float, default 0.004
        Smallest share of the frame that a blob found only by the whole-frame
        segmentation must cover to be checked for a person (0 disables blobs).
    threads : int, optional
        Cores for each model run (default: all).
    """

    labels = ("person",)

    def __init__(
        self,
        *,
        threshold: float = 0.6,
        mask_threshold: float = 0.5,
        roi_scale: float = 1.25,
        min_blob: float = 0.004,
        nms_iou: float = 0.3,
        threads: int | None = None,
    ) -> None:
        for name, value in (("threshold", threshold), ("mask_threshold", mask_threshold)):
            if not 0 < value < 1:
                raise PrivisError(f"{name} must be in (0, 1), got {value}")
        if roi_scale <= 0 or min_blob < 0:
            raise PrivisError(f"roi_scale must be > 0 and min_blob >= 0, got {roi_scale} and {min_blob}")
        self.threshold, self.mask_threshold = float(threshold), float(mask_threshold)
        self.roi_scale, self.min_blob, self.nms_iou = float(roi_scale), float(min_blob), float(nms_iou)
        self.threads = int(threads or os.cpu_count() or 1)
        self._local = threading.local()
        self._models()  # a missing model fails here, not on the first frame

    def _models(self) -> SimpleNamespace:
        """This thread's interpreters: LiteRT's may not run on two threads at once."""
        models = getattr(self._local, "models", None)
        if models is None:
            models = SimpleNamespace(
                detector=_interpreter(POSE_DETECTOR, self.threads),
                selfie=_interpreter(SELFIE, self.threads),
                landscape=_interpreter(SELFIE_LANDSCAPE, self.threads),
            )
            self._local.models = models
        return models

    def single_threaded(self) -> PersonDetector:
        return PersonDetector(
            threshold=self.threshold, mask_threshold=self.mask_threshold, roi_scale=self.roi_scale,
            min_blob=self.min_blob, nms_iou=self.nms_iou, threads=1,
        )  # fmt: skip

    def detect(self, frame: np.ndarray) -> Regions:
        h, w = frame.shape[:2]
        rois, scores = self.people(frame)
        masks: list[np.ndarray] = []
        kept: list[int] = []
        for i, roi in enumerate(rois):  # highest score first; one outline per person
            m = self._outline(frame, roi)
            if m is None or any(_overlap(m, k) > 0.5 for k in masks):
                continue  # the segmentation sees no one there (a cat's face), or the same person again
            masks.append(m)
            kept.append(i)
        kept_scores = [float(s) for s in scores[kept]]
        covered = np.logical_or.reduce(masks) if masks else np.zeros((h, w), bool)
        if self.min_blob > 0:
            for blob, score in self._blobs(frame, covered):
                masks.append(blob)
                kept_scores.append(score)
        n = len(masks)
        if not n:
            return Regions.empty()
        return Regions(
            np.array([_bounding_box(m) for m in masks], np.float32).reshape(n, 4),
            label=["person"] * n,
            score=np.array(kept_scores, np.float32),
            mask=masks,
            source=[self.name] * n,
        )

    def people(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Square regions (n, 4 xyxy) around each person the detector finds, and their scores."""
        h, w = frame.shape[:2]
        scale = DETECTOR_SIDE / max(h, w)
        nh, nw = max(round(h * scale), 1), max(round(w * scale), 1)
        top, left = (DETECTOR_SIDE - nh) // 2, (DETECTOR_SIDE - nw) // 2
        x = np.zeros((DETECTOR_SIDE, DETECTOR_SIDE, 3), np.float32)
        x[top : top + nh, left : left + nw] = _resize(frame, nw, nh) / 127.5 - 1
        outputs = sorted(
            self._run(self._models().detector, x), key=lambda t: t.shape[-1]
        )  # scores (…, 1), boxes (…, 12)
        logits, raw = outputs[0][0, :, 0], outputs[1][0]
        score = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -80, 80)))
        keep = np.flatnonzero(score >= self.threshold)
        if not len(keep):
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        anchors, raw = pose_anchors()[keep], raw[keep] / DETECTOR_SIDE
        to_frame = np.array([left, top], np.float32) / DETECTOR_SIDE

        def frame_xy(cols: slice) -> np.ndarray:
            return (raw[:, cols] + anchors - to_frame) * DETECTOR_SIDE / scale

        centre, size = frame_xy(slice(0, 2)), raw[:, 2:4] * DETECTOR_SIDE / scale
        order = nms(np.concatenate([centre - size / 2, centre + size / 2], axis=1), score[keep], self.nms_iou)
        hips, body = frame_xy(slice(4, 6))[order], frame_xy(slice(6, 8))[order]
        half = np.linalg.norm(body - hips, axis=1, keepdims=True) * self.roi_scale
        return np.concatenate([hips - half, hips + half], axis=1).astype(np.float32), score[keep][order].astype(
            np.float32
        )

    def _outline(self, frame: np.ndarray, roi: np.ndarray) -> np.ndarray | None:
        """The person in square `roi`, segmented at the model's scale, as a frame-sized mask."""
        h, w = frame.shape[:2]
        x1, y1, x2, y2 = (int(round(v)) for v in roi)
        side = max(x2 - x1, y2 - y1, 1)
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x1 + side, w), min(y1 + side, h)
        if cx2 <= cx1 or cy2 <= cy1:
            return None
        crop = np.zeros((side, side, 3), np.uint8)
        crop[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1] = frame[cy1:cy2, cx1:cx2]
        prob = self._segment(self._models().selfie, crop)
        inside = _resize(prob, side, side)[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1] > self.mask_threshold
        if not inside.any():
            return None
        mask = np.zeros((h, w), bool)
        mask[cy1:cy2, cx1:cx2] = inside
        return mask

    def _blobs(self, frame: np.ndarray, covered: np.ndarray) -> Iterator[tuple[np.ndarray, float]]:
        """People the first pass missed, with their scores: large blobs of the whole-frame
        segmentation outside `covered` in which the person detector, run on the blob's own
        square, finds someone (it rejects a cup or a car that the segmentation took for one)."""
        import cv2

        h, w = frame.shape[:2]
        models = self._models()
        model = models.landscape if w > h else models.selfie
        prob = _resize(self._segment(model, frame), w, h)
        fg = (prob > self.mask_threshold) & ~covered
        least = self.min_blob * h * w
        if np.count_nonzero(fg) < least:
            return
        count, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] < least:
                continue
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            half = max(bw, bh) * 0.75
            cx, cy = x + bw / 2, y + bh / 2
            x1, y1 = int(max(cx - half, 0)), int(max(cy - half, 0))
            x2, y2 = int(min(cx + half, w)), int(min(cy + half, h))
            _, scores = self.people(frame[y1:y2, x1:x2])
            if len(scores):
                yield labels == i, float(scores[0])

    def _segment(self, interp, image: np.ndarray) -> np.ndarray:  # noqa: ANN001 - LiteRT interpreter
        """Person probability on the model's own grid for an RGB uint8 image."""
        _, mh, mw, _ = interp.get_input_details()[0]["shape"]
        (prob,) = self._run(interp, _resize(image, int(mw), int(mh)).astype(np.float32) / 255.0)
        return prob[0, :, :, 0]

    @staticmethod
    def _run(interp, x: np.ndarray) -> list[np.ndarray]:  # noqa: ANN001 - LiteRT interpreter
        interp.set_tensor(interp.get_input_details()[0]["index"], x[None])
        interp.invoke()
        return [interp.get_tensor(o["index"]) for o in interp.get_output_details()]


def _bounding_box(mask: np.ndarray) -> np.ndarray:
    """xyxy of a non-empty mask's pixels."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], np.float32)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks."""
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    shrink = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
