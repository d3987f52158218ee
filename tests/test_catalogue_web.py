"""The recordings pages and /media: the public sees public recordings and readable tracks only."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from library.catalogue.copies import make_pending_copies
from library.catalogue.ingest import add_file
from library.catalogue.lyrics import add_track
from library.catalogue.recordings import RecordingMeta, get_recording
from library.models import MediaFile
from library.search import index_recording
from tests.conftest import make_library
from tests.recordings import make_recording

pytestmark = pytest.mark.slow  # the module's site ingests five recordings (≈ 10 s)

VILLAGE_TITLE = "榕溪鼓楼歌"
RESTRICTED_TITLE = "祭萨秘歌"
SECRET_LYRIC = "鹧鸪藏宝"
SECRET_LINE = "只给管理人看"
PUBLIC_LYRIC = "蝉鸣满山"

# key: (format, seconds, frequency, metadata)
RECORDINGS = {
    "public": (
        "wav",
        2.0,
        392,
        RecordingMeta(titles={"zh-Hans": "蝉之歌"}, genre="大歌", protocol="public"),
    ),
    "video": ("mp4", 2.0, 494, RecordingMeta(titles={"zh-Hans": "侗戏片段"}, protocol="public")),
    "village": (
        "wav",
        1.0,
        440,
        RecordingMeta(titles={"zh-Hans": VILLAGE_TITLE}, village="榕溪村", protocol="village"),
    ),
    "restricted": (
        "mov",  # not mp4: testsrc2 at the public video's size would give the same poster bytes
        2.0,
        523,
        RecordingMeta(
            titles={"zh-Hans": RESTRICTED_TITLE},
            village="榕溪村",
            protocol="restricted",
            stewards=["杨秀珠"],
        ),
    ),
    "lyrics": (
        "m4a",
        2.0,
        330,
        RecordingMeta(
            titles={"zh-Hans": "河边情歌"}, village="榕溪村", protocol="public", stewards=["杨秀珠"]
        ),
    ),
}
PUBLIC = ("public", "video", "lyrics")
HIDDEN = ("village", "restricted")


@dataclass
class Site:
    """The module's library (built once) and a test client over it (one per test)."""

    client: object
    db: object
    store: object
    ids: dict[str, int]

    def files(self, key: str) -> dict[str, MediaFile]:
        with self.db.session() as session:
            rows = session.scalars(
                select(MediaFile).where(MediaFile.recording_id == self.ids[key])
            ).all()
            return {f.kind: f for f in rows}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):  # noqa: ANN201 - (config, db, store, ids)
    """Five recordings under every protocol, with copies, lyrics and a search index."""
    root = tmp_path_factory.mktemp("catalogue-web")
    config, db, store = make_library(root)
    ids = {}
    for key, (fmt, seconds, freq, meta) in RECORDINGS.items():
        path = make_recording(root / "in" / f"{key}.{fmt}", fmt, seconds, freq=freq)
        ids[key] = add_file(db, store, path, meta).recording_id
    make_pending_copies(db, store, workers=2)
    public_lrc = root / "public.lrc"
    public_lrc.write_text(f"[00:00.50]{PUBLIC_LYRIC}\n", encoding="utf-8")
    secret_lrc = root / "secret.lrc"
    secret_lrc.write_text(f"[00:00.50]{SECRET_LYRIC}\n[00:01.20]{SECRET_LINE}\n", encoding="utf-8")
    with db.session() as session:
        for key, path, protocol in (
            ("public", public_lrc, None),
            ("lyrics", public_lrc, None),
            ("lyrics", secret_lrc, "restricted"),
        ):
            add_track(
                get_recording(session, ids[key]),
                path,
                kind="lyrics",
                lang="zh-Hans",
                protocol=protocol,
            )
        session.flush()
        for rid in ids.values():
            index_recording(session, rid)
    return config, db, store, ids


@pytest.fixture
def config(catalogue):
    """`client` (tests/conftest.py) serves the module's library."""
    return catalogue[0]


@pytest.fixture
def site(catalogue, client) -> Site:
    _config, db, store, ids = catalogue
    return Site(client, db, store, ids)


def _page(site: Site, url: str) -> str:
    response = site.client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _linked_ids(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'href="/recordings/(\d+)"', html)}


def _without_search_box(html: str) -> str:
    """The page minus the echo of the query in the search box."""
    return re.sub(r'<input type="search"[^>]*>', "", html)


# --- the list and search ----------------------------------------------------------------------


def test_the_list_shows_public_recordings_only(site):
    html = _page(site, "/recordings")
    assert _linked_ids(html) == {site.ids[k] for k in PUBLIC}
    for secret in (VILLAGE_TITLE, RESTRICTED_TITLE, SECRET_LYRIC, "榕溪鼓楼", "祭萨"):
        assert secret not in html


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(VILLAGE_TITLE, id="village-title"),
        pytest.param("鼓楼", id="village-word"),
        pytest.param(RESTRICTED_TITLE, id="restricted-title"),
        pytest.param("秘歌", id="restricted-word"),
        pytest.param(SECRET_LYRIC, id="restricted-lyric"),
        pytest.param("鹧鸪", id="restricted-lyric-short"),
        pytest.param(SECRET_LINE, id="restricted-lyric-line2"),
        pytest.param("榕溪村 鹧鸪", id="village-and-lyric"),
    ],
)
def test_search_finds_nothing_hidden(site, query):
    html = _without_search_box(_page(site, f"/recordings?q={query}"))
    assert _linked_ids(html) == set()
    assert "没有找到录音" in html
    for secret in (VILLAGE_TITLE, RESTRICTED_TITLE, SECRET_LYRIC, SECRET_LINE):
        assert secret not in html


