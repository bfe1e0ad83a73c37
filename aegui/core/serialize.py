"""Strict dataclass <-> JSON conversion for the specs.

Loading is strict on purpose: an unknown key or a value of the wrong type is
reported with its field path, because a misspelt key silently falling back to
a default is the worst kind of bug in a saved experiment.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, get_args, get_origin, get_type_hints


class SpecError(ValueError):
    """One or more problems with a spec; ``issues`` holds each as (path, message)."""

    def __init__(self, issues: list[tuple[str, str]], source: str = ""):
        self.issues = list(issues)
        self.source = source  # the file the spec came from, if any
        text = "; ".join(f"{p}: {m}" if p else m for p, m in self.issues)
        super().__init__(f"{source}: {text}" if source else text)

    @property
    def first_line(self) -> str:
        path, message = self.issues[0]
        more = f" (and {len(self.issues) - 1} more problems)" if len(self.issues) > 1 else ""
        where = f"{self.source}: " if self.source else ""
        return where + (f"{path}: {message}" if path else message) + more


def to_dict(obj: Any) -> Any:
    """A plain JSON-ready structure: dataclasses become dicts, tuples lists."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if get_origin(tp) in (list, tuple):
        return "a list"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {int: "a whole number", float: "a number", str: "text", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, path: str, issues: list[tuple[str, str]]) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            trial: list[tuple[str, str]] = []
            converted = _convert(value, option, path, trial)
            if not trial:
                return converted
        issues.append((path, f"expected {' or '.join(_type_name(o) for o in options)}, found {value!r}"))
        return None
    if origin is typing.Literal:
        choices = get_args(tp)
        if value not in choices:
            issues.append((path, f"must be one of {', '.join(map(repr, choices))}, not {value!r}"))
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            issues.append((path, f"expected a list, found {value!r}"))
            return None
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                issues.append((path, f"expected a list of {len(args)} items, found {len(value)}"))
                return None
            return tuple(_convert(v, a, f"{path}[{i}]", issues) for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{path}[{i}]", issues) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, path, issues)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            issues.append((path, f"expected true or false, found {value!r}"))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            issues.append((path, f"expected a whole number, found {value!r}"))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append((path, f"expected a number, found {value!r}"))
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            issues.append((path, f"expected text, found {value!r}"))
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            issues.append((path, f"expected an object, found {value!r}"))
        return value
    return value


def _from_dict(cls: type, data: Any, path: str, issues: list[tuple[str, str]]) -> Any:
    if not isinstance(data, dict):
        issues.append((path, f"expected an object, found {data!r}"))
        return cls()
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            known = ", ".join(sorted(names))
            issues.append((f"{path}.{key}" if path else key, f"unknown field (known fields: {known})"))
    kwargs = {}
    for name in names:
        if name in data:
            sub = f"{path}.{name}" if path else name
            kwargs[name] = _convert(data[name], hints[name], sub, issues)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        issues.append((path, str(exc)))
        return cls()


def from_dict(cls: type, data: Any) -> Any:
    """Build ``cls`` from plain data, raising SpecError with every problem found."""
    issues: list[tuple[str, str]] = []
    obj = _from_dict(cls, data, "", issues)
    if issues:
        raise SpecError(issues)
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_dict(obj), indent=2, sort_keys=False)


def loads_json(text: str, what: str = "spec") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([("", f"the {what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")])
