"""A source profile's YAML -> a `Profile`, checked as it loads.

Every mistake is reported with the profile's path and the line of the offending node
(PyYAML's `start_mark`), because the person writing a profile is not reading Python.
The format is documented key by key in profiles/README.md.
"""

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import available_timezones

import polars as pl
import yaml

from import_pipeline.core.columns import DEFAULT_IMAGE_COLUMNS, MAX_IMAGE_COLUMNS
from import_pipeline.core.drift import DriftPolicy, drift_policies
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.formats import FileFormat
from import_pipeline.core.mapping import EntityMapping, SourceMapping
from import_pipeline.core.parse import ReadOptions
from import_pipeline.core.profile_fields import derived, lookups
from import_pipeline.core.profile_nodes import Node, ProfileError
from import_pipeline.core.rules import DEFAULT_TIMESTAMP_FORMATS, CastOptions, Requirement

TOP_KEYS = (
    "description",
    "files",
    "read",
    "max_reject_rate",
    "rename",
    "forward_fill",
    "derive",
    "lookups",
    "entities",
    "require",
    "partial_rows",
    "images",
    "drift",
)
READ_KEYS = (
    "format",
    "delimiter",
    "encoding",
    "quote",
    "header",
    "skip_rows",
    "timestamp_formats",
    "time_zone",
    "decimal_comma",
    "short_rows",
    "sheet",
    "header_row",
    "excel_dates",
)
ENTITY_KEYS = ("fields", "attributes", "one_row_per", "skip_rows_without")


@dataclass(frozen=True, eq=False)
class ProfileFile:
    """What one profile file says, checked: which files, how to read, cast and map them."""

    files: tuple[str, ...]
    max_reject_rate: float | None
    read: ReadOptions
    cast: CastOptions
    mapping: SourceMapping | None
    require: dict[str, tuple[Requirement, ...]]
    partial_rows: dict[str, tuple[str, ...]]
    images: tuple[str, ...] = DEFAULT_IMAGE_COLUMNS
    drift: dict[str, DriftPolicy] = field(default_factory=dict)


