"""`manifest.json` of a folder batch: the files it should hold and their row counts.

    {"files": [{"name": "customers.csv", "rows": 2},
               {"name": "orders.csv", "profile": "acme_orders"}]}

`files`, `rows` and `profile` are optional: a manifest without them is only a completion
marker; a file's `profile` names the source profile that maps it (else the one matching
its name).
"""

import json
from dataclasses import dataclass, field

from import_pipeline.core.errors import ManifestMismatch, UnreadableFile
from import_pipeline.core.landing import MANIFEST

_FIX = "Make manifest.json list exactly the files of the folder and their data row counts."


@dataclass(frozen=True)
class Manifest:
    """File name (relative to the folder) -> expected data rows (None: not stated).
    `files` is None when the manifest lists no files. `profiles`: file name -> the profile
    the manifest names for it."""

    files: dict[str, int | None] | None = None
    profiles: dict[str, str] = field(default_factory=dict)

    def check_files(self, names: list[str]) -> None:
        """Fail on a listed file that is missing, or a present file that is not listed."""
        if self.files is None:
            return
        missing = sorted(set(self.files) - set(names))
        if missing:
            problem = "manifest.json lists it but the folder does not hold it"
            raise ManifestMismatch(", ".join(missing), problem, _FIX)
        unlisted = sorted(set(names) - set(self.files))
        if unlisted:
            problem = "it is in the folder but manifest.json does not list it"
            raise ManifestMismatch(", ".join(unlisted), problem, _FIX)

    def check_rows(self, name: str, row_count: int) -> None:
        expected = (self.files or {}).get(name)
        if expected is not None and expected != row_count:
            raise ManifestMismatch(
                name, f"manifest.json says {expected} rows but the file has {row_count}", _FIX
            )


def parse_manifest(data: bytes) -> Manifest:
    """Read a manifest; a broken one fails the batch rather than loading unchecked files."""
    try:
        document = json.loads(data or b"{}")
        listed = document.get("files")
        if listed is None:
            return Manifest()
        return Manifest(
            {entry["name"]: _rows(entry.get("rows")) for entry in listed},
            {entry["name"]: _profile(entry["profile"]) for entry in listed if "profile" in entry},
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableFile(
            MANIFEST,
            f"it is not a manifest ({type(exc).__name__}: {exc})",
            'Write {"files": [{"name": "customers.csv", "rows": 2, "profile": "acme"}, ...]} '
            "(or {}).",
        ) from exc


def _profile(value: object) -> str:
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise ValueError(f"profile must be a profile's name, not {value!r}")
    return value


def _rows(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"rows must be a non-negative integer, not {value!r}")
    return value
