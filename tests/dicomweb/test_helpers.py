"""Pure DICOMweb helpers: query parsing and matching values, Accept negotiation, DICOM JSON."""

import re
from datetime import date

import pytest
from rest_framework.exceptions import NotAcceptable

from annotator.imaging.dicomweb import (
    Kind,
    Level,
    QueryError,
    dicom_json,
    parse_frame_list,
    parse_query,
    parse_time_range,
    wildcard_regex,
)
from api.dicomweb.negotiation import (
    choose_dicom,
    choose_frames,
    choose_rendered,
    parse_accept,
)

J2K = "1.2.840.10008.1.2.4.90"
ELE = "1.2.840.10008.1.2.1"


def test_parse_query_reads_keys_controls_and_includefields() -> None:
    query = parse_query(
        [
            ("PatientName", "SMITH*"),
            ("StudyDate", "20200101-"),
            ("includefield", "00081030,SeriesDescription"),
            ("includefield", "all"),
            ("limit", "10"),
            ("offset", "5"),
            ("fuzzymatching", "true"),
            ("PatientID", ""),
        ],
        Level.STUDY,
    )
    by_key = {m.keyword: m for m in query.matches}
    assert set(by_key) == {"PatientName", "StudyDate"}
    assert by_key["PatientName"].kind == Kind.FOLDED
    assert by_key["PatientName"].has_wildcard
    assert (by_key["StudyDate"].low, by_key["StudyDate"].high) == (date(2020, 1, 1), None)
    assert {"StudyDescription", "SeriesDescription", "PatientID"} <= query.include
    assert (query.include_all, query.limit, query.offset) == (True, 10, 5)


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("0930", ("0930", "0931")),
        ("093000", ("0930", "093001")),
        ("093000.000-", ("0930", None)),
        ("-1200", (None, "1201")),
        ("101010.5-101011", ("101010.5", "101012")),
        ("000000-235959", ("00", "235960")),
    ],
)
def test_time_ranges_compare_as_text(text: str, bounds: tuple[str | None, str | None]) -> None:
    assert parse_time_range(text) == bounds


def test_wildcards_become_anchored_regular_expressions() -> None:
    pattern = wildcard_regex("AN?N-*.x")
    assert re.match(pattern, "ANON-1234.x")
    assert not re.match(pattern, "ANON-1234.xy")
    assert not re.match(pattern, "ANON-1234ax")  # "." is literal


@pytest.mark.parametrize("text", ["", "0", "1,a", "-1"])
def test_frame_lists_are_positive_integers(text: str) -> None:
    with pytest.raises(QueryError):
        parse_frame_list(text)


def test_dicom_json_uses_dictionary_vrs_and_empty_attributes() -> None:
    assert dicom_json({"PatientName": "ANON", "SeriesNumber": 3, "StudyID": None}) == {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "ANON"}]},
        "00200010": {"vr": "SH"},
        "00200011": {"vr": "IS", "Value": [3]},
    }


def test_frames_follow_cornerstone_and_dicomweb_client_accept_headers() -> None:
    cornerstone = parse_accept(
        "multipart/related; type=application/octet-stream; transfer-syntax=*"
    )
    assert choose_frames(cornerstone, J2K) is True  # compressed as stored
    assert choose_frames(cornerstone, ELE) is False
    client_default = parse_accept('multipart/related; type="*/*"')
    assert choose_frames(client_default, J2K) is True
    native = parse_accept('multipart/related; type="application/octet-stream"')
    assert choose_frames(native, J2K) is False
    jpeg = parse_accept('multipart/related; type="image/jpeg"')
    with pytest.raises(NotAcceptable):
        choose_frames(jpeg, J2K)
    either = parse_accept(
        'multipart/related; type="image/jpeg", multipart/related; type="image/jp2"; q=0.5'
    )
    assert choose_frames(either, J2K) is True
    assert choose_frames(parse_accept(None), J2K) is False  # */*: the native default


def test_instances_default_to_explicit_little_endian() -> None:
    plain = parse_accept('multipart/related; type="application/dicom"')
    assert choose_dicom(plain, {J2K}).transfer_syntax == ELE
    star = parse_accept('multipart/related; type="application/dicom"; transfer-syntax=*')
    assert choose_dicom(star, {J2K}).transfer_syntax is None
    exact = parse_accept(f'multipart/related; type="application/dicom"; transfer-syntax={J2K}')
    assert choose_dicom(exact, {J2K}).transfer_syntax == J2K
    with pytest.raises(NotAcceptable):
        choose_dicom(exact, {J2K, ELE})
    assert not choose_dicom(parse_accept("application/dicom"), {ELE}, single=True).multipart
    with pytest.raises(NotAcceptable):
        choose_dicom(parse_accept("application/dicom"), {ELE})


def test_rendered_prefers_the_best_quality() -> None:
    assert choose_rendered(parse_accept("image/png;q=0.4, image/jpeg;q=0.9")) == "jpeg"
    assert choose_rendered(parse_accept("image/gif, image/png")) == "png"
    with pytest.raises(NotAcceptable):
        choose_rendered(parse_accept("image/gif"))
