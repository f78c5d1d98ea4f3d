"""Level names, landmark names, markups JSON/CSV parsing and the manifest, without Slicer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from SpineCoreLib.levels import (
    LEVEL_IDS,
    landmark_names,
    parse_landmark_name,
    parse_level_range,
)
from SpineCoreLib.manifest import append_rows, read_manifest, write_manifest
from SpineCoreLib.markups_io import (
    Landmark,
    LandmarkSet,
    MarkupsFormatError,
    landmarks_csv_text,
    markups_json_text,
    parse_landmarks_csv,
    parse_markups_json,
)


def test_level_ids_follow_verse():
    assert (LEVEL_IDS["C1"], LEVEL_IDS["C7"], LEVEL_IDS["T1"], LEVEL_IDS["T12"]) == (1, 7, 8, 19)
    assert (LEVEL_IDS["L1"], LEVEL_IDS["L5"], LEVEL_IDS["S1"], LEVEL_IDS["T13"], LEVEL_IDS["L6"]) == (20, 24, 26, 28, 25)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("T12-L5", ["T12", "L1", "L2", "L3", "L4", "L5"]),
        ("L3", ["L3"]),
        ("T12-T13", ["T12", "T13"]),
        ("L5-L6", ["L5", "L6"]),
        ("L2,L1,T13", ["T13", "L1", "L2"]),
        ("C7-T1", ["C7", "T1"]),
    ],
)
def test_parse_level_range(text, expected):
    assert parse_level_range(text) == expected


@pytest.mark.parametrize("text", ["", "L5-L1", "X1-L2", "L1-L2-L3", "L1,L1"])
def test_parse_level_range_rejects(text):
    with pytest.raises(ValueError):
        parse_level_range(text)


def test_landmark_names_in_placement_order():
    assert landmark_names(["L1", "L2"]) == ["L1-body", "L1-spinous", "L2-body", "L2-spinous"]
    assert parse_landmark_name("T13-spinous") == ("T13", "spinous")
    for bad in ("L3", "L3-tip", "L7-body", "l3-body", "L3 body"):
        with pytest.raises(ValueError, match="not of the form"):
            parse_landmark_name(bad)


def _sample_set() -> LandmarkSet:
    return LandmarkSet([
        Landmark("L1-body", np.array([1.5, -20.25, 300.0]), "first", True),
        Landmark("L1-spinous", None),
        Landmark("L2-body", np.array([-3.0, 4.0, -5.0])),
    ])


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_markups_json_round_trip(system):
    text = markups_json_text(_sample_set(), system)
    doc = json.loads(text)
    assert doc["markups"][0]["coordinateSystem"] == system
    if system == "LPS":
        assert doc["markups"][0]["controlPoints"][0]["position"] == [-1.5, 20.25, 300.0]
    back = parse_markups_json(text)
    assert back.labels() == ["L1-body", "L1-spinous", "L2-body"]
    assert back.landmarks[1].position is None and back.landmarks[0].locked
    assert np.allclose(back.landmarks[0].position, [1.5, -20.25, 300.0])


def test_csv_round_trip():
    back = parse_landmarks_csv(landmarks_csv_text(_sample_set()))
    assert back.labels() == ["L1-body", "L1-spinous", "L2-body"]
    assert back.landmarks[1].position is None
    assert np.allclose(back.landmarks[2].position, [-3, 4, -5])


@pytest.mark.parametrize(
    "text,needle",
    [
        ("not json", "not valid JSON"),
        ("{}", "no 'markups'"),
        ('{"markups": [{"coordinateSystem": "XYZ"}]}', "coordinateSystem"),
        ('{"markups": [{"controlPoints": [{"label": "a", "position": [1, 2]}]}]}', "3-element"),
        ('{"markups": [{"controlPoints": [{"label": "a", "position": [1, "x", 2]}]}]}', "non-numeric"),
        ('{"markups": [{"controlPoints": [{"label": "a", "position": [1, NaN, 2]}]}]}', "NaN"),
    ],
)
def test_malformed_markups_get_clear_errors(text, needle):
    with pytest.raises(MarkupsFormatError, match=needle):
        parse_markups_json(text, source="f.mrk.json")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20))
def test_parser_fuzz_never_crashes_unexpectedly(doc):
    wrapped = {"markups": [{"controlPoints": doc}]} if not isinstance(doc, dict) else doc
    for candidate in (doc, wrapped):
        try:
            out = parse_markups_json(json.dumps(candidate))
        except MarkupsFormatError:
            continue
        for lm in out.landmarks:
            assert lm.position is None or np.all(np.isfinite(lm.position))


def test_manifest_paths_relative_and_append_replaces_subject(tmp_path):
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "ct.nii.gz"
    f.write_bytes(b"x")
    m = write_manifest(tmp_path / "manifest.csv", [{"subject": "s1", "split": "train", "ct": str(f)}])
    assert "a/ct.nii.gz" in m.read_text()
    rows = read_manifest(m)
    assert rows[0]["ct"] == str(f.resolve())
    append_rows(m, [{"subject": "s1", "split": "test", "ct": str(f)}, {"subject": "s2", "split": "val"}])
    rows = read_manifest(m)
    assert [(r["subject"], r["split"]) for r in rows] == [("s1", "test"), ("s2", "val")]
    (tmp_path / "bad.csv").write_text("subject,split\ns,holdout\n")
    with pytest.raises(ValueError, match="split"):
        read_manifest(tmp_path / "bad.csv")
