"""The covenant page and `covenant show`: chapters, sections and closing shown, and the page
showing what the clause's video shows (display text, 第一条, tagged by script)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, replace

import pytest
from sqlalchemy import select

from library.covenants.rendering import make_job
from library.covenants.topics import guess_topic
from library.covenants.versions import get_covenant
from library.models import Segment, SegmentFile
from media_pipeline.hanzi import to_simplified
from media_pipeline.jobs import PIPELINE_VERSION, RenderOptions
from tests.small_catalogue import build_small_catalogue

# Traditional characters, half-width punctuation, a chapter with a numbered section, sub-items
# on lines of their own, and a closing (附则 sentence, signature, date).
TRADITIONAL = """龍潭村村規民約
為了維護本村秩序，制定本村規民約。
第一章 消防安全
一、用火管理
第一條 每晚由輪值戶鳴鑼喊寨，提醒各家熄滅火塘。
第二條 嚴禁在木樓旁堆放柴草,違者罰款200元.
第二章 尊老愛幼
第三條 子女應當贍養老人：
（一）按月給付贍養費；
（二）不得辱罵老人。
附則
本公約自通過之日起施行。
龍潭村村民委員會
2024年3月1日
"""
CLOSING = "附則\n本公約自通過之日起施行。\n龍潭村村民委員會\n2024年3月1日"
# Simplified, numbered "1." (no 第…条 label of its own).
ARABIC = """清水村村规民约
1. 爱护公物。
2. 讲究卫生，不乱扔垃圾。
"""


@pytest.fixture
def traditional(runner, tmp_path) -> str:
    """The Traditional covenant imported; its slug."""
    source = tmp_path / "longtan.txt"
    source.write_text(TRADITIONAL, encoding="utf-8")
    result = runner.invoke("covenant", "import", source)
    assert result.exit_code == 0, result.output
    return "longtancun"


def _page(client, slug: str, lang: str = "zh") -> str:
    response = client.get(f"/c/{slug}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _text(html: str) -> str:
    """The page's words, tags removed."""
    return re.sub(r"<[^>]+>", "", html)


def test_chapters_and_sections_reach_the_database(db, traditional):
    with db.session() as session:
        clauses = get_covenant(session, traditional).current.clauses
        assert [(c.chapter, c.section) for c in clauses] == [
            ("第一章 消防安全", "一、用火管理"),
            ("第一章 消防安全", "一、用火管理"),
            ("第二章 尊老愛幼", None),
        ]


def test_chapters_and_sections_are_headings_on_the_page(client, traditional):
    html = _page(client, traditional)
    # Shown once each, before their first clause, as the video shows text: Simplified.
    assert html.count('<h2 class="chapter" lang="zh-Hans">第一章 消防安全</h2>') == 1
    assert html.count('<h2 class="chapter" lang="zh-Hans">第二章 尊老爱幼</h2>') == 1
    assert html.count('<h3 class="section" lang="zh-Hans">一、用火管理</h3>') == 1
    assert (
        html.index("第一章 消防安全")
        < html.index("一、用火管理")
        < html.index('id="longtancun-01"')
    )
    assert html.index('id="longtancun-02"') < html.index("第二章 尊老爱幼")
    assert html.index("第二章 尊老爱幼") < html.index('id="longtancun-03"')
    assert '<h4 class="clause-heading">' in html  # below chapter and section


def test_chapters_sections_and_closing_in_covenant_show(runner, traditional):
    shown = runner.invoke("covenant", "show", traditional)
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert out.count("第一章 消防安全") == 1 and out.count("一、用火管理") == 1
    assert out.index("第一章 消防安全") < out.index("longtancun-01")
    assert out.index("longtancun-02") < out.index("第二章 尊老愛幼") < out.index("longtancun-03")
    assert "结尾 / closing: 附則" in out and "2024年3月1日" in out


