"""A real pretrained face recognizer as the re-identification attacker.

dlib's ResNet face recognizer (128-d descriptors, 99.38 % on LFW), shipped in the
``face-recognition-models`` package: `privis.audit.reid` uses it on aligned faces
(``dlib``, ``dlib-obf`` attackers), `privis.audit.reid_photos` on ordinary photos.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from privis.errors import PrivisError

log = logging.getLogger(__name__)

RECOGNIZER_ATTACKERS = ("dlib", "dlib-obf")
# dlib's own threshold: two descriptors closer than this are the same person.
TOLERANCE = 0.6


class FaceRecognizer:
    """dlib's ResNet face descriptor with its 5-point aligner, from ``face-recognition-models``.

    Install with ``pip install 'privis[learn]'`` (``dlib-bin`` and ``face-recognition-models``).
    """

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise PrivisError("the recognizer attack needs dlib: pip install 'privis[learn]' (dlib-bin)") from None
        # Located without importing the package: its __init__ needs pkg_resources, gone from new setuptools.
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise PrivisError("the recognizer attack needs face-recognition-models: pip install 'privis[learn]'")
        models = Path(next(iter(spec.submodule_search_locations))) / "models"
        files = [models / "dlib_face_recognition_resnet_model_v1.dat", models / "shape_predictor_5_face_landmarks.dat"]
        for f in files:
            if not f.is_file():
                raise PrivisError(f"{f}: missing from face-recognition-models; reinstall it")
        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(files[0]))
        self._aligner = dlib.shape_predictor(str(files[1]))

    def describe(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 128) descriptors of the faces at `boxes` (x1, y1, x2, y2) in an RGB uint8 image."""
        rgb = np.ascontiguousarray(rgb)
        out = np.zeros((len(boxes), 128), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, float)):
            rect = self._dlib.rectangle(int(x1), int(y1), int(x2), int(y2))
            shape = self._aligner(rgb, rect)
            out[i] = np.asarray(self._net.compute_face_descriptor(rgb, shape))
        return out


def describe_aligned(recognizer: FaceRecognizer, images: np.ndarray) -> np.ndarray:
    """(N, 128) descriptors of images that are each one aligned face, such as AT&T's:
    the whole image is the face box."""
    box = np.array([[0, 0, images.shape[2], images.shape[1]]])
    rgb = images[..., None].repeat(3, axis=-1) if images.ndim == 3 else images
    return np.concatenate([recognizer.describe(im, box) for im in rgb])


def reference_scores(ref: np.ndarray, ref_labels: np.ndarray, test: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, classes) scores from descriptors: minus the distance to each person's nearest reference."""
    scores = np.full((len(test), n_classes), -np.inf, np.float32)
    for c in np.unique(ref_labels):
        scores[:, c] = -np.linalg.norm(test[:, None] - ref[ref_labels == c][None], axis=2).min(axis=1)
    return scores
