"""Rung's built-in themes, as data files (``*.toml``) shipped with the package."""
