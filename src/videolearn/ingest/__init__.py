"""Ingest: find media files, identify them, probe and decode them, find shots. No ML here."""
