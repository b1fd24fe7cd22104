"""Connections to remote PACS (DICOMweb or DIMSE): search them, pull studies into a project."""
