"""A covenant's title line, and the village name read from it."""

from __future__ import annotations

import re

from .numbering import TIAO

_TITLE_WORDS = re.compile(
    r"村规民约|村規民約|公约|公約|规约|規約|民约|民約|款约|款約|寨规|寨規|章程"
)
_VILLAGE = re.compile(
    r"([\u4e00-\u9fff]{1,12}?[村寨屯])"
    r"(?=村规|村規|寨规|寨規|村民|公约|公約|规约|規約|民约|民約|款约|款約|村约|村約)"
)
# A title at the head of a one-line covenant: "岩寨村村规民约　为了……第一条：……".
_TITLE_PREFIX = re.compile(
    r"^([^\s，,。；;！!？?：:]{2,30}?(?:村规民约|村規民約|公约|公約|规约|規約|民约|民約|款约|款約"
    r"|寨规|寨規))[ \u3000]+(?=\S)"
)
_ADMIN = re.compile(r"^.*[省市州县縣镇鎮乡鄉]")


def is_title(line: str) -> bool:
    """True for a line such as "榕溪村村规民约": short, naming a covenant, not a sentence."""
    return (
        len(line) <= 40
        and not re.search("[。；;！!]", line)
        and bool(_TITLE_WORDS.search(line))
        and not TIAO.match(line)
    )


def title_prefix(line: str) -> str | None:
    """The title a one-line covenant starts with, before the space that ends it."""
    m = _TITLE_PREFIX.match(line)
    return m.group(1) if m and is_title(m.group(1)) else None


def village_of(title: str | None) -> str | None:
    """The village a title names (榕溪村 from 黔东南州某县榕溪村村规民约), or None."""
    if not title or not (m := _VILLAGE.search(title)):
        return None
    name = m.group(1)
    local = _ADMIN.sub("", name)
    # "新市村" must survive: strip the county/town prefix only if a name remains.
    return local if len(local) >= 2 else name
