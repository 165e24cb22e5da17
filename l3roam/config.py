"""YAML configuration to validated, frozen dataclasses.

Every daemon describes its configuration as frozen dataclasses; ``load_file``
reads YAML and builds them, collecting *every* problem at once as
(dotted key, reason) so a user fixes a file in one pass.  Unknown keys are
errors.  A dataclass may define ``check(self) -> list[ConfigProblem]`` for
rules that span several fields; keys it reports are relative to itself.

Pure module apart from reading the file: no sockets, no netlink.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Path``,
``IPv4Address``, ``IPv4Network``, ``IPv4Interface``, ``IPv6Network``, ``MacAddress``, ``Endpoint``,
``Literal[...]``, ``X | None``, ``list[X]``, ``tuple[X, ...]``,
``dict[str, X]`` and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from l3roam.errors import ConfigError, ConfigProblem

T = TypeVar("T")

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class MacAddress(str):
    """A MAC address in canonical lower-case colon form."""

    def __new__(cls, value: str) -> "MacAddress":
        text = str(value).strip().lower().replace("-", ":")
        if not _MAC_RE.match(text):
            raise ValueError(f"not a MAC address: {value!r}")
        return super().__new__(cls, text)

    @property
    def packed(self) -> bytes:
        return bytes.fromhex(self.replace(":", ""))


class Endpoint(str):
    """``host:port`` (IPv6 hosts in brackets); ``.host`` and ``.port`` split it."""

    def __new__(cls, value: str) -> "Endpoint":
        host, sep, port = str(value).rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not host:port: {value!r}")
        return super().__new__(cls, value)

    @property
    def host(self) -> str:
        return self.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.rpartition(":")[2])


class _Problems:
    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, key: str, problem: str) -> None:
        self.items.append(ConfigProblem(key, problem))


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


_FAILED = object()  # a value that could not be converted (its problem is recorded)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return {
            str: "a string",
            int: "an integer",
            float: "a number",
            bool: "true or false",
            ipaddress.IPv4Address: "an IPv4 address",
            ipaddress.IPv4Network: "an IPv4 prefix (a.b.c.d/len)",
            ipaddress.IPv4Interface: "an IPv4 address with prefix length",
            ipaddress.IPv6Network: "an IPv6 prefix",
            ipaddress.IPv6Address: "an IPv6 address",
            MacAddress: "a MAC address (aa:bb:cc:dd:ee:ff)",
            Endpoint: "host:port",
            Path: "a path",
        }.get(tp, tp.__name__)
    return str(tp)


def _convert(tp: Any, value: Any, key: str, problems: _Problems) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return _convert(args[0], value, key, problems)
        sub = _Problems()
        for arg in args:
            result = _convert(arg, value, key, sub)
            if result is not _FAILED:
                return result
        problems.add(key, f"expected one of {', '.join(_type_name(a) for a in args)}, got {value!r}")
        return _FAILED
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            problems.add(key, f"must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
            return _FAILED
        return value
    if origin in (list, tuple):
        args = get_args(tp)
        if not isinstance(value, list):
            problems.add(key, f"expected a list, got {type(value).__name__}")
            return _FAILED
        item_tp = args[0] if args else Any
        items = []
        for i, v in enumerate(value):
            item = _convert(item_tp, v, _join(key, i), problems)
            if item is not _FAILED:  # a bad item is reported and left out, so
                items.append(item)   # checks of the whole still run on the rest
        return tuple(items) if origin is tuple else items
    if origin is dict:
        key_tp, val_tp = get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            problems.add(key, f"expected a mapping, got {type(value).__name__}")
            return _FAILED
        out = {}
        for k, v in value.items():
            ck = _convert(key_tp, k, _join(key, str(k)), problems)
            cv = _convert(val_tp, v, _join(key, str(k)), problems)
            if ck is not _FAILED and cv is not _FAILED:
                out[ck] = cv
        return out
    if dataclasses.is_dataclass(tp):
        obj = _build(tp, value, key, problems)
        return _FAILED if obj is None else obj
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            problems.add(key, f"expected true or false, got {value!r}")
            return _FAILED
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(key, f"expected an integer, got {value!r}")
            return _FAILED
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(key, f"expected a number, got {value!r}")
            return _FAILED
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.add(key, f"expected a string, got {value!r}")
            return _FAILED
        return value
    if tp in (ipaddress.IPv4Network, ipaddress.IPv6Network):
        try:
            return tp(str(value), strict=True)
        except ValueError as exc:
            problems.add(key, f"expected {_type_name(tp)}, got {value!r} ({exc})")
            return _FAILED
    if tp in (ipaddress.IPv4Address, ipaddress.IPv4Interface, ipaddress.IPv6Address, MacAddress, Path,
              Endpoint):
        if not isinstance(value, str):
            problems.add(key, f"expected {_type_name(tp)}, got {value!r}")
            return _FAILED
        try:
            return tp(value)
        except ValueError:
            problems.add(key, f"expected {_type_name(tp)}, got {value!r}")
            return _FAILED
    raise TypeError(f"config type {tp!r} is not supported")  # a programming error


def _build(cls: type[T], data: Any, prefix: str, problems: _Problems) -> T | None:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.add(prefix, f"expected a mapping, got {type(data).__name__}")
        return None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for k in data:
        if k not in fields:
            known = ", ".join(sorted(fields))
            problems.add(_join(prefix, str(k)), f"unknown key (known keys: {known})")
    kwargs: dict[str, Any] = {}
    failed_required = False
    for name, f in fields.items():
        key = _join(prefix, name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name in data:
            value = _convert(hints[name], data[name], key, problems)
            if value is not _FAILED:
                kwargs[name] = value
            elif required:
                failed_required = True
        elif required:
            problems.add(key, "required key is missing")
            failed_required = True
    if failed_required:
        return None
    # a field that failed falls back to its default, so cross-field checks still
    # run and every problem is reported in one pass
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        for p in check():
            problems.add(_join(prefix, p.key) if p.key else prefix, p.problem)
    return obj


def load_data(cls: type[T], data: Any, source: str = "<config>") -> T:
    """Build ``cls`` from already-parsed data; raise ConfigError with every problem."""
    problems = _Problems()
    obj = _build(cls, data, "", problems)
    if problems.items or obj is None:
        raise ConfigError(source, problems.items or [ConfigProblem("", "empty configuration")])
    return obj


def load_text(cls: type[T], text: str, source: str = "<config>") -> T:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, [ConfigProblem("", f"not valid YAML ({where}): {what}")]) from None
    return load_data(cls, data, source)


def load_file(cls: type[T], path: str | Path) -> T:
    """Read a YAML file into ``cls``; errors name the file, the key and the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read: {exc.strerror}")]) from None
    return load_text(cls, text, str(path))
