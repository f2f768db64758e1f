"""YAML nodes of a source profile that know their file and line, so every check can say
where the mistake is (the person writing a profile is not reading Python)."""

from pathlib import Path

import yaml

from import_pipeline.core.errors import ImportFileError


class ProfileError(ImportFileError):
    """A source profile is not valid; the message names its file and line."""


class Node:
    """A YAML node with the path of its file, so every check can point at its line."""

    def __init__(self, node: yaml.Node, path: Path, operation: str | None = None) -> None:
        self.node = node
        self.path = path
        self.operation = operation

    def within(self, operation: str) -> "Node":
        """This node inside a field operation, so its mistakes name the operation too."""
        return Node(self.node, self.path, operation)

    def fail(self, problem: str) -> ProfileError:
        line = self.node.start_mark.line + 1
        where = f"line {line}: {self.operation}: " if self.operation else f"line {line}: "
        return ProfileError(
            str(self.path),
            f"{where}{problem}",
            "Fix the profile (every key has an example in profiles/README.md).",
        )

    def mapping(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail(f"expected a mapping with keys {', '.join(allowed)}")
        items: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            key = Node(key_node, self.path, self.operation).text()
            if allowed and key not in allowed:
                raise Node(key_node, self.path, self.operation).fail(
                    f"unknown key {key!r} (expected one of: {', '.join(allowed)})"
                )
            items[key] = Node(value_node, self.path, self.operation)
        absent = [k for k in required if k not in items]
        if absent:
            raise self.fail(f"missing key(s): {', '.join(absent)}")
        return items

    def free_mapping(self) -> dict[str, "Node"]:
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

    def items(self) -> list["Node"]:
        if isinstance(self.node, yaml.ScalarNode):
            return [self]
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list")
        return [Node(n, self.path, self.operation) for n in self.node.value]

    def texts(self) -> list[str]:
        return [item.text() for item in self.items()]
