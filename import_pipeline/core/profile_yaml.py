"""A source profile's YAML -> a `Profile`, checked as it loads.

Every mistake is reported with the profile's path and the line of the offending node
(PyYAML's `start_mark`), because the person writing a profile is not reading Python.
The format is documented in README.md ("Adding a source profile").
"""

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import available_timezones

import yaml

from import_pipeline.core import derive
from import_pipeline.core.derive import Condition, Derived
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.formats import FileFormat
from import_pipeline.core.mapping import EntityMapping, SourceMapping
from import_pipeline.core.parse import ReadOptions
from import_pipeline.core.rules import DEFAULT_TIMESTAMP_FORMATS, CastOptions


class ProfileError(ImportFileError):
    """A source profile is not valid; the message names its file and line."""


class _Node:
    """A YAML node with the path of its file, so every check can point at its line."""

    def __init__(self, node: yaml.Node, path: Path) -> None:
        self.node = node
        self.path = path

    def fail(self, problem: str) -> ProfileError:
        line = self.node.start_mark.line + 1
        return ProfileError(
            str(self.path),
            f"line {line}: {problem}",
            "Fix the profile (see README.md, 'Adding a source profile').",
        )

    def mapping(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail(f"expected a mapping with keys {', '.join(allowed)}")
        items: dict[str, _Node] = {}
        for key_node, value_node in self.node.value:
            key = _Node(key_node, self.path).text()
            if allowed and key not in allowed:
                raise _Node(key_node, self.path).fail(
                    f"unknown key {key!r} (expected one of: {', '.join(allowed)})"
                )
            items[key] = _Node(value_node, self.path)
        absent = [k for k in required if k not in items]
        if absent:
            raise self.fail(f"missing key(s): {', '.join(absent)}")
        return items

    def free_mapping(self) -> dict[str, "_Node"]:
        return self.mapping(allowed=())

    def value(self) -> object:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail("expected a single value")
        return yaml.SafeLoader("").construct_object(self.node)

    def text(self) -> str:
        value = self.value()
        if value is None or isinstance(value, bool):
            raise self.fail("expected text")
        return str(value)

    def flag(self) -> bool:
        value = self.value()
        if not isinstance(value, bool):
            raise self.fail("expected true or false")
        return value

    def number(self) -> float:
        value = self.value()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail("expected a number")
        return float(value)

    def items(self) -> list["_Node"]:
        if isinstance(self.node, yaml.ScalarNode):
            return [self]
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list")
        return [_Node(n, self.path) for n in self.node.value]

    def texts(self) -> list[str]:
        return [item.text() for item in self.items()]


TOP_KEYS = (
    "description",
    "files",
    "read",
    "max_reject_rate",
    "rename",
    "forward_fill",
    "derive",
    "entities",
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
)
ENTITY_KEYS = ("fields", "attributes", "one_row_per", "skip_rows_without")


@dataclass(frozen=True, eq=False)
class ProfileFile:
    """What one profile file says, checked: which files, how to read, cast and map them."""

    files: tuple[str, ...]
    max_reject_rate: float | None
    read: ReadOptions
    cast: CastOptions
    mapping: SourceMapping


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
    top = _Node(root, path).mapping(TOP_KEYS, required=("files", "entities"))
    files = tuple(top["files"].texts())
    rate = top["max_reject_rate"].number() if "max_reject_rate" in top else None
    if rate is not None and not 0 <= rate <= 1:
        raise top["max_reject_rate"].fail("max_reject_rate is a fraction between 0 and 1")
    read, cast = _read_options(top["read"]) if "read" in top else (ReadOptions(), CastOptions())
    mapping = SourceMapping(
        entities=_entities(top["entities"]),
        rename={k: v.text() for k, v in top["rename"].free_mapping().items()}
        if "rename" in top
        else {},
        helpers={k: _derived(v) for k, v in top["derive"].free_mapping().items()}
        if "derive" in top
        else {},
        **_forward_fill(top.get("forward_fill")),
    )
    return ProfileFile(files, rate, read, cast, mapping)


def _read_options(node: _Node) -> tuple[ReadOptions, CastOptions]:
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
    )
    zone = keys["time_zone"].text() if "time_zone" in keys else "UTC"
    if zone != "UTC" and zone not in available_timezones():
        raise keys["time_zone"].fail(f"unknown time zone {zone!r} (use e.g. Europe/London)")
    formats = tuple(keys["timestamp_formats"].texts()) if "timestamp_formats" in keys else ()
    cast = CastOptions(
        timestamp_formats=formats + DEFAULT_TIMESTAMP_FORMATS,
        time_zone=zone,
        decimal_comma=keys["decimal_comma"].flag() if "decimal_comma" in keys else False,
    )
    return read, cast


def _short_rows(node: _Node) -> bool:
    """`pad` lets records with fewer fields than the header through; `reject` (the
    default) makes them rejects, as a missing field is more often a broken export."""
    value = node.text()
    if value not in ("pad", "reject"):
        raise node.fail("short_rows is pad or reject")
    return value == "pad"


