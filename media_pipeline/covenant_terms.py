"""Covenant and village-governance words that jieba must keep whole (its user dictionary).

jieba's general dictionary does not know the vocabulary of Dong village covenants and of
village self-government, so it cuts 村民委员会 into 村民 + 委员会, 鸣锣喊寨 into 鸣锣 + 喊 + 寨
and 寨老 into 由寨 + 老. Subtitles break lines and cues only between jieba words, and long
phrases are cut between them too, so a cut word becomes a line ending in 村民 over a line
starting with 委员会. Teaching jieba these words (`media_pipeline.text._load_vocabulary`,
once per process) keeps them whole on screen and in phrases; `media_pipeline.linebreak`
also refuses to break inside them where jieba's context still cuts one (村民经风雨桥 is cut
经风雨 + 桥到).

Choosing words: a word here is a unit a reader or an announcer would never pause inside.
Adding one changes segmentation, and the pinyin reader consults jieba's words, so a word
whose last characters begin a common longer word gets that longer word too (村民小组 and
村民小组长, so 长 keeps its zhǎng reading).
"""

from __future__ import annotations

COVENANT_TERMS: tuple[str, ...] = (
    # The covenant itself and Dong customary law (款).
    "村规民约",
    "本村规民约",
    "自治章程",
    "款约",
    "侗款",
    "款首",
    "寨老",
    "鸣锣喊寨",
    # Village self-government: bodies, offices and procedures.
    "村民委员会",
    "村民委员会组织法",
    "村民自治",
    "村民自治委员会",
    "村委会",
    "村民小组",
    "村民小组长",
    "村民会议",
    "村民代表",
    "村民代表会议",
    "村民代表大会",
    "村务监督委员会",
    "村务公开",
    "村务公开栏",
    "村党支部",
    "驻村工作队",
    "第一书记",
    "网格员",
    "执委会",
    "红白理事会",
    "人民调解委员会",
    "调解委员会",
    "治保会",
    "一事一议",
    "四议两公开",
    "集体经济组织",
    "镇政府",
    "乡镇人民政府",
    # Fire safety in wooden villages.
    "防火",
    "森林防火",
    "防火隔离带",
    "护林员",
    "消防安全",
    "消防设施",
    "义务消防队",
    "灭火器",
    "火塘",
    "生火做饭",
    "孔明灯",
    "烟花爆竹",
    "燃放烟花爆竹",  # else jieba's 燃放烟花 + 爆竹 wins over 燃放 + 烟花爆竹
    # Land, forests and water.
    "宅基地",
    "承包地",
    "口粮田",
    "自留山",
    "风景林",
    "生态公益林",
    "古树名木",
    "封山育林",
    "退耕还林",
    "乱砍滥伐",
    "饮用水源",
    # Dong buildings and culture.
    "鼓楼",
    "风雨桥",
    "禾晾",
    "吊脚楼",
    "侗族大歌",
    "侗歌",
    "侗戏",
    # Customs, hygiene and public order.
    "移风易俗",
    "红白喜事",
    "婚丧嫁娶",
    "大操大办",
    "高价彩礼",
    "评先评优",
    "垃圾分类",
    "门前三包",
    "房前屋后",
    "人居环境",
    "文明户",
    "五好家庭",
    # Limits as rules state them, read as one unit (不少于 5 人, 不超过 20 桌).
    "不少于",
    "不超过",
    "不低于",
)
