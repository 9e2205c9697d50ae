"""Detectors: objects that find what identifies people in a frame, chosen by name.

Every built-in is imported here so that registration never depends on what the user
imported; heavy backends (onnxruntime) load only when a detector is built.
"""

from privis.detect import centerface as _centerface  # noqa: F401  (registers "face-centerface")
from privis.detect import person as _person  # noqa: F401  (registers "person-mediapipe")
from privis.detect import plate_net as _plate_net  # noqa: F401  (registers "plate-net")
from privis.detect import plate_text as _plate_text  # noqa: F401  (registers "plate-text")
from privis.detect import text_pii as _text_pii  # noqa: F401  (registers "text-pii")
from privis.detect.base import (
    DETECTORS,
    Detector,
    available_detectors,
    create_detector,
    register_detector,
)
from privis.detect.nms import nms

# What each --targets label runs by default.
DEFAULT_FOR_LABEL = {
    "face": "face-centerface",
    "plate": "plate-net",
    "person": "person-mediapipe",
    "text": "text-pii",
}

__all__ = [
    "DEFAULT_FOR_LABEL",
    "DETECTORS",
    "Detector",
    "available_detectors",
    "create_detector",
    "nms",
    "register_detector",
]