def _encoding(node: _Node) -> str:
    name = node.text()
    try:
        codecs.lookup(name)
    except LookupError as exc:
        raise node.fail(f"unknown encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from exc
    return name


def _count(node: _Node) -> int:
    value = node.number()
    if value < 0 or value != int(value):
        raise node.fail("expected a whole number, 0 or more")
    return int(value)


def _single_char(node: _Node) -> str:
    text = node.text()
    text = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if len(text) != 1:
        raise node.fail("expected a single character (write a tab as '\\t')")
    return text


def _forward_fill(node: _Node | None) -> dict:
    if node is None:
        return {}
    keys = node.mapping(("by", "columns"), required=("by", "columns"))
    return {
        "forward_fill_by": tuple(keys["by"].texts()),
        "forward_fill": tuple(keys["columns"].texts()),
    }


def _entities(node: _Node) -> dict[str, EntityMapping]:
    entities = {}
    for name, entity_node in node.mapping(tuple(ENTITIES)).items():
        keys = entity_node.mapping(ENTITY_KEYS, required=("fields",))
        spec = ENTITIES[name]
        allowed = tuple(f.name for f in spec.fields if not f.derived)
        fields = {k: _derived(v) for k, v in keys["fields"].mapping(allowed).items()}
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


def _derived(node: _Node) -> Derived:
    """One field's derivation: a column name, or a mapping with exactly one operation."""
    if isinstance(node.node, yaml.ScalarNode):
        return derive.column(node.text())
    keys = node.mapping(tuple(OPERATIONS) + ("else",))
    ops = [k for k in keys if k != "else"]
    if len(ops) != 1 or ("else" in keys and ops != ["when"]):
        raise node.fail(f"write exactly one of: {', '.join(OPERATIONS)}")
    return OPERATIONS[ops[0]](keys[ops[0]], keys)


def _when(node: _Node, siblings: dict[str, _Node]) -> Derived:
    cases = []
    for case in node.items():
        keys = case.mapping(("if", "then"), required=("if", "then"))
        test = keys["if"].mapping(("column", *derive.CONDITION_TESTS), required=("column",))
        tests = [t for t in test if t != "column"]
        if len(tests) != 1:
            raise keys["if"].fail(f"write one test: {', '.join(derive.CONDITION_TESTS)}")
        value_node = test[tests[0]]
        value = value_node.texts() if tests[0] == "one_of" else value_node.value()
        condition = Condition(test["column"].text(), tests[0], value)
        cases.append((condition, _derived(keys["then"])))
    if not cases:
        raise node.fail("write at least one case")
    otherwise = _derived(siblings["else"]) if "else" in siblings else None
    return derive.when(cases, otherwise)


def _map(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("column", "values", "others"), required=("column", "values"))
    values = {k: v.text() for k, v in keys["values"].free_mapping().items()}
    others = keys["others"].text() if "others" in keys else "keep"
    if others not in ("keep", "null"):
        raise keys["others"].fail("others is keep or null")
    return derive.value_map(keys["column"].text(), values, keep_others=others == "keep")


def _scale(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("column", "divide_by"), required=("column", "divide_by"))
    divisor = keys["divide_by"].number()
    if divisor == 0:
        raise keys["divide_by"].fail("divide_by must not be 0")
    return derive.scaled(keys["column"].text(), divisor)


def _split(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("column", "separator", "part"), required=("column", "part"))
    part = keys["part"].text()
    if part not in ("first", "rest"):
        raise keys["part"].fail("part is first or rest")
    separator = keys["separator"].text() if "separator" in keys else " "
    return derive.split(keys["column"].text(), separator, rest=part == "rest")


def _first(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("column", "by"), required=("column", "by"))
    return derive.first_in_group(keys["column"].text(), keys["by"].texts())


def _join(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("columns", "separator"), required=("columns",))
    separator = keys["separator"].text() if "separator" in keys else " "
    return derive.join(keys["columns"].texts(), separator)


def _row_number(node: _Node, _: dict) -> Derived:
    keys = node.mapping(("by",), required=("by",))
    return derive.row_number(keys["by"].texts())


def _constant(node: _Node, _: dict) -> Derived:
    value = node.value()
    if value is None:
        raise node.fail("a constant needs a value")
    return derive.constant(str(value))


def _template(node: _Node, _: dict) -> Derived:
    text = node.text()
    if not derive.placeholders(text):
        raise node.fail("a template needs at least one {column} placeholder")
    return derive.template(text)


OPERATIONS: dict[str, Callable[[_Node, dict], Derived]] = {
    "column": lambda node, _: derive.column(node.text()),
    "constant": _constant,
    "template": _template,
    "row_number": _row_number,
    "first": _first,
    "coalesce": lambda node, _: derive.coalesce([_derived(n) for n in node.items()]),
    "join": _join,
    "map": _map,
    "when": _when,
    "lower": lambda node, _: derive.lower(node.text()),
    "abs": lambda node, _: derive.absolute(node.text()),
    "scale": _scale,
    "split": _split,
}
"""Field operations by their YAML key; each is documented in core/derive.py."""
