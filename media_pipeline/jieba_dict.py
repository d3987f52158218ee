"""jieba's dictionary, loaded from a compact cache of its own (~5× faster than jieba's).

jieba keeps its prefix dictionary (≈500,000 words and word prefixes, with frequencies) in a
marshal file and spends ~0.8 s unmarshalling it, in every process that segments text, before
the first clause can be read. The same table stored as one UTF-8 string of the words and one
array of the frequencies loads in ~0.15 s: one split, one zip. The cache is made from what
jieba itself loaded (so segmentation is the same), beside jieba's own cache, keyed by jieba's
version and its dictionary file; anything unexpected falls back to jieba's own loading.
"""

from __future__ import annotations

import array
import contextlib
import os
import struct
import tempfile
from pathlib import Path

import jieba

_HEADER = struct.Struct("<qq")  # total frequency, number of entries


def load_default_dictionary(tokenizer: jieba.Tokenizer | None = None) -> None:
    """Initialise jieba's default tokenizer (or `tokenizer`), from the compact cache when
    there is one, else jieba's way, then writing the cache for the next process."""
    tokenizer = tokenizer or jieba.dt
    if tokenizer.initialized or tokenizer.dictionary is not None:
        return  # done already, or a dictionary of someone else's choosing
    cache = _cache_path(tokenizer)
    if cache is not None and _load(tokenizer, cache):
        return
    tokenizer.initialize()
    if cache is not None:
        with contextlib.suppress(OSError):
            _save(tokenizer, cache)


def _cache_path(tokenizer: jieba.Tokenizer) -> Path | None:
    source = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    try:
        st = source.stat()
    except OSError:
        return None
    folder = Path(tokenizer.tmp_dir or tempfile.gettempdir())
    return folder / f"kuanyue-jieba-{jieba.__version__}-{st.st_size}-{st.st_mtime_ns}.bin"


def _load(tokenizer: jieba.Tokenizer, cache: Path) -> bool:
    try:
        blob = cache.read_bytes()
        total, count = _HEADER.unpack_from(blob)
        freqs = array.array("q")
        freqs.frombytes(blob[_HEADER.size : _HEADER.size + 8 * count])
        words = blob[_HEADER.size + 8 * count :].decode("utf-8").split("\n")
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        return False
    if len(words) != count or len(freqs) != count:
        return False
    tokenizer.FREQ, tokenizer.total = dict(zip(words, freqs, strict=True)), total
    tokenizer.initialized = True
    return True


def _save(tokenizer: jieba.Tokenizer, cache: Path) -> None:
    words = "\n".join(tokenizer.FREQ).encode("utf-8")
    freqs = array.array("q", tokenizer.FREQ.values())
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".kuanyue-jieba-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(_HEADER.pack(tokenizer.total, len(freqs)))
            out.write(freqs.tobytes())
            out.write(words)
        os.replace(tmp, cache)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
