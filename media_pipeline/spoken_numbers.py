"""Numbers as an announcer says them: 两千 not 二千, years and codes digit by digit,
幺 in service and phone numbers, ranges with 到 (text.spoken_text's numbers)."""

from __future__ import annotations

import re

import cn2an

DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"


# Measure words and units after which a leading 2 is read 两 (两元, 两千人, 两点钟).
_LIANG_BEFORE = (
    *"元块角毛人名位个次回遍趟户家亩天年周秒岁头只条棵株间座件项份把张本台辆部瓶桶担挑吨斤克米里",
    *"升倍点万千百亿种类批桌餐顿场盏处起套枚颗根支片尾匹",
    *"栋幢笔艘架",
    *("星期", "小时", "钟头", "分钟", "公斤", "公里", "厘米", "毫米", "毫升", "平方", "立方"),
)
# ...except where the measure word begins another word: 2年级 is 二年级 (a grade).
_NOT_LIANG = ("年级",)
# Before a measure word, an approximate count: 2000多人 → 两千多人, 200余亩, 200来人.
_ABOUT = "多余来"
_UNITS = {
    "km²": "平方公里", "km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米", "m²": "平方米",
    "m2": "平方米", "㎡": "平方米", "m³": "立方米", "m3": "立方米", "kWh": "千瓦时",
    "kW": "千瓦", "ml": "毫升", "mL": "毫升", "m": "米", "g": "克", "t": "吨", "L": "升",
    "h": "小时", "℃": "摄氏度", "°C": "摄氏度", "°": "度", "W": "瓦", "kV": "千伏",
}  # fmt: skip
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
DATE_UNITS = "年月日号时点分秒"  # after these, a dash is "to" (2021年-2025年, 8:00-17:00)


def _qty(p: str) -> str:
    """Pattern of one quantity: ¥, sign, number, % and unit, in groups named with prefix p."""
    return (
        # A dash after a date or a time is a range (3月1日-3月15日), not a minus sign.
        rf"(?P<{p}cur>[¥￥])?(?P<{p}sign>(?<![{DATE_UNITS}])[-−－](?=\d))?(?P<{p}num>{_NUM})"
        rf"(?P<{p}pct>[%‰])?(?:(?P<{p}unit>{_UNIT_RE})(?![A-Za-z]))?"
    )


_MONTH = r"0?[1-9]|1[0-2]"
_DAY = r"0?[1-9]|[12]\d|3[01]"
_PHONE_WORDS = "电话|热线|拨打|手机|号码|报警|致电|举报"
_RANGE = r"\s*(?:~|～|-|－|—|–|至|到)\s*"

# Emergency and public-service numbers: 110 police, 112, 114, 119 fire, 120 ambulance,
# 122 traffic accidents, and the five-digit 12xxx lines (12345 government, 12315 consumers,
# 12119 forest fire, 12369 environment …). A bare 110 may be a quantity (110千伏, 限速120), so
# they are read as phone numbers only where the words around show they are dialled.
_SERVICE = r"11[0249]|12[02]|12[1-3]\d\d"
# A measure word or unit follows: what comes before it is a quantity (110千伏, 120人).
_MEASURE_AFTER = (
    r"\s*[多余来]?\s*(?:"
    + "|".join(re.escape(w) for w in sorted(_LIANG_BEFORE, key=len, reverse=True))
    + rf"|{_UNIT_RE})"
)
# Not a service number: more digits, a decimal, or a measure word, unit or date after it.
_NOT_DIALLED = rf"(?![\d.,%‰])(?!{_MEASURE_AFTER}|\s*[年月日号分秒度A-Za-z])"
_DIALLED_BEFORE = (
    r"(?:(?<=[打拨叫警（(“「])|(?<=[打拨叫] )|(?<=求助|投诉|呼叫)"
    # after another service number in a list: 110、119、120 (but 面积为110和120 stays)
    r"|(?<=(?:11[0249]|12[02])[、或和及/])|(?<=12[1-3]\d\d[、或和及/]))"
)
_DIALLED_AFTER = (
    r"(?=\s*(?:火警|报警|急救|电话|热线|求助|消防|投诉|举报|服务|便民|政务|交通|咨询|号码|平台|指挥"
    rf"|[、或和及/]\s*(?:{_SERVICE})(?![\d.])))"
)
# Codes of letters then digits, read digit by digit: GB 50016-2014, GB/T 2887, G65, H7N9.
_CODE = (
    r"(?<![A-Za-z\d])(?P<codep>[A-Za-z]+(?:/[A-Za-z]+)?[ -]?)"
    rf"(?P<code>\d+(?:[-－—–:：]\d+)*)(?![\d%‰]|[.,]\d|{_MEASURE_AFTER})"
)