def test_closing_is_stored_and_shown(client, db, runner, traditional, tmp_path):
    with db.session() as session:
        version = get_covenant(session, traditional).current
        assert version.closing == CLOSING
        assert "龍潭村村民委員會" not in version.clauses[-1].text_zh
    html = _page(client, traditional)
    closing = re.search(r'<section class="closing">(.*?)</section>', html, re.S)
    assert closing is not None
    shown = "附则\n本公约自通过之日起施行。\n龙潭村村民委员会\n2024年3月1日"
    assert f'<p class="zh" lang="zh-Hans">{shown}</p>' in closing.group(1)
    assert f'<p class="zh" lang="zh-Hant">{CLOSING}</p>' in closing.group(1)
    # A new date in the closing is a new text: a new version, the clauses keep their keys.
    source = tmp_path / "longtan.txt"
    source.write_text(TRADITIONAL.replace("3月1日", "4月1日"), encoding="utf-8")
    again = runner.invoke("covenant", "import", source)
    assert "第 2 版" in again.output, again.output
    with db.session() as session:
        version = get_covenant(session, traditional).current
        assert version.closing.endswith("2024年4月1日")
        assert [c.key for c in version.clauses] == [f"{traditional}-0{n}" for n in (1, 2, 3)]


def test_a_traditional_source_is_zh_hant_and_its_display_text_zh_hans(client, traditional):
    html = _page(client, traditional)
    # The display text, as the subtitles show it: Simplified, full-width punctuation.
    assert '<p class="zh" lang="zh-Hans">严禁在木楼旁堆放柴草，违者罚款200元。</p>' in html
    # The source's own words, tagged as what they are.
    assert '<p class="zh" lang="zh-Hant">嚴禁在木樓旁堆放柴草,違者罰款200元.</p>' in html
    assert '<h1 lang="zh-Hant">龍潭村村規民約</h1>' in html
    assert '<p class="zh" lang="zh-Hans">为了维护本村秩序，制定本村规民约。</p>' in html
    # No Traditional text is tagged zh-Hans.
    for tagged in re.findall(r'lang="zh-Hans">([^<]+)<', html):
        assert to_simplified(tagged) == tagged, tagged


def test_a_simplified_source_has_no_zh_hant(client, runner, tmp_path):
    source = tmp_path / "qingshui.txt"
    source.write_text(ARABIC, encoding="utf-8")
    assert runner.invoke("covenant", "import", source).exit_code == 0
    html = _page(client, "qingshuicun")
    assert "zh-Hant" not in html and "原文" not in html
    assert '<p class="zh" lang="zh-Hans">讲究卫生，不乱扔垃圾。</p>' in html


def test_sub_items_keep_their_lines(client, traditional):
    html = _page(client, traditional)
    assert (
        '<p class="zh" lang="zh-Hans">子女应当赡养老人：\n（一）按月给付赡养费；\n（二）不得辱骂老人。</p>'
        in html
    )
    css = client.get("/static/site.css").get_data(as_text=True)
    assert re.search(r"\.zh \{[^}]*white-space: pre-line", css)


@pytest.mark.parametrize(
    ("text", "slug", "expected"),
    [
        pytest.param(TRADITIONAL, "longtancun", ["第一条", "第二条", "第三条"], id="第一條"),
        pytest.param(ARABIC, "qingshuicun", ["第一条", "第二条"], id="1."),
    ],
)
def test_page_and_video_name_the_clause_alike(client, db, runner, tmp_path, text, slug, expected):
    source = tmp_path / f"{slug}.txt"
    source.write_text(text, encoding="utf-8")
    assert runner.invoke("covenant", "import", source).exit_code == 0
    html = _page(client, slug)
    labels = re.findall(r'<span class="label" lang="zh-Hans">([^<]+)</span>', html)
    with db.session() as session:
        cov = get_covenant(session, slug)
        jobs = [make_job(cov, c, RenderOptions()) for c in cov.current.clauses]
    assert labels == [job.clause_label for job in jobs] == expected
    english = _page(client, slug, "en")
    label = '<span class="label" lang="zh-Hans">第一条</span> <small class="label-en">(Clause 1)'
    assert label in english


