"""Hostile URLs, queries, headers and command arguments: a 404, 400 or 416, never a 500.

The site runs over a small catalogue (tests/small_catalogue.py) built once for the module;
every answer is checked for its status and for the absence of a traceback.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.conftest import make_library
from tests.small_catalogue import SLUG, TITLES, build_small_catalogue

INT64_MAX = 2**63 - 1
HUGE = "9" * 40


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):  # noqa: ANN201 - (config, small catalogue)
    root = tmp_path_factory.mktemp("hostile")
    config, db, store = make_library(root)
    small = build_small_catalogue(db, store, root / "files")
    db.engine.dispose()
    return config, small


@pytest.fixture
def config(catalogue):
    """`app`, `client` and `runner` (tests/conftest.py) work in the module's library."""
    return catalogue[0]


@pytest.fixture
def small(catalogue):
    return catalogue[1]


@pytest.fixture
def runner(config):  # noqa: ANN201
    from tests.conftest import Runner

    return Runner({"KUANYUE_HOME": str(config.home)})


def _assert_clean(response, url: str) -> str:
    """The answer is not a 500 and shows no traceback; returns its text."""
    text = response.get_data(as_text=True)
    assert response.status_code < 500, (url, response.status_code)
    assert "Traceback" not in text and "OperationalError" not in text, url
    return text


def _terms(n: int) -> str:
    return " ".join(f"词{i}" for i in range(n))


# (url, expected status); "{web}" is the public recording's web copy.
URLS = [
    # ids out of range, negative, not numbers
    ("/recordings/9223372036854775808", 404),
    (f"/recordings/{INT64_MAX}", 404),
    (f"/recordings/{HUGE}", 404),
    ("/recordings/0", 404),
    ("/recordings/-1", 404),
    ("/recordings/-9223372036854775809", 404),
    ("/recordings/1e3", 404),
    ("/recordings/0x10", 404),
    ("/recordings/%00", 404),
    # Werkzeug reads any Unicode digit: an alias of /recordings/1, under the same rule.
    ("/recordings/１", 200),
    ("/recordings/３", 404),  # the restricted one
    ("/recordings/1/", 404),
    # searches: too many terms, too long, FTS5 syntax, odd characters
    ("/recordings?q=" + quote(_terms(17)), 200),
    ("/recordings?q=" + quote(_terms(80)), 200),
    ("/recordings?q=" + quote(_terms(3000)), 200),
    ("/recordings?q=" + "x" * 5000, 200),
    ("/recordings?q=" + quote("蝉" * 300), 200),
    *(
        ("/recordings?q=" + quote(q), 200)
        for q in (
            '"',
            '"""',
            '"蝉之歌',
            "*",
            "蝉*",
            "NEAR(蝉 之)",
            "NEAR",
            "蝉 AND 之",
            "AND",
            "OR NOT",
            "(蝉)",
            ")(",
            "-蝉",
            "^蝉",
            "title:蝉",
            "lyrics : 蝉",
            "{title lyrics}: 蝉",
            "蝉 + 之",
            "'; DROP TABLE recording; --",
            "%",
            "_",
            "\\",
            "\x00",
            "蝉\x00之歌",
            "\x1f",
            "\u200b",
            "🎵🎶",
            "ｔｉｔｌｅ：蝉",
        )
    ),
    ("/recordings?q=%ED%A0%80", 200),  # a UTF-8 encoded lone surrogate
    ("/recordings?q=%FF%FE", 200),  # not UTF-8
    ("/recordings?q=a&q=b", 200),
    ("/recordings?lang=" + "x" * 300, 200),
    # covenants and media
    ("/c/%00", 404),
    ("/c/" + "x" * 5000, 404),
    ("/c/..%2F..%2Fetc%2Fpasswd", 404),
    (f"/c/{SLUG}", 200),
    ("/media/" + "0" * 64, 404),
    ("/media/" + "0" * 64 + ".mp4", 404),
    ("/media/" + "0" * 64 + "." + "x" * 50, 404),
    ("/media/" + "g" * 64, 404),
    ("/media/" + "x" * 5000, 404),
    ("/media/%00", 404),
    ("/media/..%2F..%2Fkuanyue.db", 404),
    ("/media/{web}", 200),
    ("/media/{web}?download=" + "x" * 1000, 200),
    ("/api/v1/recordings/" + HUGE, 404),
]


@pytest.mark.parametrize(
    ("url", "status"), [pytest.param(u, s, id=f"{n}-{u[:40]}") for n, (u, s) in enumerate(URLS)]
)
def test_hostile_urls(client, small, url, status):
    url = url.replace("{web}", small.files["public"]["web"].public_name)
    response = client.get(url)
    _assert_clean(response, url)
    assert response.status_code == status, url


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
@pytest.mark.parametrize("url", ["/recordings", "/recordings/1", "/media/" + "0" * 64, "/"])
def test_other_methods_are_refused_cleanly(client, method, url):
    response = getattr(client, method)(url)
    _assert_clean(response, url)
    assert response.status_code == 405


def test_a_search_of_too_many_terms_is_cut_with_a_note(client):
    html = _assert_clean(client.get("/recordings?q=" + quote(_terms(80))), "80 terms")
    assert "data-query-cut" in html
    english = client.get("/recordings?lang=en&q=" + quote(_terms(80))).get_data(as_text=True)
    assert "only the first 16 words" in english


