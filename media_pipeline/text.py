"""Covenant text prepared for screens and for speech: display text, spoken text, pinyin, phrases.

Spoken readings follow what a Mandarin announcer says:

- amounts and counts before a measure word read a leading 2 as 两 (两元, 两千五百元, 两万人,
  两点 for 2 o'clock); 2 alone, in tens and units (十二, 二十, 一百零二), in ordinals (第二条),
  months and days (二月二日), decimals (二点五) and percentages (百分之二) stays 二;
  Approximate counts too (两千多人, 两百余亩), and amounts with decimals (两千点五元); list
  items and ordinal lists never (第一、二条, 2、→ 二、);
- years (4 digits before 年, or a full date 2024-03-01 / 2024.3.1 / 2024/3/1) digit by digit,
  and so are year ranges (2021-2025年 → 二零二一到二零二五年) and generations (80后 → 八零后);
- telephone numbers (mobiles, 0855-1234567, 400 lines, or any number after 电话/热线/拨打/…)
  digit by digit with 1 read 幺, grouped by short pauses; so are emergency and service numbers
  (110, 119, 120, 122, 12345, 12315, 12119 …) where the words around show they are dialled
  (火警请打119 → 幺幺九, 110、119、120), while 110千伏 and 限速120 stay quantities;
- codes of letters and digits (GB 50016-2014, G65, H7N9) digit by digit, groups by pauses;
- ranges (100~200元, 100-200元, 100至200元) as 一百到两百元, and a dash between dates or times
  as 到 (3月1日-3月15日, 8:00-17:00); 8:30 as 八点三十分; 1/3 as 三分之一; 50% as 百分之五十;
  -5 as 负五 (零下五摄氏度 for -5℃); numbers with a leading 0 digit by digit.

In the pinyin, the adverbial particle 地 (认真地, 更好地) is read de5, the noun (土地, 林地) dì;
一 in numbers is said as in numbers (第一条 and 十一 yi1, 一千 yi4, 一万 yi2).
A covenant's own pronunciation list (word → tone-numbered pinyin or a Hanzi respelling,
`normalise_reading`) is applied to the spoken text, so every engine says those words its way.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
from pypinyin import Style, lazy_pinyin, load_phrases_dict
from pypinyin.constants import PHRASES_DICT
from pypinyin.seg.mmseg import seg as pypinyin_seg

from .errors import PipelineError
from .hanzi import to_simplified
from .jieba_dict import load_default_dictionary
from .spoken_numbers import DATE_UNITS, DIGITS, normalise_digits, read_numbers
from .zh_display import CJK, CJK_CHAR, CLOSERS, FULL_PUNCT, display_text, is_cjk

# Bump when the readings change (pinyin_for_speech), so the speech cache, keyed by the spoken
# text and the engine, does not replay phrases synthesised from the old pinyin.
READINGS_VERSION = "2"


# Pause after a phrase, by its last punctuation mark (milliseconds).
PAUSE_COMMA = 250
PAUSE_SEMICOLON = 450
PAUSE_STOP = 650
PAUSE_WORD_BREAK = 150  # a long phrase cut at a word boundary: a breath, not a stop
_PAUSES = {
    **dict.fromkeys("，、,", PAUSE_COMMA),
    **dict.fromkeys("；：;:", PAUSE_SEMICOLON),
    **dict.fromkeys("。！？.!?…", PAUSE_STOP),
}
_SPLIT_AT = "，。；：！？、,.;:!?"

# Readings pypinyin's dictionary gets wrong in covenant vocabulary.
_PINYIN_OVERRIDES = {
    "还款": [["huán"], ["kuǎn"]],
    "还贷": [["huán"], ["dài"]],
    "还钱": [["huán"], ["qián"]],
    "还债": [["huán"], ["zhài"]],
    "流血": [["liú"], ["xuè"]],
    "一律": [["yí"], ["lǜ"]],
}
# Words jieba should never cut (so long phrases are not split inside them).
from .covenant_terms import COVENANT_TERMS as _JIEBA_WORDS  # noqa: E402 - the user dictionary


@functools.cache
def _load_vocabulary() -> None:
    """Teach pypinyin and jieba our vocabulary once, on first use (not at import)."""
    # Both libraries keep one process-wide dictionary; these additions only fix readings
    # and word boundaries, so sharing them with other callers is harmless.
    load_phrases_dict(_PINYIN_OVERRIDES)
    # jieba announces loading its dictionary on stderr; that is noise in a progress bar.
    jieba.setLogLevel(logging.WARNING)
    load_default_dictionary()  # before add_word, which would load it jieba's slower way
    for word in _JIEBA_WORDS:
        jieba.add_word(word)


# ----------------------------------------------------------------------------- spoken text

# A covenant's pronunciation list: (word, reading) pairs, a reading being tone-numbered
# pinyin ("chong2 qing4") or Hanzi said in the word's place (see normalise_reading).
Readings = Sequence[tuple[str, str]]


def spoken_text(text: str, readings: Readings = ()) -> str:
    """What an announcer says: display text with every number written out in Chinese, and
    each word of `readings` (a covenant's pronunciation list) said as it is listed."""
    text = normalise_digits(display_text(text))
    pattern, said = _reading_table(tuple((w, r) for w, r in readings))
    out, pos = [], 0
    for m in pattern.finditer(text) if pattern else ():
        out += [read_numbers(text, pos, m.start()), said[m[0]]]
        pos = m.end()
    out.append(read_numbers(text, pos, len(text)))
    spoken = "".join(out)
    # 2021年-2025年, 3月1日～3月15日, 8:00-17:00: the dash of a range of dates or times is 到.
    spoken = re.sub(f"(?<=[{DATE_UNITS}])\\s*[-－—–~～]\\s*(?=[{DIGITS}十两])", "到", spoken)
    return re.sub(f"(?<=[{CJK}])/(?=[{CJK}])", "每", spoken)  # 100元/亩 → 一百元每亩


# ------------------------------------------------------------------------------ pinyin

_STOP_MARKS = set("。！？.!?…")
_PAUSE_MARKS = set("，、；：,;:—～~（）()《》「」『』【】“”‘’\"'")


def _words_for_pinyin(text: str) -> list[str]:
    """jieba's words, each cut further by pypinyin's phrase dictionary where it has no entry.

    pypinyin alone matches phrases greedily left to right and so reads 村中长老 as 中长 + 老
    (chang2); jieba's context-aware words put the boundary right (村 中 长老), and pypinyin's
    own phrases still split words it does not know (银行行长 → 银行 行长).
    """
    _load_vocabulary()
    words: list[str] = []
    for word in jieba.lcut(text):
        if word in PHRASES_DICT or not CJK_CHAR.search(word):
            words.append(word)
        else:
            words.extend(pypinyin_seg.cut(word))
    return words


# Last characters of words naming land or a plot of it, or pointing at one: a 地 after them
# is the noun dì (公益林地, 水田地, 茶园地, 两亩地, 这块地, 集体的地, 自家地).
_DI_AFTER = frozenset(
    "林田园山坡坪场土原野岭滩坝塘沟岸谷洲坟墓葬牧块片亩垄丘畦的之这那此该本各每其家户村寨组"
)


def _adverbial_de(words: list[str]) -> list[str]:
    """`words` with each adverbial 地 (认真地, 更好地, 积极主动地) spelled 的, read de5.

    jieba keeps the noun 地 inside its words (土地, 林地, 宅基地, 地方, 当地); a 地 it leaves
    alone between two Chinese words is the particle before a verb, unless the word before
    names land or a plot, or points at one (_DI_AFTER).
    """
    out = list(words)
    for i in range(1, len(words) - 1):
        before, after = words[i - 1], words[i + 1]
        if (
            words[i] == "地"
            and is_cjk(before[-1])
            and before[-1] not in _DI_AFTER
            and is_cjk(after[0])
        ):
            out[i] = "的"
    return out


# How 一 is said in numbers, where jieba's words often leave pypinyin no context: yi1 after
# another numeral (十一, 二十一个, 一千零一, 十一万) and as an ordinal or a digit (第一条, 一九九八年,
# 一月); as a count before 百 and 千, yi4 (一千元), before 万 and 亿, yi2 (一万元). Elsewhere
# pypinyin's sandhi applies (一条 yi4 tiao2). Each such 一 is given to pypinyin as a character
# with that one reading, which no sandhi touches.
_NUMERALS = frozenset("零一二三四五六七八九十百千万亿两幺")
_YI_DIGIT_BEFORE = frozenset("零一二三四五六七八九幺月")
_YI_AS = {"yi1": "伊", "yi2": "姨", "yi4": "义"}


def _yi_reading(text: str, i: int) -> str | None:
    """How the 一 at text[i] is said if it is part of a number, else None."""
    before, after = text[i - 1 : i], text[i + 1 : i + 2]
    if before and before in _NUMERALS:
        return "yi1"
    if after and after in "百千":
        return "yi4"
    if after and after in "万亿":
        return "yi2"
    if before == "第" or (after and after in _YI_DIGIT_BEFORE):
        return "yi1"
    return None


def _numeral_yi(words: list[str]) -> list[str]:
    """`words` with each 一 of a number split off as a stand-in read as _yi_reading says."""
    text = "".join(words)
    said = {i: r for i, ch in enumerate(text) if ch == "一" and (r := _yi_reading(text, i))}
    if not said:
        return words
    out: list[str] = []
    pos = 0
    for word in words:
        start = 0
        for k in range(len(word)):
            if pos + k in said:
                if k > start:
                    out.append(word[start:k])
                out.append(_YI_AS[said[pos + k]])
                start = k + 1
        if start < len(word):
            out.append(word[start:])
        pos += len(word)
    return out


def pinyin_for_speech(spoken: str) -> str:
    """Tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice, punctuation as pauses."""
    if re.search(r"\d", spoken):
        spoken = spoken_text(spoken)  # a stray digit would be read as a tone number
    syllables = lazy_pinyin(
        _numeral_yi(_adverbial_de(_words_for_pinyin(spoken))),
        style=Style.TONE3,
        neutral_tone_with_five=True,
        tone_sandhi=True,
    )
    out: list[str] = []
    for item in syllables:
        if re.fullmatch(r"[a-z]+[1-5]", item):
            out.append(item)
            continue
        # Non-Chinese runs come back whole ("，ABC"): keep Latin words, turn marks into pauses.
        for token in re.findall(r"[A-Za-z]+|\S", item):
            if token[0].isascii() and token[0].isalpha():
                out.append(token)
            elif token in _STOP_MARKS:
                out.append(".")
            elif token in _PAUSE_MARKS:
                out.append(",")
        if item == " " and out and out[-1] not in ",.":
            out.append(",")  # 第一章 总则: a space between Chinese words is a short pause
    text = " ".join(out)
    text = re.sub(r" ([,.])", r"\1", text)  # "zhang1 ," → "zhang1,"
    text = re.sub(r"([,.])[,.]+", lambda m: "." if "." in m[0] else ",", text)
    return text.strip(" ,")


# ------------------------------------------------------------------ pronunciation lists


class ReadingError(PipelineError):
    """A word or reading of a pronunciation list that cannot be used."""


MAX_WORD = 40
_TONE_MARKS = re.compile("[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ]")
# Said differently by the words around them (一 and 不 change tone, 地 may be the particle):
# never used to respell.
_NOT_RESPELLING = "一不地"


def normalise_word(word: str) -> str:
    """A word of a pronunciation list as it is matched: its display text, half-width digits."""
    norm = normalise_digits(display_text(word))
    if not norm:
        raise ReadingError("词语是空的 / the word is empty")
    if len(norm) > MAX_WORD:
        raise ReadingError(
            f"词语太长（最多 {MAX_WORD} 个字）/ the word is too long (at most {MAX_WORD} characters)"
        )
    if marks := sorted({ch for ch in norm if ch in _SPLIT_AT or ch in FULL_PUNCT}):
        raise ReadingError(
            f"词语 “{word}” 含有标点 {''.join(marks)}：朗读在标点处断句，这样的词永远对不上"
            f" / the word {word!r} holds punctuation ({''.join(marks)}), where phrases are cut,"
            " so it would never match"
        )
    return norm


@functools.cache
def _syllable_chars() -> dict[str, tuple[str, ...]]:
    """Characters by tone-numbered reading, best first: the characters with that reading
    alone, or as their first, that jieba's dictionary knows (no 一, 不 or 地)."""
    from pypinyin.contrib.tone_convert import to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    _load_vocabulary()
    freq = jieba.dt.FREQ
    sole: defaultdict[str, list[str]] = defaultdict(list)
    first: defaultdict[str, list[str]] = defaultdict(list)
    for code, value in pinyin_dict.items():
        ch = chr(code)
        if not 0x4E00 <= code <= 0x9FFF or freq.get(ch, 0) <= 0 or ch in _NOT_RESPELLING:
            continue
        said = [to_tone3(r, neutral_tone_with_five=True) for r in value.split(",")]
        (sole if len(set(said)) == 1 else first)[said[0]].append(ch)

    # A character with other readings may be read one of those beside its neighbours (and
    # an online engine chooses for itself), so common ones with a single reading come first,
    # then common ones, then the rest; jieba's frequency orders each group.
    def rank(s: str) -> tuple[str, ...]:
        chars = [(c, True) for c in sole[s]] + [(c, False) for c in first[s]]
        chars.sort(key=lambda cs: (not _is_common(cs[0]), not cs[1], -freq[cs[0]]))
        return tuple(c for c, _ in chars)

    return {s: rank(s) for s in {*sole, *first}}


def _is_common(ch: str) -> bool:
    """One of the 3,755 common characters (GB 2312 level 1, rows 16–55)."""
    try:
        code = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


def _candidates(syllable: str) -> tuple[str, ...]:
    """Characters that read `syllable`; for a neutral tone (5), those of its other tones too."""
    chars = _syllable_chars()
    found = chars.get(syllable, ())
    if syllable.endswith("5"):
        found += tuple(c for t in "1234" for c in chars.get(syllable[:-1] + t, ()))
    return found


def normalise_reading(reading: str) -> str:
    """A reading as stored: Hanzi said in the word's place (zh-Hans), or pinyin with a tone
    number on every syllable ("chong2 qing4"; tone marks, v and ü are accepted)."""
    text = re.sub(r"\s+", " ", reading).strip()
    if not text:
        raise ReadingError("读音是空的 / the reading is empty")
    if all(is_cjk(ch) for ch in text.replace(" ", "")):
        return to_simplified(text.replace(" ", ""))
    if CJK_CHAR.search(text):
        raise ReadingError(
            f"读音 “{reading}” 混用了汉字和拼音：请只写拼音（chong2 qing4）或只写汉字"
            f" / the reading {reading!r} mixes Hanzi and pinyin: give pinyin (chong2 qing4) or Hanzi"
        )
    from pypinyin.contrib.tone_convert import to_tone3

    marked = bool(_TONE_MARKS.search(text))  # with tone marks, a bare syllable is neutral
    syllables: list[str] = []
    for token in re.split(r"[\s'’\-]+", text.lower().replace("u:", "v").replace("ü", "v")):
        token = to_tone3(token, neutral_tone_with_five=marked) if marked else token
        parts = re.findall(r"[a-z]+[1-5]", token)
        if not token or "".join(parts) != token:
            raise ReadingError(
                f"读音 “{reading}” 里的 “{token}” 不是带声调的拼音：每个音节都要有声调数字 1–5，"
                f"音节之间用空格，如 chong2 qing4 / {token!r} in {reading!r} is not pinyin with"
                " tones: give every syllable a tone number 1–5, syllables apart, e.g. chong2 qing4"
            )
        for syllable in parts:
            if not _candidates(syllable):
                raise ReadingError(
                    f"没有读作 {syllable} 的汉字，请检查拼音 / no character is read {syllable}:"
                    " check the pinyin"
                )
        syllables += parts
    return " ".join(syllables)


def _plain_pinyin(hanzi: str) -> list[str]:
    """Tone-numbered pinyin of Chinese text, each syllable as written (no tone sandhi)."""
    return lazy_pinyin(_words_for_pinyin(hanzi), style=Style.TONE3, neutral_tone_with_five=True)


@functools.lru_cache(maxsize=1024)
def respell(reading: str) -> str:
    """The Hanzi a reading is said as: itself if Hanzi, else common characters with those
    readings (chong2 qing4 → 崇庆), checked together so no two make a word read otherwise."""
    reading = normalise_reading(reading)
    if is_cjk(reading[0]):
        return reading
    syllables = reading.split()
    options = [_candidates(s) for s in syllables]
    picks = [0] * len(syllables)
    best, fewest = "", len(syllables) + 1
    for _ in range(8):
        word = "".join(o[p] for o, p in zip(options, picks, strict=True))
        said = _plain_pinyin(word)
        wrong = [i for i, s in enumerate(syllables) if i >= len(said) or said[i] != s]
        if len(wrong) < fewest:
            best, fewest = word, len(wrong)
        if not wrong:
            break
        for i in wrong:
            picks[i] = min(picks[i] + 1, len(options[i]) - 1)
    return best


@functools.lru_cache(maxsize=64)
def _reading_table(
    readings: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """A pattern of the listed words (longest first) and what each is said as."""
    said = {normalise_word(w): respell(r) for w, r in readings}
    if not said:
        return None, said
    words = sorted(said, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)), said


def readings_used(text: str, readings: Readings) -> tuple[tuple[str, str], ...]:
    """The entries of `readings` whose word is in `text`, sorted: what saying `text` depends
    on (a clause's render key holds these, so a changed reading re-renders only its clauses)."""
    shown = normalise_digits(display_text(text))
    return tuple(sorted((w, r) for w, r in readings if normalise_word(w) in shown))


# ------------------------------------------------------------------------------ phrases


@dataclass(frozen=True)
class Phrase:
    """One subtitle cue's worth of a clause: what is shown, what is said, the pause after."""

    display: str
    spoken: str
    pause_after_ms: int


def _length(text: str) -> int:
    """Characters that take time to say or space on screen: CJK and alphanumerics."""
    return sum(ch.isalnum() for ch in text)


# A number with its inner marks (1,000 / 3.5 / 08:30 / 100~200 / 0855-1234567 / 2024.3.1)
_ATOM_RE = re.compile(r"[¥￥]?\d+(?:[.,:：~～\-－/]\d+)*[%‰]?|[A-Za-z]+")


def _split_at_punctuation(text: str) -> list[str]:
    pieces, start, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        # Half-width marks between digits are part of a number (1,000 / 3.5 / 08:30).
        in_number = (
            ch.isascii()
            and 0 < i < len(text) - 1
            and text[i - 1].isdigit()
            and text[i + 1].isdigit()
        )
        if ch in _SPLIT_AT and not in_number:
            j = i + 1
            # Keep runs of marks and closing quotes with the phrase they end: 。” / ！？
            while j < len(text) and (text[j] in _SPLIT_AT or text[j] in CLOSERS):
                j += 1
            pieces.append(text[start:j])
            start = i = j
        else:
            i += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


@functools.lru_cache(maxsize=64)
def _atoms(words: tuple[str, ...]) -> re.Pattern[str]:
    """_ATOM_RE, and before it the words of a pronunciation list (longest first)."""
    if not words:
        return _ATOM_RE
    listed = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"{listed}|{_ATOM_RE.pattern}")


