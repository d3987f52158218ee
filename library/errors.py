"""The content library's exceptions: one base class so callers can catch them all.

Messages are bilingual, Chinese first, and name the file (and line) they are about, because
the people who read them are village cultural workers fixing a document by hand.
"""

from __future__ import annotations


class LibraryError(Exception):
    """Base class of every error the content library raises on purpose."""


class DatabaseError(LibraryError):
    """The database could not be opened or written (permissions, disk, lock)."""


class CovenantNotFound(LibraryError):
    """No covenant (or version) with the requested slug exists."""


class CovenantFileError(LibraryError):
    """A covenant source cannot be read or understood: empty, binary, undecodable, malformed."""

    def __init__(self, message: str, *, source: str = "<text>", line: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.line = line


class CovenantSchemaError(CovenantFileError):
    """A YAML covenant parses as YAML but does not follow the covenant schema."""


class NoClausesFound(CovenantFileError):
    """The text holds no clause in any numbering style the parser knows."""


class DuplicateClause(CovenantFileError):
    """Two clauses carry the same number; `lines` are the source lines of both."""

    def __init__(self, message: str, *, source: str, number: int, lines: tuple[int, int]) -> None:
        super().__init__(message, source=source, line=lines[1])
        self.number = number
        self.lines = lines
