"""SpineCore: the hidden module that carries the shared core (``SpineCoreLib``) of SpineMRtoCT.

It has no panel. Slicer loads it before the two visible modules (they list it as a dependency), so
its folder, and with it ``SpineCoreLib``, is on ``sys.path`` whichever module a user opens first.
"""

import numpy as np
import SimpleITK as sitk
import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import *

from SpineCoreLib.mrml.volumes import add_volume_node_from_image, sitk_image_from_volume_node


class SpineCore(ScriptedLoadableModule):
    """Hidden: shown in no module list, loaded for the modules that depend on it."""

    def __init__(self, parent=None):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Spine Core")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Developer Tools")]
        self.parent.dependencies = []
        self.parent.hidden = True
        self.parent.contributors = ["SpineMRtoCT contributors"]
        self.parent.helpText = _(
            "Shared core of SpineMRtoCT (geometry, vertebra levels, landmarks I/O, phantom, vertebra "
            "segmentation, evaluation), used by Spine Landmark Registration and MR to CT Translation."
        )
        self.parent.acknowledgementText = _("Part of the SpineMRtoCT extension.")


class SpineCoreTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Reload and Test) and headless under the project's stand-in."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_volumeRoundTrip()

    def test_volumeRoundTrip(self) -> None:
        """An oblique, anisotropic ITK image (LPS) keeps its voxels and geometry through a volume node (RAS)."""
        self.delayDisplay("Round trip of an oblique image through a volume node")
        image = sitk.GetImageFromArray(np.arange(60, dtype=np.int16).reshape(3, 4, 5))
        image.SetSpacing((0.8, 0.9, 3.0))
        image.SetOrigin((10.0, -20.0, 30.0))
        c, s = np.cos(0.3), np.sin(0.3)
        image.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
        node = add_volume_node_from_image(slicer.mrmlScene, image, "roundTrip")
        np.testing.assert_allclose(node.GetOrigin(), [-10.0, 20.0, 30.0], atol=1e-9)  # RAS = LPS with x, y negated
        back = sitk_image_from_volume_node(node)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))
        np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-9)
        np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-9)
        np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-9)
        self.delayDisplay("Test passed")
