"""A profile's field operations (YAML) -> derivations, checked as they load.

A field is a source column name or a mapping with exactly one operation. Operations whose
input is an operand (the expression vocabulary of core/expressions.py) take a column name
(text), a constant (a number) or another operation (a mapping), so they nest. Every mistake
names the profile's file, the line and the operation. The vocabulary is documented with
an example per key in profiles/README.md.
"""

import re
from collections.abc import Callable
from dataclasses import replace

import polars as pl
import yaml

from import_pipeline.core import derive, expressions
from import_pipeline.core.derive import Condition, Derived
from import_pipeline.core.lookups import BadLookupTable, Lookup, read_table
from import_pipeline.core.profile_nodes import Node


def derived(node: Node) -> Derived:
    """One field's derivation: a column name, or a mapping with exactly one operation."""
    if isinstance(node.node, yaml.ScalarNode):
        return derive.column(node.text())
    keys = node.mapping(tuple(OPERATIONS) + ("else",))
    ops = [k for k in keys if k != "else"]
    if len(ops) != 1 or ("else" in keys and ops != ["when"]):
        raise node.fail(f"write exactly one of: {', '.join(OPERATIONS)}")
    operation = ops[0]
    return OPERATIONS[operation](keys[operation].within(operation), keys)


def operand(node: Node) -> Derived:
    """An operation's input: a number is a constant, text a column, a mapping an operation."""
    if isinstance(node.node, yaml.ScalarNode):
        value = node.value()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return derive.constant(str(value))
    return derived(node)


LOOKUP_KEYS = ("column", "table", "key", "value", "default")


def lookups(node: Node) -> tuple[Lookup, ...]:
    """`lookups: {name: {column, table: {file | batch_file}, key, value, default}}`: each
    adds a helper column `name`; a `file` table is read now, beside the profile."""
    parsed = []
    for name, spec in node.free_mapping().items():
        keys = spec.within("lookup").mapping(LOOKUP_KEYS, required=LOOKUP_KEYS[:4])
        table = keys["table"].mapping(("file", "batch_file"))
        if len(table) != 1:
            raise keys["table"].fail("write one of file (beside the profile) or batch_file")
        key, value = keys["key"].text(), keys["value"].text()
        default = operand(keys["default"]) if "default" in keys else None
        lookup = Lookup(name, keys["column"].text(), key, value, default)
        if "file" in table:
            path = node.path.parent / table["file"].text()
            if not path.is_file():
                raise table["file"].fail(f"there is no {path.name} beside the profile")
            try:
                lookup = Lookup(
                    **{**vars(lookup), "table": read_table(path, path.name, key, value)}
                )
            except BadLookupTable as exc:
                raise table["file"].fail(f"{exc.file_name}: {exc.problem}") from exc
        else:
            lookup = replace(lookup, batch_file=table["batch_file"].text())
        parsed.append(lookup)
    return tuple(parsed)


def _when(node: Node, siblings: dict[str, Node]) -> Derived:
    cases = []
    for case in node.items():
        keys = case.mapping(("if", "then"), required=("if", "then"))
        test = keys["if"].mapping(("column", *derive.CONDITION_TESTS), required=("column",))
        tests = [t for t in test if t != "column"]
        if len(tests) != 1:
            raise keys["if"].fail(f"write one test: {', '.join(derive.CONDITION_TESTS)}")
        value_node = test[tests[0]]
        value = value_node.texts() if tests[0] == "one_of" else value_node.value()
        if tests[0] == "matches":
            _regex(value_node)
        condition = Condition(test["column"].text(), tests[0], value)
        cases.append((condition, derived(keys["then"])))
    if not cases:
        raise node.fail("write at least one case")
    otherwise = derived(siblings["else"]) if "else" in siblings else None
    return derive.when(cases, otherwise)


def _map(node: Node, _: dict) -> Derived:
    keys = node.mapping(("column", "values", "others"), required=("column", "values"))
    values = {k: v.text() for k, v in keys["values"].free_mapping().items()}
    others = keys["others"].text() if "others" in keys else "keep"
    if others not in ("keep", "null"):
        raise keys["others"].fail("others is keep or null")
    return derive.value_map(keys["column"].text(), values, keep_others=others == "keep")


def _scale(node: Node, _: dict) -> Derived:
    keys = node.mapping(("column", "divide_by"), required=("column", "divide_by"))
    divisor = keys["divide_by"].number()
    if divisor == 0:
        raise keys["divide_by"].fail("divide_by must not be 0")
    return derive.scaled(keys["column"].text(), divisor)


def _split(node: Node, _: dict) -> Derived:
    keys = node.mapping(("column", "separator", "part"), required=("column", "part"))
    part = keys["part"].text()
    if part not in ("first", "rest"):
        raise keys["part"].fail("part is first or rest")
    separator = keys["separator"].text() if "separator" in keys else " "
    return derive.split(keys["column"].text(), separator, rest=part == "rest")


def _first(node: Node, _: dict) -> Derived:
    keys = node.mapping(("column", "by"), required=("column", "by"))
    return derive.first_in_group(keys["column"].text(), keys["by"].texts())


def _join(node: Node, _: dict) -> Derived:
    keys = node.mapping(("columns", "separator"), required=("columns",))
    separator = keys["separator"].text() if "separator" in keys else " "
    return derive.join(keys["columns"].texts(), separator)