def _tokens(piece: str, keep: tuple[str, ...] = ()) -> list[str]:
    """Words to cut a long piece between: jieba words, with numbers, Latin and the words
    `keep` (a pronunciation list's) kept whole."""
    _load_vocabulary()
    tokens: list[str] = []
    pos = 0
    for m in _atoms(keep).finditer(piece):
        tokens += jieba.lcut(piece[pos : m.start()]) if pos < m.start() else []
        tokens.append(m[0])
        pos = m.end()
    tokens += jieba.lcut(piece[pos:]) if pos < len(piece) else []
    return tokens


def _split_long(piece: str, max_chars: int, keep: tuple[str, ...] = ()) -> list[str]:
    """Cut a piece into roughly equal runs of whole words, none longer than max_chars."""
    total = _length(piece)
    if total <= max_chars:
        return [piece]
    tokens = _tokens(piece, keep)
    target = math.ceil(total / math.ceil(total / max_chars))  # even parts, no tiny tail
    parts, current = [], ""
    for token in tokens:
        if current and _length(current) + _length(token) > max_chars:
            parts.append(current)
            current = ""
        current += token
        if _length(current) >= target:
            parts.append(current)
            current = ""
    if current:
        # Trailing punctuation joins the previous part rather than standing alone.
        if parts and not _length(current):
            parts[-1] += current
        else:
            parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _pause(piece: str, *, last: bool) -> int:
    mark = piece.rstrip(CLOSERS)[-1:]
    pause = _PAUSES.get(mark, PAUSE_WORD_BREAK)
    return max(pause, PAUSE_STOP) if last else pause


