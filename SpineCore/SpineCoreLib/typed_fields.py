"""Typed fields of configs and model cards read from YAML or JSON: every plainly typed field of a
dataclass checked and converted, an error naming the key, the type it needs and the value found."""

from __future__ import annotations

import contextlib

import numpy as np

from .validation import InputError


def coerce_fields(kls: type, raw: dict, where: str) -> dict:
    """``raw`` with the value of every plainly typed field of the dataclass ``kls`` (bool, int, float, str,
    lists, tuples and dicts of them, optional ones) checked and converted; InputError naming the key, the
    type it needs and the value found. YAML 1.1 reads ``2e-4`` as a string: numbers written so count as
    numbers. Fields typed as other dataclasses are left to their own parsers."""
    import typing

    if not isinstance(raw, dict):
        raise InputError(where, f"needs a mapping of keys to values, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(kls)
    return {key: _coerce(value, hints[key], f"{where}: {key}") if key in hints else value
            for key, value in raw.items()}


def _fail(name: str, expected: str, value: object) -> InputError:
    return InputError(name, f"must be {expected}, got {type(value).__name__} {value!r}")


def _coerce(value: object, t: object, name: str) -> object:
    import dataclasses
    import types
    import typing

    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), name)
    if t is bool:
        if isinstance(value, bool):
            return value
        raise _fail(name, "true or false", value)
    if t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise _fail(name, "a whole number", value)
    if t is float:
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is None or not np.isfinite(number):
            raise _fail(name, "a finite number", value)
        return number
    if t is str:
        if isinstance(value, str):
            return value
        raise _fail(name, "text", value)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _fail(name, "a list", value)
        item = args[0] if args else object
        items = [_coerce(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(name, "a mapping", value)
        return {k: _coerce(v, args[1], f"{name}.{k}") for k, v in value.items()} if args else value
    if isinstance(t, type) and dataclasses.is_dataclass(t) and not isinstance(value, dict | t):
        raise _fail(name, "a mapping", value)
    return value
