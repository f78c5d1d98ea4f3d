"""Headless Slicer for tests: a real MRML scene with module logics, plus a stand-in for what slicer-core lacks.

``scene.HeadlessSlicer`` builds the scene; ``slicer_standin.install()`` adds the scripted-module
API. Neither imports Qt.
"""
