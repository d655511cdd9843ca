"""Importing an upstream ETAPP release (instructions, profiles, per-user CSVs, toolkit) as a tooltune suite."""

from tooltune.bench.etapp.report import ImportReport, SourceStatus
from tooltune.bench.etapp.suite import EtappImportError, EtappSuite, load_etapp_suite

__all__ = ["EtappImportError", "EtappSuite", "ImportReport", "SourceStatus", "load_etapp_suite"]