_NUMBER_RE = re.compile(
    "|".join(
        [
            rf"(?P<kw>{_PHONE_WORDS})(?P<kwsep>[:：]?\s*)"
            rf"(?P<tel>\d[\d\-－ ]{{3,}}\d|(?:{_SERVICE}){_NOT_DIALLED})(?!\d)",
            _CODE,
            r"(?<!\d)(?P<mobile>1[3-9]\d(?P<msep>[-－ ]?)\d{4}(?P=msep)\d{4})(?!\d)",
            r"(?<!\d)(?P<land>0\d{2,3}[-－]\d{7,8}|[48]00[-－ ]?\d{3}[-－ ]?\d{4})(?!\d)",
            rf"(?<![\d.]){_DIALLED_BEFORE}(?P<svc>{_SERVICE}){_NOT_DIALLED}",
            rf"(?<![\d.])(?P<svc2>{_SERVICE}){_NOT_DIALLED}{_DIALLED_AFTER}",
            r"(?<![\d.])(?P<gen>\d\d)(?=后)",  # 80后, 00后: a generation, digit by digit
            rf"(?<![\d.])(?P<yr1>\d{{4}}){_RANGE}(?P<yr2>\d{{4}})(?=\s*年)",
            rf"(?<!\d)(?P<y>\d{{4}})(?P<ds>[-./])(?P<mo>{_MONTH})(?P=ds)(?P<d>{_DAY})(?![\d.])日?",
            r"(?<!\d)(?P<year>\d{4})(?=\s*年)",
            r"(?<![\d.])(?P<dotted>\d+(?:\.\d+){2,})(?![\d.])",
            r"(?<![\d.])(?P<hh>[01]?\d|2[0-4])[:：](?P<mm>[0-5]\d)(?:[:：](?P<ss>[0-5]\d))?(?!\d)",
            r"(?<![\d.])(?P<ra>\d+)[:：](?P<rb>\d+)(?![\d.])",
            r"(?<![\d/])(?P<fa>\d+)/(?P<fb>\d+)(?![\d/])",
            # 第1、2条 and 第1-3条: every number of an ordinal is read without 两.
            rf"(?<![\d.])(?P<ord>第)\s*(?P<onum>{_NUM})"
            rf"(?:(?P<olist>(?:\s*[、,和及与或]\s*\d+(?![\d.]))+)|{_RANGE}(?P<oend>\d+))?",
            rf"(?<![\d.,]){_qty('a_')}{_RANGE}{_qty('b_')}",
            rf"(?<![\d.,]){_qty('q_')}",
            r"(?P<digits>\d+)",  # whatever digits the rules above leave: No.5, 1,2,3
        ]
    )
)


def _digits(num: str, table: str = DIGITS) -> str:
    return "".join(table[int(c)] for c in num if c.isdigit())


def _integer(num: str, *, liang: bool = False) -> str:
    if (len(num) > 1 and num.startswith("0")) or len(num) > 16:
        return _digits(num)  # codes and IDs (007, long numbers) are read digit by digit
    words = cn2an.an2cn(num)
    if liang and words.startswith("二") and (len(words) == 1 or words[1] in "百千万亿"):
        words = "两" + words[1:]
    return words


def _number(num: str, *, liang: bool = False) -> str:
    """A decimal or integer (thousands separators allowed) in Chinese words."""
    whole, _, frac = num.replace(",", "").partition(".")
    if frac:
        # 2000.5元 → 两千点五元, but 2.5亩 → 二点五亩.
        return _integer(whole, liang=liang and len(whole) > 1) + "点" + _digits(frac)
    return _integer(whole, liang=liang)


