"""Errors that reach the user as one clear line and a documented exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_IO = 3


class JzError(Exception):
    """An error the user can act on. ``str(err)`` is the whole message; no traceback is shown."""

    exit_code = EXIT_IO

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class FileReadError(JzError):
    """A file could not be read (exit 3). The message names the file, and sheet/row/column where known."""

    exit_code = EXIT_IO


class StoreError(JzError):
    """The store could not be opened, read or written (exit 3)."""

    exit_code = EXIT_IO


class UsageError(JzError):
    """The command line asked for something impossible (exit 2)."""

    exit_code = EXIT_USAGE
