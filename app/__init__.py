"""Rung: a terminal chat and coding assistant that answers on the cheapest capable model."""
