"""The ``mrtoct`` command line, demo and benchmark: one sub-command per file, on top of the three
packages (``SpineCoreLib``, ``SpineLandmarkRegistrationLib``, ``MRtoCTTranslationLib``); nothing
imports this package back."""
