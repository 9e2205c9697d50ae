"""Video leak rate (DESIGN.md) on moving-camera clips made from labelled faces_wider photos.

benchmarks/video.py runs deface 1.5.0 on the same five clips: it leaves 0.250 of the
(face, frame) pairs visible (benchmarks/results/video.json). The issue's target is at
most a fifth of that. deface is not installed here, so its figure is a constant. The clips
are the same bytes on every run (`write_video`), so the rate is too, on one machine.
"""

from typer.testing import CliRunner

from privis.audit.detection_eval import leak_rate, load_box_labels
from privis.audit.synthetic import CLIP_SIZE, crowd_photos, pan_zoom_clip
from privis.cli import app
from privis.media.image import read_image
from privis.media.video import write_video

DEFACE_LEAK = 0.2499
runner = CliRunner()


def test_default_video_settings_leak_under_a_fifth_of_deface(data_root, tmp_path):
    labels = load_box_labels(data_root / "faces_wider" / "labels.csv")
    leaked = pairs = 0
    for i, name in enumerate(crowd_photos(labels, 5)):
        image = read_image(data_root / "faces_wider" / name).rgb
        clip = list(pan_zoom_clip(image, labels[name].boxes, frames=90, size=CLIP_SIZE))
        src = write_video(tmp_path / f"clip{i}.mp4", [f for f, _ in clip], fps=30)
        out = tmp_path / f"out{i}.mp4"
        args = [str(src), "-o", str(out), "--method", "fill", "--fill-color", "0,0,0", "--shape", "box", "-q"]
        result = runner.invoke(app, ["anonymize", *args])
        assert result.exit_code == 0, result.output
        r = leak_rate(out, [b for _, b in clip], (0, 0, 0))
        leaked += r["leaked"]
        pairs += r["pairs"]
    assert pairs == 2969  # the clips are what the benchmark measured
    rate = leaked / pairs
    assert rate <= DEFACE_LEAK / 5, f"leak rate {rate:.4f} ({leaked}/{pairs})"


def test_the_clips_are_the_same_bytes_on_every_encode(data_root, tmp_path):
    # At 480 px wide, x264's macroblock tree read memory it never wrote: three encodes of
    # these frames in one process gave three files, and the leak rate moved by 0.01.
    labels = load_box_labels(data_root / "faces_wider" / "labels.csv")
    name = crowd_photos(labels, 5)[2]
    image = read_image(data_root / "faces_wider" / name).rgb
    written = set()
    for k in range(3):
        frames = [f for f, _ in pan_zoom_clip(image, labels[name].boxes, frames=40, size=CLIP_SIZE)]
        written.add(write_video(tmp_path / f"c{k}.mp4", frames, fps=30).read_bytes())
    assert len(written) == 1
