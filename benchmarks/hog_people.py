"""OpenCV's HOG people detector over a video's frames: an independent check for `removal.py`.

OpenCV 5 dropped ``HOGDescriptor`` from its main module, so this runs in a scratch venv
with ``opencv-python-headless<5`` (``removal.py --hog-python PY``). Prints one JSON list:
per frame, whether HOG finds a person (SVM weight above 0.5).

Usage::

    PY benchmarks/hog_people.py VIDEO
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np


def main() -> int:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    cap = cv2.VideoCapture(sys.argv[1])
    found = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        boxes, weights = hog.detectMultiScale(bgr, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found.append(bool(len(boxes) and float(np.max(weights)) > 0.5))
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