def _row_number(node: Node, _: dict) -> Derived:
    keys = node.mapping(("by",), required=("by",))
    return derive.row_number(keys["by"].texts())


def _constant(node: Node, _: dict) -> Derived:
    value = node.value()
    if value is None:
        raise node.fail("a constant needs a value")
    return derive.constant(str(value))


def _template(node: Node, _: dict) -> Derived:
    text = node.text()
    if not derive.placeholders(text):
        raise node.fail("a template needs at least one {column} placeholder")
    return derive.template(text)


def _arithmetic(operation: str) -> Callable[[Node, dict], Derived]:
    def parse(node: Node, _: dict) -> Derived:
        operands = node.items() if isinstance(node.node, yaml.SequenceNode) else []
        if len(operands) < 2:
            raise node.fail("expected a list of two or more operands (columns or numbers)")
        return expressions.arithmetic(operation, [operand(o) for o in operands])

    return parse


def _whole(node: Node, low: int, what: str) -> int:
    value = node.value()
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise node.fail(f"{what} is a whole number, {low} or more")
    return value


def _regex(node: Node) -> str:
    pattern = node.text()
    try:
        re.compile(pattern)
        pl.select(pl.lit("").str.contains(pattern))
    except (re.error, pl.exceptions.PolarsError) as exc:
        raise node.fail(f"the pattern is not a valid regex ({exc})") from exc
    return pattern


def _side(keys: dict[str, Node], allowed: tuple[str, ...], default: str) -> str:
    side = keys["side"].text() if "side" in keys else default
    if side not in allowed:
        raise keys["side"].fail(f"side is {' or '.join(allowed)}")
    return side


def _round(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "digits"), required=("value",))
    digits = _whole(keys["digits"], 0, "digits") if "digits" in keys else 0
    return expressions.rounded(operand(keys["value"]), digits)


def _extract(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "pattern", "group"), required=("value", "pattern"))
    pattern = _regex(keys["pattern"])
    group = _whole(keys["group"], 0, "group") if "group" in keys else 1
    if group > re.compile(pattern).groups:
        raise keys["pattern"].fail(f"the pattern has no group {group} (write it in parentheses)")
    return expressions.extract(operand(keys["value"]), pattern, group)


def _replace(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "pattern", "with"), required=("value", "pattern"))
    replacement = str(keys["with"].value() or "") if "with" in keys else ""
    return expressions.replace(operand(keys["value"]), _regex(keys["pattern"]), replacement)


def _trim(node: Node, _: dict) -> Derived:
    if not isinstance(node.node, yaml.MappingNode) or "value" not in _keys(node):
        return expressions.trim(operand(node), None, "both")
    keys = node.mapping(("value", "chars", "side"), required=("value",))
    chars = keys["chars"].text() if "chars" in keys else None
    side = _side(keys, ("both", "start", "end"), "both")
    return expressions.trim(operand(keys["value"]), chars, side)


def _pad(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "length", "with", "side"), required=("value", "length"))
    fill = keys["with"].text() if "with" in keys else " "
    if len(fill) != 1:
        raise keys["with"].fail("pad with a single character")
    length = _whole(keys["length"], 1, "length")
    side = _side(keys, ("start", "end"), "start")
    return expressions.pad(operand(keys["value"]), length, fill, side)


def _concat(node: Node, _: dict) -> Derived:
    parts = node.items() if isinstance(node.node, yaml.SequenceNode) else []
    if len(parts) < 2:
        raise node.fail("expected a list of two or more parts (columns or operations)")
    return expressions.concat([operand(p) for p in parts])


def _format(node: Node) -> str:
    text = node.text()
    if "%" not in text:
        raise node.fail("a format is strftime text such as '%d/%m/%Y %H:%M'")
    return text


def _parse_time(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "format"), required=("value", "format"))
    return expressions.parse_time(operand(keys["value"]), _format(keys["format"]))


def _time_part(node: Node, _: dict) -> Derived:
    keys = node.mapping(("value", "part", "format"), required=("value", "part"))
    part = keys["part"].text()
    if part not in expressions.TIME_PARTS:
        raise keys["part"].fail(f"part is one of {', '.join(expressions.TIME_PARTS)}")
    format = _format(keys["format"]) if "format" in keys else None
    return expressions.time_part(operand(keys["value"]), part, format)


def _keys(node: Node) -> set[str]:
    return {Node(k, node.path).text() for k, _ in node.node.value}


OPERATIONS: dict[str, Callable[[Node, dict], Derived]] = {
    "column": lambda node, _: derive.column(node.text()),
    "constant": _constant,
    "template": _template,
    "row_number": _row_number,
    "first": _first,
    "coalesce": lambda node, _: derive.coalesce([derived(n) for n in node.items()]),
    "join": _join,
    "map": _map,
    "when": _when,
    "lower": lambda node, _: expressions.lower(operand(node)),
    "upper": lambda node, _: expressions.upper(operand(node)),
    "abs": lambda node, _: derive.absolute(node.text()),
    "scale": _scale,
    "split": _split,
    **{name: _arithmetic(name) for name in expressions.ARITHMETIC},
    "round": _round,
    "extract": _extract,
    "replace": _replace,
    "trim": _trim,
    "pad": _pad,
    "concat": _concat,
    "parse_time": _parse_time,
    "time_part": _time_part,
}
"""Field operations by their YAML key."""
