"""`plate-net`: licence plates found by privis's own network, shipped inside the package.

No pretrained plate detector ships in a package (README, "Plates"), and PP-OCR's text
detector misses turned, dark and far plates and costs about 2 s a photo. `PlateNet` is a
small segmenter privis trains itself (`privis.learn.plate_train`, one command, CPU) on
synthetic plates of many countries and permissively licensed real ones, made hard at
random: turned, bent by a lens, far, at night. It marks plate pixels at a quarter of
the input resolution; each marked blob becomes the turned rectangle around it, and the
region is that rectangle's bounding box, so the mask covers the whole plate at any tilt.
The model file (``models/plate_net.onnx``, 1.5 MB) and its training data are described in
the README ("Plates").
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.detect.nms import nms
from privis.detect.onnx import cpu_session
from privis.errors import ModelNotFoundError
from privis.regions import Regions, points_box

MODEL_FILE = "plate_net.onnx"
STRIDE = 4  # the network's output is a quarter of its input
PLATE_NET_THRESHOLD = 0.5


CHECK_FILE = "plate_check.onnx"
CROP_SIZE = (96, 32)  # (width, height) of the upright crop the second look classifies
PLATE_CHECK_THRESHOLD = 0.7  # chosen on a validation split (README, "Plates"; benchmarks/plate_check_threshold.py)


def plate_crop(frame: np.ndarray, quad: np.ndarray, size: tuple[int, int] = CROP_SIZE) -> np.ndarray:
    """The plate in `quad` ((4, 2) corners of a turned rectangle) cut out upright, with some context
    around it, as a (height, width, 3) uint8 crop: what the second look sees.

    >>> crop = plate_crop(np.zeros((100, 200, 3), np.uint8), np.array([[50, 40], [150, 40], [150, 60], [50, 60]]))
    >>> crop.shape
    (32, 96, 3)
    """
    import cv2

    (cx, cy), (rw, rh), angle = cv2.minAreaRect(np.asarray(quad, np.float32))
    if rw < rh:  # the long side across
        rw, rh, angle = rh, rw, angle + 90
    if angle > 45:
        angle -= 180
    w, h = size
    rw, rh = max(rw * 1.2, 2.0), max(rh * 1.5, 2.0)
    a = np.deg2rad(angle)
    ux, uy = np.cos(a), np.sin(a)
    src = np.array(
        [[cx - ux * rw / 2 + uy * rh / 2, cy - uy * rw / 2 - ux * rh / 2],
         [cx + ux * rw / 2 + uy * rh / 2, cy + uy * rw / 2 - ux * rh / 2],
         [cx + ux * rw / 2 - uy * rh / 2, cy + uy * rw / 2 + ux * rh / 2]], np.float32)  # fmt: skip
    dst = np.array([[0, 0], [w, 0], [w, h]], np.float32)
    m = cv2.getAffineTransform(src, dst)
    return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def model_path(name: str = MODEL_FILE) -> Path:
    """The ONNX file `name` inside the installed privis package."""
    path = Path(str(resources.files("privis.detect") / "models" / name))
    if not path.exists():
        raise ModelNotFoundError(
            f"the plate model {path} is missing: reinstall privis, or rebuild it with "
            "`python -m privis.learn.plate_train --data ../shared/data --out " + str(path) + "`"
        )
    return path


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities (float32) from the networks' logits."""
    return (1 / (1 + np.exp(-logits))).astype(np.float32)


@lru_cache(maxsize=4)
def _session(path: str, threads: int):  # noqa: ANN202 - onnxruntime session
    """One session per model file and thread count, shared by every detector."""
    return cpu_session(path, threads)


