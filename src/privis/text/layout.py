"""Where OCR words stand: the columns within a line, and the pieces stacked above each other.

Tesseract joins words at one height into one line even when a wide gap parts them, such as
the left and right corners of a scan's overlay (``KOWALSKI JAN ... ST ELSEWHERE``). Read as
one line, a name runs into the hospital, and a name over a ``DOB`` line is not known to be
over it. `pieces` breaks lines at gaps wider than a few line heights; `pieces_text` writes
the words with the offsets of `words_text` and a mark at each wide gap; `stacked` says
which pieces lie directly above or below each other.

Examples
--------
>>> from privis.text.ocr import Word
>>> words = [Word("KOWALSKI", (10, 10, 90, 24), 1, 0), Word("JAN", (96, 10, 126, 24), 1, 0),
...          Word("CLINIC", (400, 10, 460, 24), 1, 0), Word("DOB", (10, 32, 40, 46), 1, 1)]
>>> pieces_text(words, pieces(words), gap="\\n")
'KOWALSKI JAN\\nCLINIC\\nDOB'
>>> pieces_text(words, pieces(words))
'KOWALSKI JAN|CLINIC\\nDOB'
>>> stacked(pieces(words))[0]
[2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from privis.text.ocr import Word


@dataclass(frozen=True)
class Piece:
    """A run of words on one line with no wide gap: word indices ``first..last`` (inclusive)
    and the box around them."""

    first: int
    last: int
    box: tuple[float, float, float, float]


def pieces(words: Sequence[Word], gap: float = 2.5) -> list[Piece]:
    """The words' lines, broken where the space between two words is over `gap` times the
    taller one's height (an ordinary space is about a third of it)."""
    out: list[Piece] = []
    start = 0
    for i in range(1, len(words) + 1):
        if i < len(words):
            a, b = words[i - 1], words[i]
            height = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
            if b.line == a.line and b.box[0] - a.box[2] <= gap * height:
                continue
        boxes = [w.box for w in words[start:i]]
        box = (min(x[0] for x in boxes), min(x[1] for x in boxes), max(x[2] for x in boxes), max(x[3] for x in boxes))
        out.append(Piece(start, i - 1, box))
        start = i
    return out


def pieces_text(words: Sequence[Word], parts: Sequence[Piece], gap: str = "|") -> str:
    """The words as text with the offsets of `privis.text.ocr.words_text` (so entities found in
    it map to boxes): a space within a piece, a newline between lines, and `gap` (one
    character) at each wide gap within a line. With ``"|"`` the recognizers may let a name
    or an address wrap onto the next line but never run from one column into the next; with
    ``"\\n"`` each piece is a line of its own."""
    if len(gap) != 1:
        raise ValueError(f"gap must be one character (the offsets depend on it), got {gap!r}")
    out: list[str] = []
    for k, p in enumerate(parts):
        if k:
            out.append("\n" if words[p.first].line != words[p.first - 1].line else gap)
        out.append(" ".join(w.text for w in words[p.first : p.last + 1]))
    return "".join(out)


def stacked(parts: Sequence[Piece]) -> dict[int, list[int]]:
    """For each piece, the pieces directly above or below it: overlapping it across, with
    at most one and a half times its height of space between them (overlays set lines
    about 1.5 font sizes apart)."""
    out: dict[int, list[int]] = {i: [] for i in range(len(parts))}
    for i, a in enumerate(parts):
        for j in range(i + 1, len(parts)):
            b = parts[j]
            height = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
            across = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
            space = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
            if across > 0 and -0.3 * height <= space <= 1.6 * height:
                out[i].append(j)
                out[j].append(i)
    return out
