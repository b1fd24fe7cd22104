"""QIDO-RS match keys as ORM filters on the imaging models (see annotator.imaging.dicomweb).

Keys of the query's level and above filter through foreign keys; keys of a lower level match
when any child matches (a study with a CT series for ``studies?Modality=CT``).
"""

from typing import Any

from django.db.models import Q, QuerySet

from annotator.imaging.dicomweb import QUERY_KEYS, Kind, Level, Match, Query
from annotator.imaging.models import Instance, Series
from annotator.projects.models import Project

FIELDS: dict[str, str] = {  # match key → field of its level's model
    "PatientID": "patient__pseudonym",
    "PatientName": "patient__pseudonym",
    "StudyDate": "study_date",
    "StudyTime": "study_time",
    "AccessionNumber": "accession_number",
    "StudyInstanceUID": "study_instance_uid",
    "StudyDescription": "description",
    "Modality": "modality",
    "SeriesInstanceUID": "series_instance_uid",
    "SeriesNumber": "series_number",
    "SeriesDescription": "description",
    "BodyPartExamined": "body_part",
    "SOPInstanceUID": "sop_instance_uid",
    "SOPClassUID": "sop_class_uid",
    "InstanceNumber": "instance_number",
}
PREFIXES = {Level.STUDY: "", Level.SERIES: "study__", Level.INSTANCE: "series__study__"}


def prefix_to(level: Level, key_level: Level) -> str:
    """Return the path from a `level` row to a `key_level` row (key_level at or above)."""
    if level == key_level:
        return ""
    if level == Level.INSTANCE and key_level == Level.SERIES:
        return "series__"
    return PREFIXES[level]


def match_q(match: Match, field: str) -> Q:
    """Return the filter of one match on `field`."""
    if match.kind in (Kind.UID, Kind.CODES):
        return Q(**{f"{field}__in": match.values})
    if match.kind == Kind.DATE:
        q = Q(**{f"{field}__isnull": False})
        if match.low:
            q &= Q(**{f"{field}__gte": match.low})
        if match.high:
            q &= Q(**{f"{field}__lte": match.high})
        return q
    if match.kind == Kind.TIME:
        q = ~Q(**{field: ""})
        if match.low:
            q &= Q(**{f"{field}__gte": match.low})
        if match.high:
            q &= Q(**{f"{field}__lt": match.high})
        return q
    if match.kind == Kind.INTEGER:
        return Q(**{field: int(match.values[0])})
    folded = match.kind == Kind.FOLDED
    if match.has_wildcard:
        return Q(**{f"{field}__{'iregex' if folded else 'regex'}": match.regex})
    return Q(**{f"{field}__iexact" if folded else field: match.values[0]})


def apply_matches(qs: QuerySet[Any], level: Level, query: Query, project: Project) -> QuerySet[Any]:
    """Filter `qs` (rows of `level` in `project`) by the query's match keys."""
    for match in query.matches:
        if match.keyword == "ModalitiesInStudy":
            studies = Series.objects.filter(project=project, modality__in=match.values)
            path = {
                Level.STUDY: "pk",
                Level.SERIES: "study_id",
                Level.INSTANCE: "series__study_id",
            }[level]
            qs = qs.filter(**{f"{path}__in": studies.values("study_id")})
        elif match.level <= level:
            qs = qs.filter(match_q(match, prefix_to(level, match.level) + FIELDS[match.keyword]))
        elif match.level == Level.SERIES:  # a study with any matching series
            series = Series.objects.filter(project=project)
            qs = qs.filter(
                pk__in=series.filter(match_q(match, FIELDS[match.keyword])).values("study_id")
            )
        else:  # a study or series with any matching instance
            parent = "series__study_id" if level == Level.STUDY else "series_id"
            instances = Instance.objects.filter(project=project)
            qs = qs.filter(
                pk__in=instances.filter(match_q(match, FIELDS[match.keyword])).values(parent)
            )
    return qs


assert set(FIELDS) | {"ModalitiesInStudy"} == set(QUERY_KEYS)  # noqa: S101 - keep tables aligned