def load_profile_file(path: Path) -> ProfileFile:
    """Parse and check one profile file; raise `ProfileError` at the first mistake."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ProfileError(
            str(path),
            f"{where}it is not valid YAML ({getattr(exc, 'problem', exc)})",
            "Fix the YAML syntax (indentation, quoting of values with ':' or '#').",
        ) from exc
    if root is None:
        raise ProfileError(str(path), "the profile is empty", "Write at least files and entities.")
    top = Node(root, path).mapping(TOP_KEYS, required=("files",))
    files = tuple(top["files"].texts())
    rate = top["max_reject_rate"].number() if "max_reject_rate" in top else None
    if rate is not None and not 0 <= rate <= 1:
        raise top["max_reject_rate"].fail("max_reject_rate is a fraction between 0 and 1")
    read, cast = _read_options(top["read"]) if "read" in top else (ReadOptions(), CastOptions())
    require = _require(top["require"]) if "require" in top else {}
    partial = _partial_rows(top["partial_rows"]) if "partial_rows" in top else {}
    images = _images(top["images"]) if "images" in top else DEFAULT_IMAGE_COLUMNS
    drift = drift_policies(top["drift"]) if "drift" in top else {}
    if "entities" not in top:
        mapped = [k for k in ("rename", "forward_fill", "derive", "lookups") if k in top]
        if mapped:
            raise top[mapped[0]].fail(f"{mapped[0]} needs `entities` (what to map the file to)")
        return ProfileFile(files, rate, read, cast, None, require, partial, images, drift)
    mapping = SourceMapping(
        entities=_entities(top["entities"]),
        rename={k: v.text() for k, v in top["rename"].free_mapping().items()}
        if "rename" in top
        else {},
        helpers={k: derived(v) for k, v in top["derive"].free_mapping().items()}
        if "derive" in top
        else {},
        lookups=lookups(top["lookups"]) if "lookups" in top else (),
        **_forward_fill(top.get("forward_fill")),
    )
    products = mapping.entities.get("products")
    if "images" in top and products is not None and products.attributes is not None:
        dropped = [c for c in images if c not in products.attributes]
        if dropped:
            raise top["images"].fail(
                f"image column(s) {', '.join(dropped)} are not kept: add them to the "
                "products' `attributes` (images are read from there)"
            )
    return ProfileFile(files, rate, read, cast, mapping, require, partial, images, drift)


def _read_options(node: Node) -> tuple[ReadOptions, CastOptions]:
    keys = node.mapping(READ_KEYS)
    file_format = None
    if "format" in keys:
        name = keys["format"].text().lower()
        if name not in [f.value for f in FileFormat]:
            raise keys["format"].fail(f"format is one of {', '.join(FileFormat)}")
        file_format = FileFormat(name)
    read = ReadOptions(
        format=file_format,
        delimiter=_single_char(keys["delimiter"]) if "delimiter" in keys else None,
        quote_char=_single_char(keys["quote"]) if "quote" in keys else '"',
        encoding=_encoding(keys["encoding"]) if "encoding" in keys else "utf-8",
        has_header=keys["header"].flag() if "header" in keys else True,
        skip_rows=_count(keys["skip_rows"]) if "skip_rows" in keys else 0,
        pad_short_rows=_short_rows(keys["short_rows"]) if "short_rows" in keys else False,
        sheet=keys["sheet"].text() if "sheet" in keys else None,
        header_row=_sheet_row(keys["header_row"]) if "header_row" in keys else 1,
    )
    zone = keys["time_zone"].text() if "time_zone" in keys else "UTC"
    if zone != "UTC" and zone not in available_timezones():
        raise keys["time_zone"].fail(f"unknown time zone {zone!r} (use e.g. Europe/London)")
    formats = tuple(keys["timestamp_formats"].texts()) if "timestamp_formats" in keys else ()
    cast = CastOptions(
        timestamp_formats=formats + DEFAULT_TIMESTAMP_FORMATS,
        time_zone=zone,
        decimal_comma=keys["decimal_comma"].flag() if "decimal_comma" in keys else False,
        excel_dates=keys["excel_dates"].flag() if "excel_dates" in keys else False,
    )
    return read, cast


def _images(node: Node) -> tuple[str, ...]:
    """The products' source columns holding image URLs, in position order (at most 10)."""
    columns = tuple(node.texts())
    if not 1 <= len(columns) <= MAX_IMAGE_COLUMNS:
        raise node.fail(f"images names 1 to {MAX_IMAGE_COLUMNS} columns of image URLs")
    return columns


def _short_rows(node: Node) -> bool:
    """`pad` lets records with fewer fields than the header through; `reject` (the
    default) makes them rejects, as a missing field is more often a broken export."""
    value = node.text()
    if value not in ("pad", "reject"):
        raise node.fail("short_rows is pad or reject")
    return value == "pad"


