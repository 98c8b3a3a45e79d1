"""Datasets: versions, schema and profile, sensitivity scan."""

from prodline.data.datasets import Datasets, DatasetVersion
from prodline.data.profile import profile_dataframe, schema_of
from prodline.data.sensitivity import ColumnSensitivity, scan_dataframe, scan_text

__all__ = [
    "ColumnSensitivity",
    "DatasetVersion",
    "Datasets",
    "profile_dataframe",
    "scan_dataframe",
    "scan_text",
    "schema_of",
]
