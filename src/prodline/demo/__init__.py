"""Data that ships with prodline for its demo stories (see ``data/SOURCE.md``)."""
