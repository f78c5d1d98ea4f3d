"""A stand-in for the parts of 3D Slicer that PyPI's ``slicer-core`` lacks, so module files run under pytest.

``install()`` adds, only where real Slicer is absent (no ``slicer.app``):

* ``slicer.ScriptedLoadableModule`` with four classes. Differences from Slicer:
  ``ScriptedLoadableModule(parent=None)`` fills a plain namespace when no parent is given, does
  not register the module in ``slicer.modules`` and loads no icon; ``resourcePath`` resolves
  against the folder of the module's own file. ``ScriptedLoadableModuleWidget`` raises
  RuntimeError when instantiated (there is no GUI). ``ScriptedLoadableModuleLogic`` is complete
  for parameter nodes (singleton ``vtkMRMLScriptedModuleNode`` tagged and attributed with the
  module name) but has no ``getModuleName``/``setDefaultParameters`` or progress helpers.
  ``ScriptedLoadableModuleTest`` is a ``unittest.TestCase`` whose ``delayDisplay`` only logs
  and whose ``takeScreenshot`` does nothing. The module exports only these four names, so a
  module file that relies on ``vtk``/``qt``/``slicer`` leaking out of the star import fails here.
* ``slicer.parameterNodeWrapper``: ``parameterNodeWrapper`` plus ``WithinRange``, ``Minimum``,
  ``Choice`` (validators raising ValueError; here a value of the wrong type raises TypeError)
  and ``Default``. Fields may be str, int, float, bool, Enum (stored by member name),
  ``pathlib.Path`` and ``vtkMRMLNode`` subclasses (stored as node references whose role is the
  field name), optionally ``Optional``/``Annotated``; defaults are validated when the class is
  decorated, and written into the node when a wrapper is made on it. Values are
  stored as Slicer stores them (``str(value)``, e.g. ``"20"``, ``"0.0"``, ``"True"``). Not
  supported: lists, tuples, dicts, unions of several types, ``@parameterPack``, ``isCached``.
  ``connectGui``/``disconnectGui`` do nothing unless ``Testing/harness/qt_harness`` is installed, which binds
  real Qt widgets with Slicer 5.10's connector rules.
* ``slicer.i18n``: ``tr`` and ``translate`` return the text unchanged.
* ``qt`` and ``ctk`` modules in ``sys.modules`` in which every attribute is an inert dummy class
  (instantiable, subclassable, every attribute and call gives another dummy): enough to import
  and define classes, nothing behaves like Qt.
* ``slicer.util``: ``delayDisplay``, ``infoDisplay``, ``warningDisplay``, ``errorDisplay`` and
  ``showStatusMessage`` log instead of opening dialogs; ``getModuleLogic(name)`` makes the module's
  Logic (Slicer returns its widget's, which the widget's ``setup`` made the same way); ``tryWithErrorDisplay`` re-raises
  without a dialog or wait cursor (as Slicer does when testing is enabled).

``slicer.app`` is deliberately not provided: Logic code must not need it.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import pathlib
import sys
import types
import typing
import unittest
from typing import Any

import slicer
import slicer.util

# --- qt / ctk: inert dummies -------------------------------------------------------------------


class _DummyMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _DummyMeta(name, (_Dummy,), {})


class _Dummy(metaclass=_DummyMeta):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Dummy()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Dummy()


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        cls = _DummyMeta(name, (_Dummy,), {})
        setattr(self, name, cls)
        return cls


# --- slicer.i18n ---------------------------------------------------------------------------------


def tr(text: str) -> str:
    return text


def translate(context: str, text: str) -> str:
    return text


# --- slicer.ScriptedLoadableModule --------------------------------------------------------------


class ScriptedLoadableModule:
    def __init__(self, parent: Any = None) -> None:
        self.parent = parent if parent is not None else types.SimpleNamespace()
        self.moduleName = type(self).__name__
        for attr, value in (("title", self.moduleName), ("categories", []), ("dependencies", []),
                            ("contributors", []), ("helpText", ""), ("acknowledgementText", ""), ("hidden", False)):
            setattr(self.parent, attr, value)

    def resourcePath(self, filename: str) -> str:
        module_file = sys.modules[type(self).__module__].__file__
        return os.path.join(os.path.dirname(module_file), "Resources", filename)


class ScriptedLoadableModuleWidget:
    def __init__(self, parent: Any = None) -> None:
        raise RuntimeError(f"{type(self).__name__} needs Slicer's Qt GUI; the headless stand-in has none")


class ScriptedLoadableModuleLogic:
    def __init__(self, parent: Any = None) -> None:
        name = type(self).__name__
        self.moduleName = name[: -len("Logic")] if name.endswith("Logic") else name
        self.isSingletonParameterNode = True

    def getParameterNode(self) -> Any:
        if self.isSingletonParameterNode:
            node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
            if node is not None:  # a scene close resets singletons, attributes included: as Slicer, restore it
                if node.GetAttribute("ModuleName") != self.moduleName:
                    node.SetAttribute("ModuleName", self.moduleName)
                return node
        return slicer.mrmlScene.AddNode(self.createParameterNode())

    def getAllParameterNodes(self) -> list[Any]:
        scene, kind = slicer.mrmlScene, "vtkMRMLScriptedModuleNode"
        nodes = [scene.GetNthNodeByClass(i, kind) for i in range(scene.GetNumberOfNodesByClass(kind))]
        return [n for n in nodes if n.GetAttribute("ModuleName") == self.moduleName]

    def createParameterNode(self) -> Any:
        node = slicer.vtkMRMLScriptedModuleNode()
        node.SetName(slicer.mrmlScene.GenerateUniqueName(self.moduleName))
        node.SetAttribute("ModuleName", self.moduleName)
        if self.isSingletonParameterNode:
            node.SetSingletonTag(self.moduleName)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message: str, requestedDelay: int | None = None, msec: int | None = None) -> None:
        logging.info(message)

    def takeScreenshot(self, name: str, description: str, type: int = -1) -> None:
        pass


# --- slicer.parameterNodeWrapper ----------------------------------------------------------------


class WithinRange:
    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value: Any) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value {value!r} is not within range [{self.minimum}, {self.maximum}]")


class Minimum(WithinRange):
    def __init__(self, minimum: float) -> None:
        super().__init__(minimum, float("inf"))


class Choice:
    def __init__(self, choices: typing.Iterable[Any]) -> None:
        self.choices = tuple(choices)

    def validate(self, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f"Value {value!r} is not one of {self.choices}")


class Default:
    def __init__(self, value: Any) -> None:
        self.value = value


_MISSING = object()


class _Field:
    """One annotated field: how it is stored in the scripted module node and validated."""

    def __init__(self, name: str, annotation: Any, default: Any) -> None:
        self.name = name
        self.annotation = annotation  # as written, for choosing a GUI connector
        extras: tuple[Any, ...] = ()
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *rest = typing.get_args(annotation)
            extras = tuple(rest)
        args = typing.get_args(annotation)
        self.optional = type(None) in args
        if self.optional:
            (annotation,) = [a for a in args if a is not type(None)]
        self.type = annotation
        self.validators = [e for e in extras if hasattr(e, "validate")]
        defaults = [e.value for e in extras if isinstance(e, Default)]
        default = defaults[0] if defaults and default is _MISSING else default
        self.is_node = isinstance(annotation, type) and issubclass(annotation, slicer.vtkMRMLNode)
        if default is _MISSING:
            default = self._type_default()
        self.default = default
        if default is not None or not (self.optional or self.is_node):
            self.check(default)

    def _type_default(self) -> Any:
        if self.is_node or self.optional:
            return None
        if isinstance(self.type, type) and issubclass(self.type, enum.Enum):
            return next(iter(self.type))
        if self.type in (str, int, float, bool, pathlib.Path):
            return self.type()
        raise TypeError(f"parameter {self.name!r}: type {self.type!r} is not supported by the stand-in")

    def check(self, value: Any) -> Any:
        if value is None:
            if not (self.optional or self.is_node):
                raise ValueError(f"parameter {self.name!r} cannot be None")
            return None
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is pathlib.Path and isinstance(value, str):
            value = pathlib.Path(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise TypeError(f"parameter {self.name!r} expects {self.type.__name__}, got {type(value).__name__}")
        for v in self.validators:
            v.validate(value)
        return value

    def read(self, node: Any) -> Any:
        if self.is_node:
            return node.GetNodeReference(self.name)
        text = node.GetParameter(self.name)
        if text == "" and self.optional and self.type is not str:
            return None
        if self.type is bool:
            return text == "True"
        if isinstance(self.type, type) and issubclass(self.type, enum.Enum):
            return self.type[text]
        return self.type(text)

    def write(self, node: Any, value: Any) -> None:
        value = self.check(value)
        if self.is_node:
            node.SetNodeReferenceID(self.name, value.GetID() if value is not None else None)
        elif value is None:
            node.SetParameter(self.name, "")
        else:
            node.SetParameter(self.name, value.name if isinstance(value, enum.Enum) else str(value))

    def stored(self, node: Any) -> bool:
        return node.GetNodeReferenceID(self.name) is not None if self.is_node else node.HasParameter(self.name)


GUI_BINDER: Any = None  # set by Testing/harness/qt_harness: binds widgets as Slicer's connectors do


def parameterNodeWrapper(cls: type) -> type:
    """Turn the annotated attributes of ``cls`` into properties stored in a vtkMRMLScriptedModuleNode."""
    module_globals = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else None
    hints = typing.get_type_hints(cls, globalns=module_globals, include_extras=True)
    fields = {n: _Field(n, a, cls.__dict__.get(n, _MISSING)) for n, a in hints.items() if not n.startswith("_")}

    def make_property(f: _Field) -> property:
        return property(lambda self: f.read(self.parameterNode), lambda self, v: f.write(self.parameterNode, v))

    def __init__(self: Any, parameterNode: Any) -> None:
        if parameterNode is None:
            raise ValueError(f"{cls.__name__} needs a vtkMRMLScriptedModuleNode, got None")
        self.parameterNode = parameterNode
        was_modifying = parameterNode.StartModify()
        for f in fields.values():
            if not f.stored(parameterNode) and not (f.is_node and f.default is None):
                f.write(parameterNode, f.default)
        parameterNode.EndModify(was_modifying)

    for f in fields.values():
        setattr(cls, f.name, make_property(f))
    cls.__init__ = __init__
    cls._fields = fields
    cls.allParameters = property(lambda self: {n: getattr(self, n) for n in fields})
    cls.default = classmethod(lambda c, name: fields[name].default)
    cls.connectGui = lambda self, gui: GUI_BINDER.connect(self, gui) if GUI_BINDER else object()
    cls.disconnectGui = lambda self, tag: GUI_BINDER.disconnect(self, tag) if GUI_BINDER else None
    for method in ("StartModify", "EndModify", "AddObserver", "RemoveObserver", "GetID"):
        setattr(cls, method, (lambda m: lambda self, *a: getattr(self.parameterNode, m)(*a))(method))
    return cls


# --- slicer.util: no dialogs --------------------------------------------------------------------


def _log_display(level: int) -> typing.Callable[..., None]:
    return lambda text, *args, **kwargs: logging.log(level, "%s", text)


@contextlib.contextmanager
def _try_with_error_display(message: str | None = None, show: bool = True, waitCursor: bool = False):
    yield


# --- install ------------------------------------------------------------------------------------


class _Installed(types.ModuleType):
    """Marks the modules this stand-in installed, so a second ``install()`` keeps them."""


def _module(name: str, members: dict[str, Any]) -> types.ModuleType:
    mod = _Installed(name, f"Headless stand-in for {name} (see {__name__}).")
    mod.__dict__.update(members)
    mod.__all__ = list(members)
    return mod


def install() -> types.ModuleType:
    """Install the stand-ins (idempotent; does nothing inside real Slicer) and return ``slicer``."""
    if hasattr(slicer, "app") or isinstance(sys.modules.get("slicer.ScriptedLoadableModule"), _Installed):
        return slicer
    for name in ("qt", "ctk"):
        if not isinstance(sys.modules.get(name), _StubModule):
            sys.modules[name] = _StubModule(name, f"Inert {name} stub (see {__name__}).")
    submodules = {
        "ScriptedLoadableModule": {c.__name__: c for c in (ScriptedLoadableModule, ScriptedLoadableModuleWidget,
                                                           ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest)},
        "parameterNodeWrapper": {c.__name__: c for c in (parameterNodeWrapper, WithinRange, Minimum, Choice,
                                                         Default)},
        "i18n": {"tr": tr, "translate": translate},
    }
    for short, members in submodules.items():
        mod = _module(f"slicer.{short}", members)
        sys.modules[mod.__name__] = mod
        setattr(slicer, short, mod)
    for fn in ("delayDisplay", "infoDisplay", "showStatusMessage"):
        setattr(slicer.util, fn, _log_display(logging.INFO))
    slicer.util.warningDisplay = _log_display(logging.WARNING)
    slicer.util.errorDisplay = _log_display(logging.ERROR)
    slicer.util.tryWithErrorDisplay = _try_with_error_display
    slicer.util.getModuleLogic = _get_module_logic
    return slicer


def _get_module_logic(module: str) -> Any:
    """The Logic of a scripted module by name. Slicer 5.10 returns its widget's ``logic``, making the
    widget if needed (``Base/Python/slicer/util.py`` 1361-1384, branch 5.10); without a GUI this makes
    the ``<module>Logic`` the widget's ``setup`` makes. Like Slicer, an unknown module raises."""
    import importlib

    try:
        return getattr(importlib.import_module(module), f"{module}Logic")()
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"Could not find module widget representation with name '{module}'") from exc
