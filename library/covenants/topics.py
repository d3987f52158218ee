"""Clause topics: a fixed vocabulary and a keyword guess, so playlists can group clauses.

The set follows the headings Dong villages' covenants commonly use. 婚丧嫁娶 is folded into
移风易俗 (covenants file 红白喜事 and 彩礼 rules there), and 民族文化 covers the drum tower,
wind-and-rain bridges and Dong song that many Dong covenants protect by name. The guess is
a suggestion: `kuanyue covenant topic` lets a person correct it, and the correction sticks.
"""

from __future__ import annotations

import re

from media_pipeline.hanzi import to_simplified

OTHER = "其他"

# Keywords are Simplified; text is converted with OpenCC before matching. Longer keywords
# weigh more, so "放火烧山" outweighs a passing "山".
_KEYWORDS: dict[str, str] = {
    "消防安全": "消防 防火 火灾 失火 用火 火源 火种 火塘 灭火 鸣锣 喊寨 电线 用电 电器 线路 柴草 烟花 爆竹 鞭炮 香烛 煤气 火",
    "环境卫生": "环境 卫生 垃圾 分类 污水 河道 河流 溪 倾倒 排放 清洁 保洁 厕所 粪 畜禽 家禽 牲畜 水源 农药瓶 塑料",
    "移风易俗": "移风易俗 红白喜事 婚丧 嫁娶 喜事 丧事 婚事 彩礼 礼金 酒席 宴席 大操大办 铺张 攀比 人情 从简 封建迷信",
    "道路交通": "道路 交通 公路 路面 路基 通村路 桥梁 车辆 停车 驾驶 摩托 头盔 酒驾 超载 行车",
    "耕地保护": "耕地 农田 基本农田 田土 稻田 田埂 抛荒 撂荒 灌溉 水渠 沟渠 水利 宅基地 建房 占用",
    "社会治安": "治安 盗窃 偷盗 打架 斗殴 赌博 吸毒 毒品 纠纷 调解 报警 诈骗 邪教 寻衅 酗酒 安全防范",
    "山林保护": "山林 森林 林木 林地 护林 砍伐 乱砍 滥伐 毁林 古树 风景林 树木 木材 野生动物 狩猎 放火烧山",
    "民族文化": "民族文化 鼓楼 风雨桥 侗歌 大歌 侗戏 萨坛 芦笙 古建筑 传统村落 非遗 民族服饰",
    "村务管理": "村务 村民会议 村民代表 议事 集体 公共财产 公益 义务 投工 账目 公开",
    OTHER: "",
}
TOPICS: dict[str, tuple[str, ...]] = {t: tuple(w.split()) for t, w in _KEYWORDS.items()}

# Heading numbering such as "一、", "第二章", "（三）", "4." carries no topic.
_HEADING_NUMBER = re.compile(
    r"^\s*(?:第\s*[0-9０-９零〇一二三四五六七八九十百两]+\s*[章节節编編部分]*"
    r"|[（(]?[0-9０-９一二三四五六七八九十]+[）)]?[、.．,，]?)\s*"
)


# Headings that name a part of the covenant (总则, 附则, 罚则 …) rather than a subject: no
# playlist groups clauses by them, so they never stand in for a topic.
_PART = re.compile(r"^(?:总则|附则|罚则|奖惩|其他|其它|附录|补充规定|通则|细则)$")
# A heading longer than this is a sentence, not a name a topic tag could show.
MAX_HEADING_TOPIC = 12


def _score(text: str) -> dict[str, int]:
    return {
        topic: sum(len(k) * text.count(k) for k in keywords) for topic, keywords in TOPICS.items()
    }


def topic_of_heading(heading: str) -> str | None:
    """The topic a heading such as "一、消防安全" or "第三章 防火" names, if any."""
    title = _HEADING_NUMBER.sub("", to_simplified(heading)).strip()
    if not title:
        return None
    for topic in TOPICS:
        if topic != OTHER and topic in title:
            return topic
    scores = _score(title)
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] else None


def guess_topic(text: str, section: str | None = None, *, chapter: str | None = None) -> str:
    """A clause's topic: its section's, chapter's or own words', else the heading's name."""
    for heading in (section, chapter):
        if heading and (topic := topic_of_heading(heading)):
            return topic
    scores = _score(to_simplified(text))
    best = max(scores, key=scores.__getitem__)
    if scores[best]:
        return best
    # Nothing in the vocabulary fits: the heading's own words say more than 其他 would.
    for heading in (section, chapter):
        if heading and (title := heading_title(heading)):
            return title
    return OTHER


def heading_title(heading: str) -> str | None:
    """A heading's name as a topic ("第三章 村務公開" → "村务公开"); None for 附则 or a sentence."""
    title = _HEADING_NUMBER.sub("", to_simplified(heading)).strip(" \u3000：:。.")
    if not title or _PART.match(title) or len(title) > MAX_HEADING_TOPIC:
        return None
    return title
