"""Routes of a project's DICOMweb service (PS3.18 resource paths, no trailing slashes)."""

from django.urls import path, register_converter

from api.dicomweb import views

app_name = "dicomweb"


class UidConverter:
    """A DICOM UID path segment: digits and dots."""

    regex = r"[0-9]+(?:\.[0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class FrameListConverter:
    """A frame list path segment: 1-based numbers separated by commas."""

    regex = r"[0-9]+(?:,[0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UidConverter, "dicom_uid")
register_converter(FrameListConverter, "dicom_frames")

STUDY = "studies/<dicom_uid:study>"
SERIES = f"{STUDY}/series/<dicom_uid:series>"
INSTANCE = f"{SERIES}/instances/<dicom_uid:instance>"
FRAMES = f"{INSTANCE}/frames/<dicom_frames:frames>"

urlpatterns = [
    path("studies", views.StudiesView.as_view(), name="studies"),
    path("series", views.SearchSeriesView.as_view(), name="series"),
    path("instances", views.SearchInstancesView.as_view(), name="instances"),
    path(STUDY, views.StudyView.as_view(), name="study"),
    path(f"{STUDY}/metadata", views.RetrieveMetadataView.as_view(), name="study-metadata"),
    path(f"{STUDY}/series", views.SearchSeriesView.as_view(), name="study-series"),
    path(f"{STUDY}/instances", views.SearchInstancesView.as_view(), name="study-instances"),
    path(f"{STUDY}/thumbnail", views.ThumbnailView.as_view(), name="study-thumbnail"),
    path(SERIES, views.RetrieveInstancesView.as_view(), name="series-retrieve"),
    path(f"{SERIES}/metadata", views.RetrieveMetadataView.as_view(), name="series-metadata"),
    path(f"{SERIES}/instances", views.SearchInstancesView.as_view(), name="series-instances"),
    path(f"{SERIES}/thumbnail", views.ThumbnailView.as_view(), name="series-thumbnail"),
    path(INSTANCE, views.RetrieveInstancesView.as_view(), name="instance"),
    path(f"{INSTANCE}/metadata", views.RetrieveMetadataView.as_view(), name="instance-metadata"),
    path(f"{INSTANCE}/rendered", views.RenderedView.as_view(), name="instance-rendered"),
    path(f"{INSTANCE}/thumbnail", views.ThumbnailView.as_view(), name="instance-thumbnail"),
    path(FRAMES, views.RetrieveFramesView.as_view(), name="frames"),
    path(f"{FRAMES}/rendered", views.RenderedView.as_view(), name="frames-rendered"),
    path(f"{INSTANCE}/bulkdata/<path:path>", views.RetrieveBulkDataView.as_view(), name="bulkdata"),
]
