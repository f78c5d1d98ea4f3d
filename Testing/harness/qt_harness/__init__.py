"""A real-Qt harness for the module panels: PyQt5 5.15 (the Qt of Slicer 5.10) on the offscreen platform.

``install(scene)`` (after the headless stand-in) makes ``qt`` a PythonQt-style view of PyQt5
(``pythonqt``), loads ``.ui`` files with PyQt5's uic and small stand-ins for the qMRML and CTK widget
classes the panels use (``widgets``), gives ``ScriptedLoadableModuleWidget`` a real parent widget and
layout, and binds parameter nodes to widgets the way Slicer's parameterNodeWrapper does (``binding``:
Slicer 5.10's connector selection, so a binding Slicer refuses raises here too).

Not verified without a real Slicer: how Slicer's own qMRML/CTK widgets draw and behave beyond what the
stand-ins implement (the node combo's filtering follows qMRMLSortFilterProxyModel: node types, child
types, hidden child types; no "create new" or rename menus), PythonQt's exact argument conversions,
slice views and interaction (placing points is driven through the Logic, not by clicks), and the look
of the panels.
"""
