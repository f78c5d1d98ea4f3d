"""A real MRML scene with the module logics the project uses, built without Qt or ``slicer.app``.

The order matters (see shared/notes/headless-mrml.md): application logic before the colour
logic, and the Segmentations logic before any segmentation node exists, because a segmentation
node copies the converter rules that the logic registers.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

# Module logics: slicer.modules.<lowercase name>.logic() -> instance of this class.
_LOGIC_CLASSES: tuple[tuple[str, str], ...] = (
    ("Volumes", "vtkSlicerVolumesLogic"),
    ("Markups", "vtkSlicerMarkupsLogic"),
    ("Transforms", "vtkSlicerTransformLogic"),
    ("Terminologies", "vtkSlicerTerminologiesModuleLogic"),
    ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
    ("Data", "vtkSlicerDataModuleLogic"),
    ("CropVolume", "vtkSlicerCropVolumeLogic"),
)


def terminologies_dir() -> Path | None:
    """The ``.term.json`` folder shipped with trame-slicer, or None when trame-slicer is absent."""
    try:
        import trame_slicer
    except ImportError:
        return None
    path = Path(trame_slicer.__file__).parent / "resources" / "terminologies"
    return path if path.is_dir() else None


class _ModuleEntry:
    """What ``slicer.modules.<name>`` gives in Slicer, reduced to ``logic()`` and ``name``."""

    def __init__(self, name: str, logic: Any) -> None:
        self.name = name
        self._logic = logic

    def logic(self) -> Any:
        return self._logic


class HeadlessSlicer:
    """Scene, application logic and module logics, wired as Slicer's application wires them."""

    def __init__(self) -> None:
        import slicer
        from vtkmodules.vtkCommonCore import vtkCollection, vtkOutputWindow

        out = vtkOutputWindow()  # VTK warnings to stderr, where pytest captures them
        out.SetDisplayModeToAlwaysStdErr()
        vtkOutputWindow.SetInstance(out)

        self.scene = slicer.vtkMRMLScene()
        crosshair = slicer.vtkMRMLCrosshairNode()
        crosshair.SetCrosshairName("default")
        self.scene.AddNode(crosshair)

        self.app_logic = slicer.vtkSlicerApplicationLogic()
        self.app_logic.SetMRMLScene(self.scene)  # adds the Selection and Interaction singletons
        color_logic = self.app_logic.GetColorLogic()
        color_logic.SetMRMLScene(self.scene)
        color_logic.AddDefaultColorNodes()
        self.app_logic.SetSliceLogics(vtkCollection())
        self.app_logic.SetViewLogics(vtkCollection())

        # Registered as a module logic too: the Volumes logic looks "Colors" up to colour new volumes.
        self.app_logic.SetModuleLogic("Colors", color_logic)
        self.logics: dict[str, Any] = {"Colors": color_logic}
        term_dir = terminologies_dir()
        for name, class_name in _LOGIC_CLASSES:
            if name == "Terminologies" and term_dir is None:
                continue  # without its .term.json files the logic only logs errors
            logic = getattr(slicer, class_name)()
            if name == "Terminologies":
                logic.SetModuleShareDirectory(term_dir.as_posix())
            logic.SetMRMLScene(self.scene)
            logic.SetMRMLApplicationLogic(self.app_logic)
            self.app_logic.SetModuleLogic(name, logic)
            self.logics[name] = logic

    def logic(self, name: str) -> Any:
        """A module logic by its module name, e.g. ``"Volumes"``."""
        return self.logics[name]

    def install(self) -> None:
        """Make ``slicer.mrmlScene`` and ``slicer.modules.<name>.logic()`` point at this scene."""
        import slicer

        slicer.mrmlScene = self.scene
        modules = getattr(slicer, "modules", None)
        if not isinstance(modules, types.SimpleNamespace):
            modules = types.SimpleNamespace()
            slicer.modules = modules
        for name, logic in self.logics.items():
            setattr(modules, name.lower(), _ModuleEntry(name, logic))

    def clear(self) -> None:
        """Remove every node a test added; singletons (selection, interaction, crosshair, colours) stay.

        ``Clear`` also removes the subject hierarchy node, which a fresh scene has; it is re-created
        so that a cleared scene looks like a new one. (Headless, data nodes get no hierarchy
        items either way: Slicer creates those in its Qt plugin handler.)
        """
        import slicer

        self.scene.Clear(False)
        slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
