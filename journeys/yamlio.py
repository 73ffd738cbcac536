"""Read YAML into a typed model, turning syntax and model errors into ConfigErrors with line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from journeys.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
#: libyaml's safe loader where installed (ten times faster), else PyYAML's own.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _node_at(root: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """Follow a pydantic error location through the composed YAML tree, as deep as it goes."""
    node = root
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                return node
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node
    return node


def _describe(loc: tuple[int | str, ...]) -> str:
    """A readable path such as `rules[3].stage`."""
    out = ""
    for key in loc:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file, keeping its node tree for line numbers; syntax errors become ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("the config file does not exist", where=str(path),
                          fix="check the path given to --config.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (byte {exc.start})", where=str(path),
                          fix="save the config as UTF-8 in your editor.") from None
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = exc.context_mark
        started = (f" ({exc.context} that starts on line {context.line + 1})"
                   if context and exc.context and context.line != (mark.line if mark else -1) else "")
        raise ConfigError(f"this is not valid YAML: {exc.problem}{started}", where=f"{path}{line}",
                          fix="check the indentation and that every list item starts with '- ' "
                              "and every key is followed by ': '.") from None
    except yaml.YAMLError as exc:  # pragma: no cover - all PyYAML parse errors are marked
        raise ConfigError(f"this is not valid YAML: {exc}", where=str(path)) from None
    return data, root


def load_model(path: Path, model: type[M], what: str) -> M:
    """Load `path` as `model`; every model error is reported with its line and a fix."""
    data, root = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"a {what} must be a mapping of keys to values, but the file holds "
                          f"{type(data).__name__}", where=str(path),
                          fix=f"start from a shipped {what} in pathway_configs/.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            node = _node_at(root, loc)
            line = f"line {node.start_mark.line + 1}" if node is not None else "?"
            lines.append(f"  {line}, {_describe(loc)}: {err['msg']}")
        raise ConfigError(f"the {what} does not fit the model:\n" + "\n".join(lines),
                          where=str(path),
                          fix="correct the lines named above; the JSON Schema in "
                              "pathway_configs/ lists every key and its allowed values.") from None


def locate(path: Path, locations: list[tuple[int | str, ...]]) -> list[int | None]:
    """The line of each location (as pydantic writes them) in a YAML file that has already loaded."""
    _, root = read_yaml(path)
    out: list[int | None] = []
    for loc in locations:
        node = _node_at(root, loc)
        out.append(node.start_mark.line + 1 if node is not None else None)
    return out
