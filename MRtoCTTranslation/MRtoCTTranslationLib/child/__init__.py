"""The translation pipeline as a child process.

Why: Slicer's main thread holds the GIL while it idles, so Python work in a thread advances only while
the GUI runs Python; SlicerTotalSegmentator and SlicerMONAIAuto3DSeg run such work in a child process
for this reason. The parent writes the inputs and a ``JobSpec`` to a folder (``spec``), starts
``python -m MRtoCTTranslationLib.child SPEC`` (``process``), reads JSON lines from its stdout (progress,
log records, the end) and, when the child has written every output, reads them back. Killing the child's
process group cancels; nothing the child writes reaches the scene unless it finished.
"""