def test_search_of_a_public_recording_shows_no_hidden_snippet(site):
    html = _without_search_box(_page(site, "/recordings?q=河边"))
    assert _linked_ids(html) == {site.ids["lyrics"]}
    assert SECRET_LYRIC not in html and SECRET_LINE not in html


def test_search_of_public_lyrics_shows_the_snippet(site):
    html = _without_search_box(_page(site, f"/recordings?q={PUBLIC_LYRIC}"))
    assert _linked_ids(html) == {site.ids["public"], site.ids["lyrics"]}
    assert PUBLIC_LYRIC in html


# --- one recording ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in PUBLIC])
def test_public_recordings_have_a_page(site, key):
    html = _page(site, f"/recordings/{site.ids[key]}")
    assert RECORDINGS[key][3].titles["zh-Hans"] in html


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in HIDDEN])
def test_hidden_recordings_do_not_exist_for_the_public(site, key):
    response = site.client.get(f"/recordings/{site.ids[key]}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert VILLAGE_TITLE not in html and RESTRICTED_TITLE not in html


def test_an_unknown_recording_is_404_like_a_hidden_one(site):
    assert site.client.get("/recordings/99999").status_code == 404


def test_a_restricted_track_is_not_shown_on_a_public_page(site):
    html = _page(site, f"/recordings/{site.ids['lyrics']}")
    assert PUBLIC_LYRIC in html  # the public track of the same recording is there
    assert SECRET_LYRIC not in html and SECRET_LINE not in html
    assert html.count('class="track"') == 1


def test_the_page_links_only_files_that_are_served(site):
    for key in PUBLIC:
        html = _page(site, f"/recordings/{site.ids[key]}")
        names = set(re.findall(r"/media/([0-9a-f]{64}(?:\.[a-z0-9]+)?)", html))
        assert names, key
        files = site.files(key)
        assert files["original"].sha256 not in html
        assert files["loudspeaker"].sha256 not in html
        for name in names:
            assert site.client.get(f"/media/{name}").status_code == 200, (key, name)


# --- /media -----------------------------------------------------------------------------------

HIDDEN_FILES = [
    (key, kind)
    for key in HIDDEN
    for kind in ("original", "web", "waveform", "peaks")
    # A restricted recording is never broadcast, so it has no loudspeaker copy at all.
    + (("loudspeaker",) if key != "restricted" else ())
    + (("poster",) if RECORDINGS[key][0] in ("mp4", "mov") else ())
]
PUBLIC_SERVED = [
    (key, kind)
    for key in PUBLIC
    for kind in ("web", "waveform", "peaks")
    + (("poster",) if RECORDINGS[key][0] in ("mp4", "mov") else ())
]


def test_a_restricted_recording_gets_no_loudspeaker_copy(site):
    assert "loudspeaker" not in site.files("restricted") and "web" in site.files("restricted")


@pytest.mark.parametrize(
    ("key", "kind"), [pytest.param(k, f, id=f"{k}-{f}") for k, f in HIDDEN_FILES]
)
def test_no_file_of_a_hidden_recording_is_served(site, key, kind):
    f = site.files(key)[kind]
    assert site.store.path(f.store_path).is_file()  # it exists; it is just not for the public
    for name in (f.public_name, f.sha256):
        response = site.client.get(f"/media/{name}")
        assert response.status_code == 404, name
        assert response.headers.get("Content-Type", "").startswith("text/html")


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in PUBLIC])
@pytest.mark.parametrize("kind", ["original", "loudspeaker"])
def test_originals_and_loudspeaker_copies_stay_in_the_archive(site, key, kind):
    f = site.files(key)[kind]
    assert site.client.get(f"/media/{f.public_name}").status_code == 404
    assert site.client.get(f"/media/{f.sha256}").status_code == 404


@pytest.mark.parametrize(
    ("key", "kind"), [pytest.param(k, f, id=f"{k}-{f}") for k, f in PUBLIC_SERVED]
)
def test_public_files_are_served_byte_for_byte(site, key, kind):
    f = site.files(key)[kind]
    response = site.client.get(f"/media/{f.public_name}")
    assert response.status_code == 200
    assert response.mimetype == f.mime
    assert response.data == site.store.path(f.store_path).read_bytes()


def test_media_supports_ranges(site):
    f = site.files("public")["web"]
    response = site.client.get(f"/media/{f.public_name}", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.data == site.store.path(f.store_path).read_bytes()[:100]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("..%2Fkuanyue.db", id="traversal"),
        pytest.param("kuanyue.db", id="database"),
        pytest.param("0" * 64 + ".mp3", id="unknown-hash"),
        pytest.param("A" * 64, id="upper-case"),
    ],
)
def test_media_refuses_anything_else(site, name):
    assert site.client.get(f"/media/{name}").status_code == 404


def test_upper_case_hash_of_a_public_file_is_not_an_alias_for_a_hidden_one(site):
    f = site.files("restricted")["web"]
    assert site.client.get(f"/media/{f.sha256.upper()}").status_code == 404


def test_restricting_a_recording_hides_its_page_and_files_at_once(site):
    rid, title = site.ids["public"], RECORDINGS["public"][3].titles["zh-Hans"]
    web = site.files("public")["web"].public_name
    assert site.client.get(f"/recordings/{rid}").status_code == 200
    assert site.client.get(f"/media/{web}").status_code == 200
    assert title in _page(site, "/recordings")
    try:
        with site.db.session() as session:
            get_recording(session, rid).protocol = "restricted"
        assert site.client.get(f"/recordings/{rid}").status_code == 404
        assert site.client.get(f"/media/{web}").status_code == 404
        assert title not in _page(site, "/recordings")
    finally:
        with site.db.session() as session:
            get_recording(session, rid).protocol = "public"
