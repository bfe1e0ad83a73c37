"""Strict dataclass <-> JSON conversion for the specs.

Loading is strict on purpose: an unknown key or a value of the wrong type is
reported with its field path, because a misspelt key silently falling back to
a default is the worst kind of bug in a saved experiment. The same goes for the
JSON itself: a key given twice, NaN, a number too large for a float, an integer
of thousands of digits or nesting no spec has are each a SpecError with its
path, never an exception from deep inside the json module.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
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


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message quotes a value, never 2 MB of it, and
    repr escapes line breaks, so the message stays one line."""
    if isinstance(value, str) and len(value) > limit:  # repr of a huge string would copy all of it first
        value = value[:limit]
    if isinstance(value, int) and value.bit_length() > 3 * limit:  # past 4,300 digits repr() raises ValueError
        return f"a whole number of about {int(value.bit_length() * math.log10(2)):,} digits"
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value):,} items"
    try:
        text = repr(value)
    except ValueError:  # such an integer inside a list
        return f"a {type(value).__name__} holding a number too long to write out"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _key_path(path: str, key: Any) -> str:
    """``path.key``, with a key that is long or not a plain word quoted and cut (it came from the file)."""
    name = key if isinstance(key, str) and len(key) <= 60 and re.fullmatch(r"[\w\- ]*", key) else short_repr(key)
    return f"{path}.{name}" if path else name


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
        issues.append((path, f"expected {' or '.join(_type_name(o) for o in options)}, found {short_repr(value)}"))
        return None
    if origin is typing.Literal:
        choices = get_args(tp)
        if value not in choices:
            issues.append((path, f"must be one of {', '.join(map(repr, choices))}, not {short_repr(value)}"))
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            issues.append((path, f"expected a list, found {short_repr(value)}"))
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
            issues.append((path, f"expected true or false, found {short_repr(value)}"))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            issues.append((path, f"expected a whole number, found {short_repr(value)}"))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append((path, f"expected a number, found {short_repr(value)}"))
            return value
        try:
            return float(value)
        except OverflowError:  # an int from a dict, beyond any float (JSON's are refused while parsing)
            issues.append((path, f"{short_repr(value)} is too large for a number"))
            return value
    if tp is str:
        if not isinstance(value, str):
            issues.append((path, f"expected text, found {short_repr(value)}"))
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            issues.append((path, f"expected an object, found {short_repr(value)}"))
        return value
    return value


def _from_dict(cls: type, data: Any, path: str, issues: list[tuple[str, str]]) -> Any:
    if not isinstance(data, dict):
        issues.append((path, f"expected an object, found {short_repr(data)}"))
        return cls()
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            known = ", ".join(sorted(names))
            issues.append((_key_path(path, key), f"unknown field (known fields: {known})"))
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


# A spec nests 4 levels (spec > encoder > layers > a layer). json's parser recurses once per level and
# raises RecursionError near 1,000 of them, so the depth is measured before it parses anything.
MAX_JSON_DEPTH = 32
# The longest number a spec holds is a seed below 2**64 (20 digits). Python refuses to read integers
# of more than 4,300 digits (the conversion is quadratic), with a ValueError that names no field.
MAX_INTEGER_DIGITS = 100
# A string (with its escapes) or one bracket: strings are skipped whole, so brackets inside them do not count.
# The closing quote is optional so that an unterminated string ends the scan at once: a required one made
# '"\\"\\"\\"...' rescan the rest of the text from every quote, quadratic in its length.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class _Refused:
    """A JSON value that parsed but that no spec may hold; its path is found once the whole text is read."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


class _RepeatedKeys(dict):
    """An object in which some key appears more than once; json would silently keep the last value."""

    repeated: list[str]


def _too_deep(text: str, limit: int) -> int | None:
    """The offset of the first bracket that opens level ``limit + 1``, or None."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None


def _where(text: str, offset: int) -> str:
    """'line L, column C' of ``offset``, counted from 1 as json's own messages do."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - line_start + 1}"


def _refusals(data: Any, path: str, issues: list[tuple[str, str]]) -> None:
    """Every refused value and repeated key in parsed JSON, each with its path (depth is bounded already)."""
    if isinstance(data, _Refused):
        issues.append((path, data.why))
    elif isinstance(data, dict):
        if isinstance(data, _RepeatedKeys):
            issues += [(_key_path(path, key), "is given more than once in the same object; give each field once")
                       for key in data.repeated]
        for key, value in data.items():
            _refusals(value, _key_path(path, key), issues)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _refusals(value, f"{path}[{i}]", issues)


def loads_json(text: str, what: str = "spec") -> Any:
    """Parse JSON strictly; anything a spec cannot hold is a SpecError naming where it is."""
    text = text.removeprefix("\ufeff")  # the byte-order mark some Windows editors write; tables accept it too
    deep = _too_deep(text, MAX_JSON_DEPTH)
    if deep is not None:
        raise SpecError([("", f"the {what} nests lists or objects more than {MAX_JSON_DEPTH} deep "
                              f"(at {_where(text, deep)}); a spec needs 4")])
    refused = []  # set while parsing, so that a clean text is not walked a second time

    def refuse(why: str) -> _Refused:
        refused.append(why)
        return _Refused(why)

    def parse_int(literal: str) -> Any:
        digits = len(literal.lstrip("-"))
        if digits > MAX_INTEGER_DIGITS:
            return refuse(f"a whole number of {digits:,} digits; numbers in a {what} have at most {MAX_INTEGER_DIGITS}")
        return int(literal)

    def parse_float(literal: str) -> Any:
        value = float(literal)
        if math.isinf(value):  # 1e400: beyond the largest float (about 1.8e308)
            shown = literal if len(literal) <= 24 else f"{literal[:20]}..."
            return refuse(f"{shown} is too large for a number")
        return value

    def parse_constant(literal: str) -> _Refused:  # NaN, Infinity, -Infinity: not JSON, though json reads them
        return refuse(f"{literal} is not a number; give a finite number")

    def object_from(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        repeated = _RepeatedKeys(obj)
        repeated.repeated = [key for key, count in counts.items() if count > 1]
        refuse("a repeated key")
        return repeated

    try:
        data = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant,
                          object_pairs_hook=object_from)
    except json.JSONDecodeError as exc:
        raise SpecError([("", f"the {what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")])
    if refused:
        issues: list[tuple[str, str]] = []
        _refusals(data, "", issues)
        raise SpecError(issues)
    return data
