"""DICOMweb (PS3.18) per project: QIDO-RS search, WADO-RS retrieve, STOW-RS store.

Mounted at /api/v1/projects/{project_pk}/dicomweb/. Modules: `base` (auth, project scoping,
lookups), `negotiation` (Accept headers), `multipart` (multipart/related in and out), `qido`
and `matching` (search), `wado` (instances, metadata, frames, bulk data), `pixels` (reading
stored files), `rendered`, `stow`, and `views` (the resources that combine GET and POST).
"""