def test_a_search_within_the_bounds_has_no_note(client, small):
    html = _assert_clean(client.get("/recordings?q=" + quote("蝉之歌")), "蝉之歌")
    assert "data-query-cut" not in html
    assert f'href="/recordings/{small.ids["public"]}"' in html


def test_a_cut_search_ands_the_terms_it_keeps(client, small):
    query = "蝉之歌 " + _terms(40)  # the first term matches; the others match nothing
    html = _assert_clean(client.get("/recordings?q=" + quote(query)), "cut")
    assert "data-query-cut" in html and "没有找到录音" in html
    query = "蝉之歌 " * 100  # one term, repeated: nothing needs cutting but the length
    html = _assert_clean(client.get("/recordings?q=" + quote(query[:199])), "repeated")
    assert "data-query-cut" not in html and TITLES["public"] in html


# --- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status"),
    [
        pytest.param("bytes=abc", 200, id="malformed"),
        pytest.param("bytes=0-1,5-9", 200, id="two-ranges"),
        pytest.param("bytes=5-1", 200, id="backwards"),
        pytest.param("items=0-5", 200, id="other-unit"),
        pytest.param("bytes=", 200, id="empty"),
        pytest.param("bytes=" + "9" * 40 + "-", 416, id="huge-start"),
        pytest.param("bytes=100000-", 416, id="past-the-end"),
        pytest.param("bytes=0-9", 206, id="first-ten"),
        pytest.param("bytes=-5", 206, id="suffix"),
        pytest.param("bytes=0-" + "9" * 40, 206, id="huge-end"),
    ],
)
def test_ranges(client, small, header, status):
    f = small.files["public"]["web"]
    response = client.get(f"/media/{f.public_name}", headers={"Range": header})
    _assert_clean(response, header)
    assert response.status_code == status, header
    if status == 200:
        assert response.data == f.data  # the whole file
    elif status == 206:
        expected = f.data[:10] if header == "bytes=0-9" else None
        expected = f.data[-5:] if header == "bytes=-5" else expected
        assert response.data == (expected if expected is not None else f.data)


# --- errors are pages -------------------------------------------------------------------------


def test_an_unexpected_error_is_a_page_without_a_traceback(app, monkeypatch):
    import web.public

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(web.public, "recording_list", broken)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/recordings")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "<h1>" in html and "返回首页" in html  # the site's own error page
    assert "Traceback" not in html and "secret detail" not in html


def test_a_404_is_the_site_page(client):
    response = client.get(f"/recordings/{HUGE}")
    assert "找不到这个页面" in response.get_data(as_text=True)


# --- commands ---------------------------------------------------------------------------------

BAD_IDS = [str(2**63), HUGE, "0"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("catalogue", "show", "{id}"), id="show"),
        pytest.param(("catalogue", "edit", "{id}", "--notes", "x"), id="edit"),
        pytest.param(("catalogue", "lyrics", "{id}", "list"), id="lyrics"),
        pytest.param(
            ("catalogue", "consent", "{id}", "--person", "某", "--scope", "archive"), id="consent"
        ),
        pytest.param(
            ("catalogue", "consent", "{id}", "--person", "某", "--withdraw"), id="withdraw"
        ),
        pytest.param(
            ("catalogue", "link", "{id}", "--clause", "rongxi-01", "--from", "0", "--to", "1"),
            id="link",
        ),
        pytest.param(("catalogue", "duplicates", "--decide", "{id}", "same"), id="duplicates"),
        pytest.param(("reel", "rongxi-01", "--recording", "{id}"), id="reel"),
    ],
)
def test_commands_answer_an_impossible_id_in_one_line(runner, tmp_path, args, bad):
    args = [a.replace("{id}", bad) for a in args]
    if args[0] == "reel":
        args += ["-o", str(tmp_path / "out")]
    result = runner.invoke(*args)
    assert result.exit_code == 1, result.output
    assert [ln for ln in result.output.splitlines() if ln.strip()] == [result.output.strip()]
    assert result.output.startswith("错误 / Error: ") and " / " in result.output  # 中文 / English
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("bad", ["-1", str(-(2**63) - 1)])
def test_a_negative_id_is_not_found(runner, bad):
    result = runner.invoke("catalogue", "show", "--", bad)
    assert result.exit_code == 1
    assert result.output.strip() == f"错误 / Error: 找不到录音 {bad} / no recording {bad}"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--from", HUGE), id="from"),
        pytest.param(("--to", "-" + HUGE), id="to"),
        pytest.param(("--limit", HUGE), id="limit"),
        pytest.param(("--limit", "-1"), id="negative-limit"),
        pytest.param((_terms(80),), id="80-terms"),
        pytest.param(('NEAR("蝉" AND *) ^title: -x',), id="fts-syntax"),
    ],
)
def test_search_command_within_bounds(runner, args):
    result = runner.invoke("catalogue", "search", *args)
    assert result.exit_code == 0, result.output
    assert re.search(r"共 \d+ 条", result.output)
    if args[0] == _terms(80):
        assert "only the first 16 words" in result.output