def split_phrases(text: str, max_chars: int = 32, readings: Readings = ()) -> list[Phrase]:
    """Split display_text(text) into phrases at punctuation (never inside a number or a listed
    word), each ≤ max_chars; each phrase's spoken text says the words of `readings` their way."""
    keep = tuple(normalise_word(w) for w, _ in readings)
    pieces: list[tuple[str, int]] = []
    # A line break in a covenant ends a heading or an item even without punctuation.
    lines = [display_text(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    for n, line in enumerate(lines):
        chunks = [
            part for p in _split_at_punctuation(line) for part in _split_long(p, max_chars, keep)
        ]
        for k, chunk in enumerate(chunks):
            pause = _pause(chunk, last=n == len(lines) - 1 and k == len(chunks) - 1)
            if k == len(chunks) - 1 and pause == PAUSE_WORD_BREAK:
                pause = PAUSE_SEMICOLON  # end of a line without punctuation
            pieces.append((chunk, pause))

    merged: list[tuple[str, int]] = []
    carry = ""  # marks before any words (a leading "“") go with the next phrase
    for chunk, pause in pieces:
        chunk = carry + chunk
        if not _length(chunk):
            if merged:  # marks alone belong to the phrase they end
                merged[-1] = (merged[-1][0] + chunk, max(merged[-1][1], pause))
            else:
                carry = chunk
            continue
        carry = ""
        prev = merged[-1][0] if merged else ""
        if prev and _length(prev) <= 3 and _length(prev + chunk) <= max_chars:
            # A very short lead-in ("一、", "第一条：") is shown and said with what follows.
            merged[-1] = (prev + chunk, pause)
        else:
            merged.append((chunk, pause))
    return [Phrase(d, spoken_text(d, readings), p) for d, p in merged]


@dataclass(frozen=True)
class PhraseReading:
    """A phrase as shown, as said, and as the tone-numbered pinyin espeak-ng is given."""

    display: str
    spoken: str
    pinyin: str


def read_aloud(text: str, readings: Readings = ()) -> list[PhraseReading]:
    """Each phrase of `text` as a render would show and say it, with its pinyin."""
    return [
        PhraseReading(p.display, p.spoken, pinyin_for_speech(p.spoken))
        for p in split_phrases(text, readings=readings)
    ]
