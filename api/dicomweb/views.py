"""The DICOMweb resources that answer both GET and POST: /studies and /studies/{study}."""

from api.dicomweb.qido import (
    SearchInstancesView,
    SearchSeriesView,
    SearchStudiesView,
)
from api.dicomweb.rendered import RenderedView, ThumbnailView
from api.dicomweb.stow import StoreView
from api.dicomweb.wado import (
    RetrieveBulkDataView,
    RetrieveFramesView,
    RetrieveInstancesView,
    RetrieveMetadataView,
)


class StudiesView(SearchStudiesView, StoreView):
    """GET /studies searches (QIDO-RS); POST /studies stores (STOW-RS)."""


class StudyView(RetrieveInstancesView, StoreView):
    """GET /studies/{study} retrieves the study (WADO-RS); POST stores into it (STOW-RS)."""


__all__ = [
    "RenderedView",
    "RetrieveBulkDataView",
    "RetrieveFramesView",
    "RetrieveInstancesView",
    "RetrieveMetadataView",
    "SearchInstancesView",
    "SearchSeriesView",
    "StudiesView",
    "StudyView",
    "ThumbnailView",
]
