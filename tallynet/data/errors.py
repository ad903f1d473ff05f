"""Exceptions raised by the data loaders.

Both derive from built-in exceptions, so ``except ValueError`` / ``except OSError``
still catch them; the CLI can catch these to print the message without a traceback.
"""


class DataFormatError(ValueError):
    """A data file is not in the expected format (corrupt, truncated, wrong layout).

    The message names the file, the field that is wrong and what was expected.
    """


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the expected one."""


class DownloadError(OSError):
    """A download failed (network error, HTTP error); the message names the URL."""
