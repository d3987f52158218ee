"""Pure media work on files: text → speech → audio → subtitles → video.

Functions here take plain values (text, paths, a profile) and return plain results.
No database, no Flask, no global configuration.
"""