@register_detector("plate-net")
class PlateNetDetector(Detector):
    """Licence plates at any tilt, size and light, from privis's own ONNX network.

    Parameters
    ----------
    threshold : float, default PLATE_NET_THRESHOLD
        Score a region needs: the peak plate probability of its blob.
    pixel_threshold : float, default 0.4
        Plate probability a pixel needs to belong to a blob (the blob's extent).
    max_side : int, default 1600
        Frames with a longer side are scaled down to this first (plates in a 12 MP photo
        are big; the work stays bounded).
    coarse_side : int, default 640
        A second pass at this long side finds plates too big for the first (close-ups);
        skipped when the frame is already that small.
    upscale : float, default 2
        Frames small enough to fit `max_side` this many times enlarged get a second pass
        at that size: a plate under 16 px spans under four of the network's output cells
        and is often missed at 1x (a photo scaled down to 300-600 px, a small video). The
        pass costs no more than one frame at `max_side`. 1 turns it off.
    min_height : float, default 6
        Smallest plate height in frame pixels.
    grow : float, default 1.15
        Each turned rectangle is enlarged by this factor about its centre: the network's
        blob stops just inside the plate's edge.
    check : float or None, default PLATE_CHECK_THRESHOLD
        The second look: each proposal is cut out upright (`plate_crop`) and a small
        classifier, trained on the network's own proposals, must rate it at least this
        plate-like. None skips it (more recall, many more false regions on textured
        scenes). A region's score is then the geometric mean of both.
    model, check_model : path, optional
        Other ONNX files with the same inputs and outputs (retrained models).
    threads : int, default 0
        onnxruntime threads (0: its default, all cores).
    """

    labels = ("plate",)

    def __init__(
        self,
        *,
        threshold: float = PLATE_NET_THRESHOLD,
        pixel_threshold: float = 0.4,
        max_side: int = 1600,
        coarse_side: int = 640,
        upscale: float = 2.0,
        min_height: float = 6.0,
        grow: float = 1.15,
        check: float | None = PLATE_CHECK_THRESHOLD,
        model: str | Path | None = None,
        check_model: str | Path | None = None,
        threads: int = 0,
    ) -> None:
        if not (0 < threshold < 1 and 0 < pixel_threshold < 1):
            raise ValueError(f"threshold and pixel_threshold must be in (0, 1), got {threshold}, {pixel_threshold}")
        if max_side < 64 or coarse_side < 64:
            raise ValueError(f"max_side and coarse_side must be at least 64, got {max_side}, {coarse_side}")
        self.threshold, self.pixel_threshold = float(threshold), float(pixel_threshold)
        self.max_side, self.coarse_side = int(max_side), int(coarse_side)
        if upscale < 1:
            raise ValueError(f"upscale must be at least 1 (1 turns the enlarged pass off), got {upscale}")
        self.upscale = float(upscale)
        self.min_height, self.grow = float(min_height), float(grow)
        self.model = Path(model) if model is not None else model_path()
        if not self.model.exists():
            raise ModelNotFoundError(f"plate model {self.model} not found")
        if check is not None and not 0 <= check < 1:
            raise ValueError(f"check must be in [0, 1) or None, got {check}")
        self.check = None if check is None else float(check)
        if check_model is not None:
            self.check_model: Path | None = Path(check_model)
        else:
            self.check_model = model_path(CHECK_FILE) if self.check is not None else None
        if self.check_model is not None and not self.check_model.exists():
            raise ModelNotFoundError(f"plate check model {self.check_model} not found")
        self.threads = int(threads)
        self._run = _session(str(self.model), self.threads)
        self._check = _session(str(self.check_model), self.threads) if self.check_model is not None else None

    def _scales(self, h: int, w: int) -> list[float]:
        """The frame scales looked at: fit to `max_side`, plus close-ups or an enlarged pass."""
        scales = [min(1.0, self.max_side / max(h, w))]
        if max(h, w) * scales[0] > 1.25 * self.coarse_side:
            scales.append(self.coarse_side / max(h, w))
        if self.upscale > 1 and max(h, w) * self.upscale <= self.max_side:
            scales.append(self.upscale)
        return scales

    def single_threaded(self) -> PlateNetDetector:
        clone = object.__new__(PlateNetDetector)
        clone.__dict__.update(self.__dict__, threads=1, _run=_session(str(self.model), 1))
        if self.check_model is not None:
            clone._check = _session(str(self.check_model), 1)
        return clone

    def detect(self, frame: np.ndarray) -> Regions:
        quads, scores = self.proposals(frame)
        rated = self.rate(frame, quads) if self.check is not None and len(quads) else None
        return self.decide(frame.shape[:2], quads, scores, rated, self.check)

    def proposals(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's candidate plates at every scale `detect` looks at: (N, 4, 2) quads and their scores."""
        h, w = frame.shape[:2]
        quads, scores = [], []
        for s in self._scales(h, w):
            q, sc = self._pass(frame, s)
            quads.append(q)
            scores.append(sc)
        return np.concatenate(quads), np.concatenate(scores)

    def decide(self, size: tuple[int, int], quads: np.ndarray, scores: np.ndarray, rated: np.ndarray | None,
               check: float | None) -> Regions:  # fmt: skip
        """The regions `detect` returns from `proposals` and their second-look ratings `rated`,
        with the second look's threshold `check` (None: every proposal; a sweep of
        thresholds rates once and decides many times)."""
        h, w = size
        if check is not None and rated is not None and len(quads):
            keep = rated >= check
            quads, scores = quads[keep], np.sqrt(scores[keep] * rated[keep]).astype(np.float32)
        boxes = points_box(quads) if len(quads) else np.zeros((0, 4), np.float32)
        if len(self._scales(h, w)) > 1 and len(boxes):
            keep = nms(boxes, scores, 0.3)
            boxes, scores, quads = boxes[keep], scores[keep], quads[keep]
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        n = len(boxes)
        return Regions(boxes, label=["plate"] * n, score=scores, source=[self.name] * n,
                       data={"quad": quads.reshape(n, 4, 2)})  # fmt: skip

    def rate(self, frame: np.ndarray, quads: np.ndarray) -> np.ndarray:
        """The second look's plate probability for each (4, 2) quad of `frame`."""
        if self._check is None:
            raise ModelNotFoundError("this detector was built with check=None and no check_model")
        crops = np.stack([plate_crop(frame, q) for q in quads]).transpose(0, 3, 1, 2).astype(np.float32) / 255
        logits = self._check.run(None, {"crop": crops})[0][:, 0]
        return _sigmoid(logits)

    def probability(self, frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Plate probability per 4×4 cell of `frame` scaled by `scale` (float32, 0-1)."""
        import cv2

        h, w = frame.shape[:2]
        sw, sh = max(32, round(w * scale)), max(32, round(h * scale))
        img = frame if (sw, sh) == (w, h) else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        ph, pw = -(-sh // 32) * 32, -(-sw // 32) * 32
        x = np.zeros((1, 3, ph, pw), np.float32)
        x[0, :, :sh, :sw] = img.transpose(2, 0, 1) * np.float32(1 / 255)
        logits = self._run.run(None, {"image": x})[0][0, 0]
        return _sigmoid(logits[: -(-sh // STRIDE), : -(-sw // STRIDE)])

    def _pass(self, frame: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Turned plate rectangles ((n, 4, 2) corners in frame pixels) and scores at one scale."""
        import cv2

        prob = self.probability(frame, scale)
        blobs = (prob >= self.pixel_threshold).astype(np.uint8)
        count, comp, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
        quads, scores = [], []
        unit = STRIDE / scale
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] < 2:
                continue
            x, y, cw, ch = stats[i, :4]
            part = comp[y : y + ch, x : x + cw] == i
            ys, xs = np.nonzero(part)
            pts = np.stack([xs + x, ys + y], 1).astype(np.float32)
            # Each cell is a 4x4 square: take its corners so one-row blobs keep their height.
            corners = (pts[:, None, :] + np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)).reshape(-1, 2)
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(corners)
            if min(rw, rh) * unit < self.min_height:
                continue
            peak = float(prob[y : y + ch, x : x + cw][part].max())
            if peak < self.threshold:
                continue
            rect = ((cx * unit, cy * unit), (rw * unit * self.grow, rh * unit * self.grow), angle)
            quads.append(cv2.boxPoints(rect))
            scores.append(peak)
        if not quads:
            return np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
        return np.array(quads, np.float32), np.array(scores, np.float32)
