"""TOML files plus ``--set key=value`` overrides into a tree of dataclasses.

Unknown keys and values of the wrong type are errors that name the file (or override) and key.
Dataclass fields may be ``bool``, ``int``, ``float``, ``str``, ``Optional`` of those, lists of
those, dicts, or nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from xmner.textfile import TextFileError, read_text

T = TypeVar("T")
log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config value or key that does not fit the dataclass it fills."""


@dataclasses.dataclass(frozen=True)
class Override:
    """A ``key=value`` override and what the user typed to give it, e.g. ``--images all``.

    Errors name ``source``; a plain string override is named ``--set 'key=value'``.
    """

    text: str
    source: str


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; syntax errors name the file and line."""
    path = Path(path)
    try:
        return tomllib.loads(read_text(path, what="TOML tables and keys"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}") from None
    except TextFileError as err:
        raise ConfigError(str(err)) from None


def merge(base: dict, update: dict) -> dict:
    """Recursive dict merge: tables merge key by key, other values replace."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """``a.b=3`` -> ``{"a": {"b": 3}}``; the value is read as TOML, else as a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. train.epochs=3")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _check(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(arg, value, where)
            except ConfigError as err:
                errors.append(err)
        raise errors[0] if errors else ConfigError(f"{where}: unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        return type(value)(_check(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (bool, int, float, str):
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    if isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {tp}, got {value!r}")


def from_dict(cls: type[T], data: dict, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``, checking every key and type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(fields)}")
    kwargs = {key: _check(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:  # a __post_init__ check
        raise ConfigError(f"{where}: {err}") from None


def drop_legacy_keys(data: Mapping[str, Any], legacy: Iterable[str], what: str) -> dict:
    """``data`` without the ``legacy`` keys (settings a class no longer has); logs the dropped."""
    legacy = set(legacy)
    dropped = sorted(legacy & set(data))
    if dropped:
        log.info("%s: dropped legacy key(s) %s (no longer read)", what, dropped)
    return {k: v for k, v in data.items() if k not in legacy}


def to_dict(obj: Any) -> dict:
    """A dataclass tree as plain dicts (JSON/TOML ready)."""
    return dataclasses.asdict(obj)


def load_config(
    cls: type[T], files: list[str | Path], overrides: list[str | Override] | None = None
) -> T:
    """Merge TOML ``files`` in order, then ``--set`` overrides, into dataclass ``cls``.

    An error names the file or the override (``--set 'k=v'``, or an ``Override``'s source, such
    as the command-line flag that set it) whose value first makes the config wrong.
    """
    layers = [(str(path), read_toml(path), False) for path in files]
    for item in overrides or []:
        if not isinstance(item, Override):
            item = Override(item, f"--set {item!r}")
        layers.append((item.source, parse_override(item.text), True))
    data: dict = {}
    for _, layer, _ in layers:
        data = merge(data, layer)
    try:
        return from_dict(cls, data, str(files[-1]) if files else "config")
    except ConfigError as final:
        raise _culprit(cls, layers) or final from None


def _culprit(cls: type, layers: list[tuple[str, dict, bool]]) -> ConfigError | None:
    """The error of the first layer after which the merged config stops loading."""
    data: dict = {}
    for source, layer, override in layers:
        data = merge(data, layer)
        try:
            from_dict(cls, data, "config" if override else source)
        except ConfigError as err:
            return ConfigError(f"{source}: {err}") if override else err
    return None
