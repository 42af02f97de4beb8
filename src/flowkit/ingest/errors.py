"""The one error ingestion raises: what is wrong, in which file, at which line."""

from __future__ import annotations

from pathlib import Path


class IngestError(Exception):
    """A file (or mapping) that cannot be loaded; nothing of it was loaded.

    `str()` names the file, and the line where there is one: `calls.csv, line 7: ...`.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        self.message, self.file, self.line = message, file, line
        where = Path(file).name if file is not None else ""
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}" if where else message)


__all__ = ["IngestError"]