def _wants_liang(after: str) -> bool:
    after = after.lstrip()
    if after[:1] in _ABOUT:
        after = after[1:].lstrip()
    return after.startswith(tuple(_LIANG_BEFORE)) and not after.startswith(_NOT_LIANG)


def _phone(num: str) -> str:
    groups = [g for g in re.split(r"[-－ ]+", num) if g]
    if len(groups) == 1 and re.fullmatch(r"1[3-9]\d{9}", num):
        groups = [num[:3], num[3:7], num[7:]]  # mobiles are read 3-4-4
    return "，".join(_digits(g, _PHONE_DIGITS) for g in groups)


def _quantity(m: re.Match[str], p: str, after: str, *, pct: str = "") -> str:
    """Read one quantity (currency, sign, number, percent, unit) matched with prefix p."""
    unit = _UNITS.get(m[f"{p}unit"] or "", "")
    pct = m[f"{p}pct"] or pct
    liang = not pct and _wants_liang(unit or ("元" if m[f"{p}cur"] else after))
    words = _number(m[f"{p}num"], liang=liang)
    if pct:
        words = ("百分之" if pct == "%" else "千分之") + words
    if m[f"{p}sign"]:
        below_zero = (unit or after.lstrip()).startswith("摄氏度")
        words = ("零下" if below_zero else "负") + words
    if m[f"{p}cur"] and not after.lstrip().startswith("元"):
        unit += "元"
    return words + unit


def _read_number(m: re.Match[str]) -> str:
    after = m.string[m.end() :]
    if m["tel"]:
        return m["kw"] + m["kwsep"] + _phone(m["tel"])
    if m["code"]:
        return m["codep"] + "，".join(_digits(g) for g in re.split(r"[-－—–:：]", m["code"]))
    if m["mobile"] or m["land"] or m["svc"] or m["svc2"]:
        return _phone(m["mobile"] or m["land"] or m["svc"] or m["svc2"])
    if m["gen"]:
        return _digits(m["gen"])
    if m["yr1"]:
        return f"{_digits(m['yr1'])}到{_digits(m['yr2'])}"
    if m["y"]:
        return (
            f"{_digits(m['y'])}年{_integer(m['mo'].lstrip('0'))}月{_integer(m['d'].lstrip('0'))}日"
        )
    if m["year"]:
        return _digits(m["year"])
    if m["dotted"]:
        return "点".join(_integer(part) for part in m["dotted"].split("."))  # section 3.2.1
    if m["hh"]:
        hh = _integer(str(int(m["hh"])), liang=True) + "点"
        mm = "" if m["mm"] == "00" and not m["ss"] else _number(m["mm"]) + "分"
        return hh + mm + (_number(m["ss"]) + "秒" if m["ss"] else "")
    if m["ra"]:
        return f"{_number(m['ra'])}比{_number(m['rb'])}"
    if m["fa"]:
        return f"{_number(m['fb'])}分之{_number(m['fa'])}"
    if m["ord"]:
        items = re.findall(r"\s*([、,和及与或])\s*(\d+)", m["olist"] or "")
        rest = "".join(sep + _number(n) for sep, n in items)
        return "第" + _number(m["onum"]) + rest + (f"到{_number(m['oend'])}" if m["oend"] else "")
    if m["a_num"]:
        # The first bound is read like the second: 100-200元 → 一百到两百元, 10-20% → 百分之十到百分之二十.
        b_unit = _UNITS.get(m["b_unit"] or "", "")
        first = _quantity(m, "a_", b_unit or after, pct=m["b_pct"] or "")
        return f"{first}到{_quantity(m, 'b_', after)}"
    if m["q_num"]:
        return _quantity(m, "q_", after)
    return _integer(m["digits"])


def normalise_digits(text: str) -> str:
    text = text.translate(str.maketrans("０１２３４５６７８９％／", "0123456789%/"))
    return re.sub(r"(?<=\d)[．。](?=\d)", ".", text)


def read_numbers(text: str, start: int, end: int) -> str:
    """text[start:end] with its numbers read; a reading still sees the words after `end`."""
    out, pos = [], start
    for m in _NUMBER_RE.finditer(text, start, end):
        out += [text[pos : m.start()], _read_number(m)]
        pos = m.end()
    out.append(text[pos:end])
    return "".join(out)
