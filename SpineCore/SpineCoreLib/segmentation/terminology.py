"""Standard codes for vertebra segments, so a segment says what it is beyond its name.

Types are the SNOMED CT codes of DICOM PS3.16 CID 7603 "Vertebra" (C1 to L5); S1 is the sacrum
(SNOMED CT 54735007) and the variant levels T13 and L6, which CID 7603 lacks, are the generic
"Vertebra" (51282000). The category is "Anatomical Structure" (123037004). Entries use 3D Slicer's
terminology-entry text (context~category~type~type modifier~anatomic context~region~region modifier,
each code as scheme^value^meaning), which Slicer keeps in a segment's "TerminologyEntry" tag and
writes into DICOM SEG.
"""

from __future__ import annotations

CONTEXT = "Segmentation category and type - DICOM master list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
CATEGORY = ("SCT", "123037004", "Anatomical Structure")
SACRUM = ("SCT", "54735007", "Sacrum")
VERTEBRA = ("SCT", "51282000", "Vertebra")
CID_7603 = {
    "C1": "14806007", "C2": "39976000", "C3": "113205007", "C4": "5329002", "C5": "36978003", "C6": "36054005",
    "C7": "87391001", "T1": "64864005", "T2": "53733008", "T3": "1626008", "T4": "73071006", "T5": "56401006",
    "T6": "45296009", "T7": "62487009", "T8": "11068009", "T9": "82687006", "T10": "7610001", "T11": "12989004",
    "T12": "23215003", "L1": "66794005", "L2": "14293000", "L3": "36470004", "L4": "11994002", "L5": "49668003",
}

Code = tuple[str, str, str]  # (coding scheme, code value, code meaning)


def level_code(level: str) -> Code:
    """The type code of a vertebra level (``"L3"`` -> SNOMED CT 36470004 "L3 vertebra")."""
    if level in CID_7603:
        return ("SCT", CID_7603[level], f"{level} vertebra")
    if level == "S1":
        return SACRUM
    return VERTEBRA


def _code(code: Code | None) -> str:
    return "^".join(code) if code else "^^"


def terminology_entry(level: str) -> str:
    """Slicer's terminology-entry text for the segment of ``level``."""
    return "~".join([CONTEXT, _code(CATEGORY), _code(level_code(level)), _code(None), ANATOMIC_CONTEXT,
                     _code(None), _code(None)])
