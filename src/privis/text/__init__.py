"""Text that identifies people: OCR engines (`ocr`) and, on top, personal-data recognizers."""

from privis.text.ocr import OCR_ENGINES, OcrEngine, Word, create_ocr, register_ocr, words_text

__all__ = ["OCR_ENGINES", "OcrEngine", "Word", "create_ocr", "register_ocr", "words_text"]
