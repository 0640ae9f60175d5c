"""Bytewax dataflows and their connectors."""
