"""Vendor response bodies as Core reads them."""
