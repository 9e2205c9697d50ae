"""privis: private computer vision.

Find what identifies people in images and video (faces first) and hide it on the
device, with measured recall.

>>> import privis
>>> from skimage import data
>>> out, regions = privis.Anonymizer(method="pixelate").image(data.astronaut())
>>> len(regions) >= 1
True
>>> privis.obfuscate(data.camera()[:64, :64], "dp-pixelate", epsilon=0.5, cell=16, m=16).shape
(64, 64)
"""

import os as _os

# onnxruntime >= 1.2x on Linux writes a device id and an event cache under ~/.cache and
# uploads usage telemetry unless this is set before it loads. A privacy tool sends nothing.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from privis.auditlog import AuditLog
from privis.config import Settings, load_settings
from privis.detect import available_detectors, create_detector, register_detector
from privis.errors import MediaError, ModelNotFoundError, OutputExistsError, PrivisError
from privis.jobs import anonymize_paths, count
from privis.obfuscate import available_obfuscators, create_obfuscator, obfuscate, register_obfuscator
from privis.pipeline import Anonymized, Anonymizer
from privis.policy import Policy
from privis.regions import Region, Regions

__version__ = "0.1.0"

__all__ = [
    "Anonymized",
    "Anonymizer",
    "AuditLog",
    "MediaError",
    "ModelNotFoundError",
    "OutputExistsError",
    "Policy",
    "PrivisError",
    "Region",
    "Regions",
    "Settings",
    "__version__",
    "anonymize_paths",
    "available_detectors",
    "available_obfuscators",
    "create_detector",
    "count",
    "create_obfuscator",
    "load_settings",
    "obfuscate",
    "register_detector",
    "register_obfuscator",
]