def test_the_render_job_carries_chapter_and_section(db, traditional):
    with db.session() as session:
        cov = get_covenant(session, traditional)
        first, _, third = (make_job(cov, c, RenderOptions()) for c in cov.current.clauses)
    assert (first.chapter, first.section) == ("第一章 消防安全", "一、用火管理")
    assert (third.chapter, third.section) == ("第二章 尊老愛幼", None)
    # Headings are render inputs; absent ones leave the key clauses had before they were.
    assert replace(first, chapter="第一章 防火").inputs_hash() != first.inputs_hash()
    plain = replace(third, chapter=None, section=None)
    data = asdict(plain)
    for name in ("key", "readings", "chapter", "section", "background", "background_sha256"):
        del data[name]
    data["options"].pop("music_bed")
    data["options"].pop("intro")  # the gong, as before intros could be chosen
    data["pipeline"] = PIPELINE_VERSION
    before = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    assert plain.inputs_hash() == hashlib.sha256(before).hexdigest()


def test_a_topic_that_would_be_other_is_the_heading(db, traditional):
    with db.session() as session:
        topics = [c.topic for c in get_covenant(session, traditional).current.clauses]
    # 第三条 has no keyword: its chapter's name (第二章 尊老愛幼) rather than 其他.
    assert topics == ["消防安全", "消防安全", "尊老爱幼"]


@pytest.mark.parametrize(
    ("text", "section", "chapter", "topic"),
    [
        pytest.param("子女应当赡养老人。", None, "第三章 尊老愛幼", "尊老爱幼", id="chapter"),
        pytest.param(
            "子女应当赡养老人。", "（二）孝敬老人", "第三章 家庭", "孝敬老人", id="section"
        ),
        pytest.param("严禁野外用火。", None, "第三章 尊老爱幼", "消防安全", id="keyword-wins"),
        pytest.param("本公约自通过之日起施行。", "附则", None, "其他", id="part-heading"),
        pytest.param("本公约自通过之日起施行。", None, "第五章 附則", "其他", id="part-chapter"),
        pytest.param("子女应当赡养老人。", None, None, "其他", id="no-heading"),
        pytest.param(
            "子女应当赡养老人。", "关于子女赡养老人和孝敬父母的若干规定", None, "其他", id="long"
        ),
    ],
)
def test_guess_topic_falls_back_to_the_heading(text, section, chapter, topic):
    assert guess_topic(text, section, chapter=chapter) == topic


def test_labels_are_localised_not_codes(client, db, store, tmp_path):
    built = build_small_catalogue(db, store, tmp_path / "files")
    rid = built.ids["public"]
    zh = client.get(f"/recordings/{rid}?lang=zh").get_data(as_text=True)
    assert "歌词（简体中文）" in zh and "<small>zh-Hans</small>" not in zh
    en = client.get(f"/recordings/{rid}?lang=en").get_data(as_text=True)
    assert "Lyrics (Simplified Chinese)" in en
    # The heading is in the page's language, not the track's.
    assert re.search(r'<h2 lang="en">Lyrics \(Simplified Chinese\)</h2>', en)


def test_audio_shows_its_duration_before_play(client, db, traditional):
    with db.session() as session:
        clause = get_covenant(session, traditional).current.clauses[0]
        clause.segments.append(
            Segment(
                inputs_hash="2" * 64,
                engine="espeak",
                voice="cmn",
                duration_s=3.0,
                files=[
                    SegmentFile(
                        kind="audio-web",
                        sha256="a" * 64,
                        store_path="aa/" + "a" * 64 + ".m4a",
                        mime="audio/mp4",
                        size=10,
                    )
                ],
            )
        )
    html = _page(client, traditional)
    audios = re.findall(r"<audio[^>]*>", html)
    assert audios and all('preload="metadata"' in a for a in audios)
    with db.session() as session:
        assert session.scalar(select(Segment.duration_s)) == 3.0


def test_favicon_is_served_and_linked(client):
    html = client.get("/").get_data(as_text=True)
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', html)
    assert link is not None
    icon = client.get(link.group(1))
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).lstrip().startswith("<svg")
