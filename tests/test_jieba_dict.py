"""media_pipeline.jieba_dict: jieba's dictionary from the compact cache, the same as jieba's."""

from __future__ import annotations

import jieba
import pytest

from media_pipeline.jieba_dict import load_default_dictionary

pytestmark = pytest.mark.slow  # jieba's own loading takes about a second

TEXT = "村中长老严禁在山林、田边野外用火，发现火情立即鸣锣喊寨。"


def test_the_cache_gives_jieba_the_same_dictionary(tmp_path):
    first = jieba.Tokenizer()
    first.tmp_dir = str(tmp_path)
    load_default_dictionary(first)  # jieba's own loading, then the cache is written
    (cache,) = tmp_path.glob("kuanyue-jieba-*.bin")
    second = jieba.Tokenizer()
    second.tmp_dir = str(tmp_path)
    load_default_dictionary(second)
    assert second.initialized and second.total == first.total
    assert second.FREQ == first.FREQ
    assert second.lcut(TEXT) == first.lcut(TEXT)

    cache.write_bytes(b"not a cache")  # anything unexpected: jieba's own loading again
    third = jieba.Tokenizer()
    third.tmp_dir = str(tmp_path)
    load_default_dictionary(third)
    assert third.FREQ == first.FREQ


def test_another_dictionary_is_left_to_jieba(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("鸣锣喊寨 5 n\n", encoding="utf-8")
    tokenizer = jieba.Tokenizer(str(words))
    load_default_dictionary(tokenizer)
    assert not tokenizer.initialized and not list(tmp_path.glob("kuanyue-jieba-*"))
