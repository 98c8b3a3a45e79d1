"""Datasets: versions, schema and profile, sensitivity scan (the scanner lives in core)."""

from prodline.core.sensitivity import ColumnSensitivity, scan_dataframe, scan_text
from prodline.data.datasets import Datasets, DatasetVersion
from prodline.data.profile import profile_dataframe, schema_of

__all__ = [
    "ColumnSensitivity",
    "DatasetVersion",
    "Datasets",
    "profile_dataframe",
    "scan_dataframe",
    "scan_text",
    "schema_of",
]
