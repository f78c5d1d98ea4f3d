"""PyQt5 objects seen the way PythonQt shows Qt to Slicer modules.

PythonQt exposes Qt properties as attributes (``label.text = "x"``, ``combo.currentText``; a property
wins over a method of the same name), connects signals by their C++ signature
(``button.connect("clicked(bool)", slot)``, calling a slot with as many arguments as it takes), and
wraps every QObject it hands back. ``PQ`` does the same over PyQt5; ``qt_module()`` is a ``qt`` module
whose classes build wrapped objects.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from PyQt5 import QtCore, QtGui, QtWidgets

_ARG_TYPES = {"bool": bool, "int": int, "double": float, "QString": str}


def unwrap(value: Any) -> Any:
    return object.__getattribute__(value, "_o") if isinstance(value, PQ) else value


def wrap(value: Any) -> Any:
    return PQ(value) if isinstance(value, QtCore.QObject) else value


def _arity(slot: Any) -> int | None:
    """How many arguments ``slot`` takes (None: any number)."""
    try:
        params = inspect.signature(slot).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


class PQ:
    """A PythonQt-style view of one PyQt5 QObject."""

    __slots__ = ("_o",)

    def __init__(self, obj: QtCore.QObject) -> None:
        object.__setattr__(self, "_o", obj)

    @property
    def qobject(self) -> QtCore.QObject:
        return self._o

    def _is_property(self, name: str) -> bool:
        return self._o.metaObject().indexOfProperty(name) >= 0

    def __getattr__(self, name: str) -> Any:
        if self._is_property(name):
            return wrap(self._o.property(name))
        attr = getattr(self._o, name)
        if isinstance(attr, QtCore.pyqtBoundSignal) or not callable(attr):
            return wrap(attr)
        return lambda *a, **k: wrap(attr(*map(unwrap, a), **{key: unwrap(v) for key, v in k.items()}))

    def __setattr__(self, name: str, value: Any) -> None:
        if not self._is_property(name):
            raise AttributeError(f"{type(self._o).__name__} has no Qt property {name!r}")
        if not self._o.setProperty(name, unwrap(value)):
            raise AttributeError(f"cannot set {type(self._o).__name__}.{name} to {value!r}")

    def __eq__(self, other: Any) -> bool:
        return unwrap(other) is self._o

    def __hash__(self) -> int:
        return id(self._o)

    def connect(self, signature: str, slot: Any) -> None:
        """Connect a signal given by its C++ signature, e.g. ``"valueChanged(double)"``."""
        name, _, args = signature.partition("(")
        signal = getattr(self._o, name)
        kinds = [_ARG_TYPES.get(a.strip()) for a in args.rstrip(")").split(",") if a.strip()]
        if kinds and all(kinds):
            try:
                signal = signal[kinds[0] if len(kinds) == 1 else tuple(kinds)]
            except (KeyError, TypeError):
                pass
        n = _arity(slot)
        signal.connect(lambda *values: slot(*[wrap(v) for v in (values if n is None else values[:n])]))


def qt_module() -> types.ModuleType:
    """``qt`` as PythonQt offers it: Qt classes that build wrapped objects, enums and plain classes."""
    mod = types.ModuleType("qt", "PythonQt-style view of PyQt5 (Testing/harness/qt_harness/pythonqt.py)")

    def lookup(name: str) -> Any:
        for source in (QtWidgets, QtCore, QtGui):
            if hasattr(source, name):
                cls = getattr(source, name)
                if isinstance(cls, type) and issubclass(cls, QtCore.QObject):
                    return lambda *a, **k: PQ(cls(*map(unwrap, a), **k))
                return cls
        raise AttributeError(f"qt has no {name}")

    mod.__getattr__ = lookup
    return mod
