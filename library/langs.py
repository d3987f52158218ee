"""Language tags of every human string (BCP 47), in the order pages show them."""

from __future__ import annotations

# Chinese, Southern Dong and Northern Dong (Latin script).
TEXT_LANGS = ("zh-Hans", "kmc-Latn", "doc-Latn")
# Where a title in each language comes from in a manifest row or on the command line.
TITLE_FIELDS = {"title_zh": "zh-Hans", "title_kmc": "kmc-Latn", "title_doc": "doc-Latn"}
