"""How a covenant's text is shown on its page: the display text its video shows, tagged.

The video's subtitles show `media_pipeline.zh_display.display_text` of each line (Simplified,
full-width punctuation beside Chinese); the page shows the same, keeping the line breaks
that separate sub-items and fine tables, and names the script of text it shows as the
source wrote it (a Traditional source is zh-Hant, not zh-Hans).
"""

from __future__ import annotations

from media_pipeline.hanzi import to_simplified
from media_pipeline.zh_display import display_text


def display_lines(text: str | None) -> str:
    """`text` as the video shows it, line by line: zh-Hans, normalised punctuation."""
    lines = (display_text(line) for line in (text or "").splitlines())
    return "\n".join(line for line in lines if line)


def script_lang(text: str | None) -> str:
    """The language tag of Chinese text as written: zh-Hant when it has Traditional characters."""
    return "zh-Hant" if text and to_simplified(text) != text else "zh-Hans"
