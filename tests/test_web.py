"""The public site over a real rendered library: pages, media with ranges, errors, languages."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def config(rendered):
    """`app` and `client` (tests/conftest.py) serve the session's rendered library."""
    return rendered.config


def media_links(html):
    return re.findall(r'(?:src|href|poster)="(/media/[0-9a-f]{64}\.\w+)"', html)


def test_index_lists_the_covenant(client, rendered):
    html = client.get("/").get_data(as_text=True)
    assert "岩脚村村规民约" in html and f"/c/{rendered.slug}" in html


def test_covenant_page_has_video_track_audio_and_downloads(client, rendered):
    response = client.get(f"/c/{rendered.slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Each clause: its 16:9 clip for wide screens and its 9:16 clip for phones (site.css).
    assert html.count("<video") == 6 and html.count("<audio") == 3
    assert html.count('class="clip clip-wide"') == 3 and html.count('class="clip clip-tall"') == 3
    assert html.count('<track kind="subtitles" srclang="zh-Hans"') == 6
    assert "鸣锣喊寨" in html and "Kgal nyenc" in html
    links = media_links(html)
    assert len(links) >= 3 * 10
    for link in set(links):
        assert client.get(link).status_code == 200, link


def test_media_supports_range_requests(client, rendered):
    html = client.get(f"/c/{rendered.slug}").get_data(as_text=True)
    video = next(link for link in media_links(html) if link.endswith(".mp4"))
    full = client.get(video)
    assert full.headers["Accept-Ranges"] == "bytes"
    part = client.get(video, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.data)}"
    assert part.data == full.data[100:200]
    assert client.get(video, headers={"Range": f"bytes={len(full.data) + 10}-"}).status_code == 416


def test_unknown_and_unpublished_media_are_not_served(client, rendered):
    from sqlalchemy import select

    from library.models import Covenant

    assert client.get("/media/" + "0" * 64 + ".mp4").status_code == 404
    assert client.get("/media/../../etc/passwd").status_code == 404
    html = client.get(f"/c/{rendered.slug}").get_data(as_text=True)
    link = media_links(html)[0]
    with rendered.db.session() as session:
        session.scalar(select(Covenant).where(Covenant.slug == rendered.slug)).published = False
    try:
        assert client.get(f"/c/{rendered.slug}").status_code == 404
        assert client.get(link).status_code == 404
        assert rendered.slug not in client.get("/").get_data(as_text=True)
    finally:
        with rendered.db.session() as session:
            session.scalar(select(Covenant).where(Covenant.slug == rendered.slug)).published = True


def test_errors_are_pages_or_json(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "找不到这个页面" in page.get_data(as_text=True)
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert api.get_json()["status"] == 404  # RFC 9457, as every device API error
    other = client.get("/api/nothing")
    assert other.status_code == 404 and other.get_json()["error"]["code"] == 404


def test_chinese_first_english_second(client):
    assert "村规民约" in client.get("/").get_data(as_text=True)
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Village covenants" in english
    assert "lang=en" in client.get("/?lang=en").headers["Set-Cookie"]
    assert "Village covenants" in client.get(
        "/", headers={"Accept-Language": "en-GB,en;q=0.9"}
    ).get_data(as_text=True)
