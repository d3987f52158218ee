"""Covenants: parsing files, versions and clause identity, topics, segments and rendering."""
