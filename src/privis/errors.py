"""The exceptions privis raises; each message says what went wrong and what to do."""

from __future__ import annotations


class PrivisError(ValueError):
    """Base of every error privis raises on purpose; the CLI prints its message in one line."""


class RuntimeFailure(PrivisError):
    """The request was sound but privis could not finish it: a model missing from its package,
    a codec, server or worker that failed. The CLI exits 3 for these, 2 for other errors."""


class ModelNotFoundError(RuntimeFailure):
    """A model file that ships inside a package is missing: the message names the package."""


class MediaError(PrivisError):
    """An input image or video cannot be read (missing, corrupt, empty, unsupported)."""


class ImageTooLargeError(MediaError):
    """An image has more pixels than privis accepts (a decompression bomb, an absurd upload)."""


class OutputExistsError(PrivisError):
    """Writing would replace an existing file and `overwrite` was not asked for."""


class UnknownNameError(PrivisError):
    """A registry was asked for a name it does not hold."""
