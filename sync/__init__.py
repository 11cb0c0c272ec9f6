"""regsync: batch import/export and data-sync engine for customer registers."""

__version__ = "0.1.0"
