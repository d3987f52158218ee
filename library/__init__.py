"""The content library: database, media store, covenants, segments and rendering jobs.

Knows nothing of Flask; the web layer and the CLI call these functions.
"""
