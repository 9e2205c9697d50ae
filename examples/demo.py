"""`make demo`: anonymize a real photo and a short video made from it.

The photo is scikit-image's astronaut (Eileen Collins, NASA, public domain), which ships
inside the scikit-image package; the video pans across it for three seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from privis.media.video import write_video

ROOT = Path(__file__).resolve().parent.parent / "demo-output"


def make_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    photo = data.astronaut()
    Image.fromarray(photo).save(folder / "astronaut.png")
    # 3 s at 10 fps: a 384x384 window sliding over the 512x512 photo.
    frames = [photo[y : y + 384, y : y + 384] for y in np.linspace(0, 128, 30).astype(int)]
    write_video(folder / "astronaut_pan.mp4", frames, fps=10)


def main() -> int:
    inputs, outputs = ROOT / "input", ROOT / "output"
    make_inputs(inputs)
    privis = Path(sys.executable).with_name("privis")
    cmd = [
        str(privis),
        "anonymize",
        str(inputs),
        "-o",
        str(outputs),
        "--overwrite",
        "--audit",
        str(ROOT / "audit.jsonl"),
    ]
    (ROOT / "audit.jsonl").unlink(missing_ok=True)
    print("$", " ".join(cmd), flush=True)
    code = subprocess.call(cmd)
    if code:
        return code
    print("\ninputs :", *sorted(str(p) for p in inputs.iterdir()), sep="\n  ")
    print("outputs:", *sorted(str(p) for p in outputs.iterdir()), sep="\n  ")
    print("audit  :", ROOT / "audit.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
