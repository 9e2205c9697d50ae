"""OCR engines behind one interface: words with boxes, for finding personal data in images.

Two engines, chosen by name (``--ocr``):

- ``tesseract``: Tesseract 5 (Debian ``tesseract-ocr``), run as a program. Tight word
  boxes on documents, scans and screenshots.
- ``rapidocr``: PP-OCRv6 (small) ONNX models shipped inside the ``rapidocr`` wheel. Reads
  scene text, rotated and curved lines, where Tesseract finds nothing.
- ``auto``: Tesseract first; PP-OCR when Tesseract finds no confident word.

Nothing is downloaded: both engines' models are on disk once installed.

Usage::

    words = create_ocr("tesseract").read(page)  # page: RGB uint8
    [(w.text, w.line) for w in words][:2]       # [('John', 0), ('Smith', 0)]
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from privis.errors import PrivisError, RuntimeFailure
from privis.regions import points_box
from privis.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word:
    """One recognized word: its text, box (x1, y1, x2, y2) in image pixels, confidence in
    [0, 1], and the line it belongs to (words of one line share `line`, in reading order)."""

    text: str
    box: tuple[float, float, float, float]
    score: float
    line: int


class OcrEngine(ABC):
    """Reads the words of an RGB uint8 image, each with its box."""

    name: str = "ocr"

    @abstractmethod
    def read(self, rgb: np.ndarray) -> list[Word]:
        """Words in reading order (line by line)."""


OCR_ENGINES: Registry[OcrEngine] = Registry("OCR engine")
register_ocr = OCR_ENGINES.register


def create_ocr(name: str = "auto", **options: Any) -> OcrEngine:
    """An OCR engine by name: ``tesseract``, ``rapidocr`` or ``auto``."""
    return OCR_ENGINES.create(name, **options)


def _check_image(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PrivisError(f"OCR needs an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return rgb


@register_ocr("tesseract")
class TesseractOcr(OcrEngine):
    """Tesseract 5, run as a program; word boxes from its TSV output.

    Tesseract's OpenMP threads spin for seconds on a large page (5.0 s against 1.0 s for
    an A4 page at 300 dpi on two cores), so it runs single-threaded: documents are
    processed side by side instead.

    Parameters
    ----------
    lang : str, default 'eng'
        Tesseract language(s), e.g. ``'eng+deu'`` (each needs its Debian language pack).
    min_score : float, default 0.0
        Words below this confidence (0-1) are dropped.
    psm : int, default 3
        Tesseract page segmentation mode (3: automatic, 11: sparse text).
    timeout : float, default 120
        Seconds one page may take.
    """

    def __init__(self, *, lang: str = "eng", min_score: float = 0.0, psm: int = 3, timeout: float = 120.0) -> None:
        self.program = shutil.which("tesseract")
        if self.program is None:
            raise PrivisError(
                "the tesseract program is not installed: apt-get install -y tesseract-ocr (or make install)"
            )
        self.lang, self.min_score, self.psm, self.timeout = lang, float(min_score), int(psm), float(timeout)

    def read(self, rgb: np.ndarray) -> list[Word]:
        import cv2

        rgb = _check_image(rgb)
        ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise PrivisError("could not encode the page for tesseract")
        cmd = [str(self.program), "stdin", "stdout", "-l", self.lang, "--psm", str(self.psm), "tsv"]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(cmd, input=png.tobytes(), capture_output=True, env=env, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(f"tesseract took over {self.timeout:.0f} s on one page") from None
        if done.returncode:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeFailure(f"tesseract failed: {reason[-1] if reason else done.returncode}")
        return self._parse(done.stdout.decode("utf-8", errors="replace"))

    def _parse(self, tsv: str) -> list[Word]:
        words: list[Word] = []
        lines: dict[tuple[str, str, str], int] = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5":  # level 5: a word
                continue
            text, conf = cols[11].strip(), float(cols[10])
            if not text or conf < 0 or conf / 100 < self.min_score:
                continue
            line = lines.setdefault((cols[2], cols[3], cols[4]), len(lines))
            x, y, w, h = (float(v) for v in cols[6:10])
            words.append(Word(text, (x, y, x + w, y + h), conf / 100, line))
        return words


@register_ocr("rapidocr")
class RapidOcr(OcrEngine):
    """PP-OCRv6 small (detection, direction and recognition) through rapidocr's ONNX models.

    Parameters
    ----------
    min_score : float, default 0.5
        Lines recognized below this confidence are dropped.
    threads : int, optional
        onnxruntime threads (default: all cores).
    """

    def __init__(self, *, min_score: float = 0.5, threads: int | None = None) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise PrivisError("rapidocr OCR needs rapidocr: pip install 'privis[ocr]'") from None
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        params: dict[str, Any] = {"Global.log_level": "error", "Global.text_score": float(min_score)}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(threads)
        self._engine = RapidOCR(params=params)
        self.min_score = float(min_score)
        self._lock = threading.Lock()

    def text_boxes(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where text is, without reading it: (N, 4) boxes (x1, y1, x2, y2) and (N,) scores
        from PP-OCR's detector alone (a tenth of a second on a 720p frame)."""
        quads, scores = self.text_quads(rgb)
        return points_box(quads), scores

    def text_quads(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Text lines as (N, 4, 2) corner points, clockwise from the top left, and (N,) scores:
        a tilted line keeps its own width and height, which its axis-aligned box loses."""
        rgb = _check_image(rgb)
        # rapidocr sorts the detector's boxes into reading order but not their scores, so
        # each score would belong to another line; lines keep the detector's order here.
        det = self._engine._load_det_model()
        with self._lock:
            det.sorted_boxes = _same_order
            try:
                result: Any = self._engine(np.ascontiguousarray(rgb[..., ::-1]), use_det=True, use_cls=False,
                                           use_rec=False)  # fmt: skip
            finally:
                del det.sorted_boxes
        if result.boxes is None or not len(result.boxes):
            return np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
        quads = np.asarray(result.boxes, np.float32).reshape(-1, 4, 2)
        scores = np.asarray(result.scores if result.scores is not None else np.ones(len(quads)), np.float32)
        return quads, scores

    def read(self, rgb: np.ndarray) -> list[Word]:
        rgb = _check_image(rgb)
        # rapidocr takes OpenCV's BGR order for arrays.
        with self._lock:
            result: Any = self._engine(np.ascontiguousarray(rgb[..., ::-1]), return_word_box=True)
        if not result.txts:
            return []
        words: list[Word] = []
        for line, (quad, text, score, parts) in enumerate(
            zip(result.boxes, result.txts, result.scores, result.word_results, strict=True)
        ):
            for part in parts or [(text, score, quad)]:
                word, conf, box = part
                for piece, piece_box in _split_spaces(str(word), np.asarray(box, float)):
                    words.append(Word(piece, piece_box, float(conf), line))
        return words


def _same_order(boxes: np.ndarray) -> np.ndarray:
    return boxes


def _split_spaces(text: str, quad: np.ndarray) -> list[tuple[str, tuple[float, float, float, float]]]:
    """`text` cut at spaces, each piece with its share of the quad's width (PP-OCR may
    return several words as one)."""
    x1, y1 = quad.min(axis=0)
    x2, y2 = quad.max(axis=0)
    pieces = text.split()
    if len(pieces) <= 1:
        return [(text.strip(), (float(x1), float(y1), float(x2), float(y2)))] if text.strip() else []
    out, start, per_char = [], 0, (x2 - x1) / max(len(text), 1)
    for piece in pieces:
        at = text.index(piece, start)
        start = at + len(piece)
        out.append((piece, (float(x1 + at * per_char), float(y1), float(x1 + start * per_char), float(y2))))
    return out


@register_ocr("auto")
class AutoOcr(OcrEngine):
    """Tesseract, and PP-OCR where Tesseract finds no word above `fallback_below` or the
    image is dark (light text on a dark field: a scan's overlay, an X-ray, a dark screen).

    Tesseract reads documents best but often reads nothing of white text over anatomy or
    other texture, which PP-OCR reads. On dark images both run: the reading with more
    confident characters is kept, with the other's words that lie outside it added."""

    def __init__(self, *, fallback_below: float = 0.6, dark_below: float = 96.0, **options: Any) -> None:
        self.fallback_below, self.dark_below = float(fallback_below), float(dark_below)
        self._tesseract = TesseractOcr(**{k: v for k, v in options.items() if k in ("lang", "psm")})
        self._rapid: RapidOcr | None = None

    def read(self, rgb: np.ndarray) -> list[Word]:
        words = self._tesseract.read(rgb)
        confident = any(w.score >= self.fallback_below and len(w.text) > 1 for w in words)
        dark = float(np.median(rgb[::4, ::4])) < self.dark_below
        if confident and not dark:
            return words
        if self._rapid is None:
            self._rapid = RapidOcr()
        log.debug("tesseract found no confident word or the image is dark; reading with PP-OCR too")
        rapid = self._rapid.read(rgb)
        if not confident:
            return rapid
        return merge_readings(words, rapid)


def _weight(words: Sequence[Word]) -> float:
    return sum(len(w.text) * w.score for w in words)


def merge_readings(a: Sequence[Word], b: Sequence[Word]) -> list[Word]:
    """Two engines' words for one image: the reading with more confident characters, then the
    other's words that overlap none of its words (their lines numbered after its lines)."""
    first, second = (a, b) if _weight(a) >= _weight(b) else (b, a)
    if not first:
        return list(second)

    def outside(w: Word) -> bool:
        x1, y1, x2, y2 = w.box
        area = max((x2 - x1) * (y2 - y1), 1.0)
        for v in first:
            ix = min(x2, v.box[2]) - max(x1, v.box[0])
            iy = min(y2, v.box[3]) - max(y1, v.box[1])
            if ix > 0 and iy > 0 and ix * iy > 0.2 * area:
                return False
        return True

    shift = max(w.line for w in first) + 1
    return [*first, *(Word(w.text, w.box, w.score, w.line + shift) for w in second if outside(w))]


def words_text(words: Sequence[Word]) -> str:
    """The words joined as text: spaces within a line, newlines between lines."""
    out: list[str] = []
    last = None
    for w in words:
        if last is not None:
            out.append("\n" if w.line != last else " ")
        out.append(w.text)
        last = w.line
    return "".join(out)
