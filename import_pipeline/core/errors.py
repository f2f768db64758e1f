"""Named errors: each message names the file (or the database) and says what to fix.

A row-level problem never raises; it becomes a reject. These are for problems that make
the whole file (or batch) unusable, so the run fails and nothing of it is written.
"""


class ImportFileError(Exception):
    """A file (or batch) cannot be loaded as it is; the message says what to fix."""

    def __init__(self, file_name: str, problem: str, fix: str) -> None:
        self.file_name = file_name
        self.problem = problem
        self.fix = fix
        super().__init__(f"{type(self).__name__}: {file_name}: {problem}. {fix}")


class EmptyFile(ImportFileError):
    """The file has no bytes, or a header and no data rows."""


class UndecodableFile(ImportFileError):
    """The bytes are not text in the declared encoding."""


class UnreadableFile(ImportFileError):
    """The bytes do not parse as the file's format (CSV, NDJSON, Parquet, a workbook)."""


class UnreadableWorkbook(UnreadableFile):
    """The bytes are not a workbook the reader can open (damaged, encrypted, or not one)."""


class MissingSheet(ImportFileError):
    """The workbook has no sheet of the name its source profile gives."""


class EmptySheet(EmptyFile):
    """The workbook's sheet has no cells at or below its header row."""


class UnknownEntity(ImportFileError):
    """Neither the file name nor a profile says which entity the file holds."""


class MissingColumns(ImportFileError):
    """Columns that an entity requires are not in the file."""


class TooManyRejects(ImportFileError):
    """The batch's reject rate is above the configured threshold."""


class FileChanged(ImportFileError):
    """The file's bytes changed after it landed; the new version is a new batch."""


class MovedBatchMissing(ImportFileError):
    """The batch that loaded is neither where it landed nor where the processed-prefix mode
    moved it (its copy was deleted or replaced), so it cannot be read again."""


class ManifestMismatch(ImportFileError):
    """A folder batch does not hold what its `manifest.json` lists (files or row counts)."""


class DuplicateColumns(ImportFileError):
    """The header names a column twice, so which one a field reads would be a guess."""


class ReservedColumns(ImportFileError):
    """The file has a column named like one the pipeline adds (`_row`, `_errors`, ...)."""


class DatabaseProblem(Exception):
    """The database of record cannot be used right now; the message says what to check and
    never quotes the connection string."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{type(self).__name__}: {problem}. {fix}")


class DatabaseUnavailable(DatabaseProblem):
    """The server cannot be reached or refused the connection, or the connection dropped."""


class DatabaseTimeout(DatabaseProblem):
    """A statement, a lock wait or the server's answer took longer than its bound."""


class LoadCancelled(Exception):
    """A person asked the run to stop; the load stopped between two chunks."""