def _encoding(node: Node) -> str:
    name = node.text()
    try:
        codecs.lookup(name)
    except LookupError as exc:
        raise node.fail(f"unknown encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from exc
    return name


def _sheet_row(node: Node) -> int:
    """A spreadsheet row number as the person sees it: 1 is the first row."""
    value = _count(node)
    if value < 1:
        raise node.fail("header_row is a sheet row number, 1 or more")
    return value


def _count(node: Node) -> int:
    value = node.number()
    if value < 0 or value != int(value):
        raise node.fail("expected a whole number, 0 or more")
    return int(value)


def _single_char(node: Node) -> str:
    text = node.text()
    text = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if len(text) != 1:
        raise node.fail("expected a single character (write a tab as '\\t')")
    return text


def _forward_fill(node: Node | None) -> dict:
    if node is None:
        return {}
    keys = node.mapping(("by", "columns"), required=("by", "columns"))
    return {
        "forward_fill_by": tuple(keys["by"].texts()),
        "forward_fill": tuple(keys["columns"].texts()),
    }


def _entities(node: Node) -> dict[str, EntityMapping]:
    entities = {}
    for name, entity_node in node.mapping(tuple(ENTITIES)).items():
        keys = entity_node.mapping(ENTITY_KEYS, required=("fields",))
        spec = ENTITIES[name]
        allowed = tuple(f.name for f in spec.fields if not f.derived)
        fields = {k: derived(v) for k, v in keys["fields"].mapping(allowed).items()}
        missing = [f for f in spec.required_fields if f not in fields]
        if missing:
            raise keys["fields"].fail(f"{name} needs the field(s) {', '.join(missing)}")
        entities[name] = EntityMapping(
            entity=name,
            fields=fields,
            attributes=tuple(keys["attributes"].texts()) if "attributes" in keys else None,
            one_row_per=tuple(keys["one_row_per"].texts()) if "one_row_per" in keys else (),
            skip_rows_without=tuple(keys["skip_rows_without"].texts())
            if "skip_rows_without" in keys
            else (),
        )
    if not entities:
        raise node.fail("map at least one entity")
    return entities


def _partial_rows(node: Node) -> dict[str, tuple[str, ...]]:
    """`partial_rows: {entity: true | [field, ...]}`: the fields whose blank incoming value
    keeps the stored one (true: every field but the key and the version)."""
    partial = {}
    for entity, value in node.mapping(tuple(ENTITIES)).items():
        spec = ENTITIES[entity]
        allowed = tuple(
            f.name
            for f in spec.fields
            if not f.derived and f.name not in (spec.key, spec.version.field)
        )
        if isinstance(value.node, yaml.ScalarNode):
            if value.flag() is not True:
                raise value.fail("partial_rows of an entity is true or a list of its fields")
            partial[entity] = allowed
            continue
        fields = value.texts()
        unknown = [f for f in fields if f not in allowed]
        if unknown:
            raise value.fail(
                f"{', '.join(unknown)} cannot keep a stored value (fields: {', '.join(allowed)})"
            )
        partial[entity] = tuple(fields)
    return partial


REQUIREMENT_KEYS = ("pattern", "length", "min_length", "max_length")
NAMED_FORMATS = ("uuid", "email")


def _require(node: Node) -> dict[str, tuple[Requirement, ...]]:
    """`require: {entity: {field: uuid | email | {pattern, length, min_length,
    max_length}}}`: formats the profile's files must have, each a rule of its own."""
    required = {}
    for entity, fields_node in node.mapping(tuple(ENTITIES)).items():
        allowed = tuple(f.name for f in ENTITIES[entity].fields if not f.derived)
        requirements: list[Requirement] = []
        for name, spec in fields_node.mapping(allowed).items():
            requirements += _requirements(name, spec)
        required[entity] = tuple(requirements)
    return required


def _requirements(name: str, node: Node) -> list[Requirement]:
    if isinstance(node.node, yaml.ScalarNode):
        named = node.text()
        if named not in NAMED_FORMATS:
            raise node.fail(
                f"a required format is one of {', '.join(NAMED_FORMATS)}, or a mapping of "
                f"{', '.join(REQUIREMENT_KEYS)}"
            )
        return [Requirement(name, named)]
    keys = node.mapping(REQUIREMENT_KEYS)
    if not keys:
        raise node.fail(f"write at least one of {', '.join(REQUIREMENT_KEYS)}")
    requirements = []
    if "pattern" in keys:
        pattern = keys["pattern"].text()
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except pl.exceptions.PolarsError as exc:
            raise keys["pattern"].fail(f"the pattern is not a valid regex ({exc})") from exc
        requirements.append(Requirement(name, "pattern", pattern=pattern))
    if "length" in keys:
        length = _count(keys["length"])
        requirements.append(Requirement(name, "length", min_length=length, max_length=length))
    if "min_length" in keys or "max_length" in keys:
        low = _count(keys["min_length"]) if "min_length" in keys else None
        high = _count(keys["max_length"]) if "max_length" in keys else None
        requirements.append(Requirement(name, "length", min_length=low, max_length=high))
    return requirements
