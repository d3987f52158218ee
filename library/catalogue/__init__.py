"""The catalogue of Dong song and drama recordings: metadata, ingest, copies, lyrics, export, reels."""
