"""Consent at the moment of use: one rule for showing, streaming and broadcasting a recording.

The rule (library/access.py) is written out by hand below for each withdrawn scope and each
audience; the SQL and Python forms must both follow it. Then every route is asked before and
after a withdrawal made through the command line, and again once consent is given anew:
the list, search, the page, the covenant page, each kind of file, the export and the reel.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from library.access import USES, Viewer, may, may_ever_broadcast, media_file_for, permitted
from library.catalogue.queries import recording_list, recording_page
from library.catalogue.reels import plan_reel
from library.errors import LibraryError
from library.models import Consent, Recording, Steward
from tests.small_catalogue import (
    ARCHIVE_KINDS,
    CLAUSE,
    LYRICS,
    SERVED_KINDS,
    SINGER,
    SLUG,
    STEWARD,
    TITLES,
    VILLAGE,
    build_small_catalogue,
)

YEAR_IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-cache"

AUDIENCES = {
    "public": Viewer.PUBLIC,
    "resident": Viewer("resident", village=VILLAGE),
    "device": Viewer("device", village=VILLAGE),
    "steward": Viewer("steward", village=VILLAGE, name=STEWARD),  # named on the recording
    "stranger": Viewer("steward", name="陌生人"),
    "admin": Viewer("admin"),
}

# withdrawn scope → audience → (show, stream, broadcast), for a public recording that names
# STEWARD and has SINGER's broadcast consent. The rule of README "Access", by hand.
Y, N = True, False
RULE = {
    None: dict.fromkeys(AUDIENCES, (Y, Y, Y)),
    "broadcast": dict.fromkeys(AUDIENCES, (Y, Y, N)),
    "stream": {
        "public": (N, N, Y),
        "resident": (N, N, Y),
        "device": (N, N, Y),
        "steward": (Y, N, Y),
        "stranger": (N, N, Y),
        "admin": (Y, N, Y),
    },
    "archive": {**dict.fromkeys(AUDIENCES, (N, N, N)), "admin": (Y, N, N)},
}


def _recording(session, protocol: str = "public", consents=(), **fields) -> Recording:  # noqa: ANN001
    rec = Recording(
        protocol=protocol,
        village=VILLAGE,
        stewards=[Steward(name=STEWARD)],
        consents=[
            Consent(person=p, scope=s, withdrawn_at=datetime.now(UTC) if gone else None)
            for p, s, gone in consents
        ],
        **fields,
    )
    session.add(rec)
    session.flush()
    return rec


def _agree(session, rec: Recording, viewer: Viewer) -> tuple[bool, ...]:  # noqa: ANN001
    """(show, stream, broadcast) by `may`, after checking that `permitted` says the same."""
    answers = []
    for use in USES:
        python = may(viewer, rec, use)
        sql = session.scalar(
            select(Recording.id).where(Recording.id == rec.id, permitted(viewer, use))
        )
        assert python == (sql is not None), (viewer, use)
        answers.append(python)
    return tuple(answers)


@pytest.mark.parametrize("who", list(AUDIENCES))
@pytest.mark.parametrize("scope", list(RULE))
def test_the_rule(db, scope, who):
    consents = [(SINGER, "broadcast", False)]
    if scope is not None:
        consents += [(SINGER, scope, True)]
        if scope == "broadcast":
            consents = [(SINGER, "broadcast", True), ("另一位歌师", "broadcast", False)]
    with db.session() as session:
        rec = _recording(session, consents=consents)
        assert _agree(session, rec, AUDIENCES[who]) == RULE[scope][who]


@pytest.mark.parametrize("scope", ["archive", "stream", "broadcast"])
def test_consent_given_again_restores_every_use(db, scope):
    consents = [(SINGER, "broadcast", False), (SINGER, scope, True), (SINGER, scope, False)]
    with db.session() as session:
        rec = _recording(session, consents=consents)
        for who, viewer in AUDIENCES.items():
            assert _agree(session, rec, viewer) == RULE[None][who]


@pytest.mark.parametrize("scope", ["archive", "stream"])
def test_one_singer_withdrawing_is_enough(db, scope):
    consents = [("甲", scope, False), ("乙", scope, True), ("甲", "broadcast", False)]
    with db.session() as session:
        rec = _recording(session, consents=consents)
        assert _agree(session, rec, Viewer.PUBLIC) == RULE[scope]["public"]


@pytest.mark.parametrize(
    ("protocol", "who", "expected"),
    [
        pytest.param("village", "resident", (Y, Y, Y), id="village-resident"),
        pytest.param("village", "device", (Y, Y, Y), id="village-device"),
        pytest.param("village", "public", (N, N, N), id="village-public"),
        pytest.param("village", "admin", (Y, Y, Y), id="village-admin"),
        pytest.param("restricted", "steward", (Y, Y, N), id="restricted-steward"),
        pytest.param("restricted", "resident", (N, N, N), id="restricted-resident"),
        pytest.param("restricted", "admin", (Y, Y, N), id="restricted-admin"),
    ],
)
def test_protocols_under_the_rule(db, protocol, who, expected):
    with db.session() as session:
        rec = _recording(session, protocol, consents=[(SINGER, "broadcast", False)])
        assert _agree(session, rec, AUDIENCES[who]) == expected
        other = Viewer("resident", village="高增")
        assert _agree(session, rec, other) == (N, N, N)


def test_archive_and_stream_need_no_consent_on_record_but_broadcast_does(db):
    with db.session() as session:
        rec = _recording(session)
        assert _agree(session, rec, Viewer.PUBLIC) == (Y, Y, N)


def test_a_broadcast_of_a_recording_the_site_no_longer_shows(db):
    # Stream withdrawn, broadcast still agreed: the village loudspeakers may play it.
    consents = [(SINGER, "broadcast", False), (SINGER, "stream", True)]
    with db.session() as session:
        rec = _recording(session, "village", consents=consents)
        assert _agree(session, rec, AUDIENCES["device"]) == (N, N, Y)


def test_unknown_uses_are_refused(db):
    with db.session() as session:
        rec = _recording(session)
        with pytest.raises(ValueError, match="unknown use"):
            may(Viewer.PUBLIC, rec, "download")
    with pytest.raises(ValueError, match="unknown use"):
        permitted(Viewer.PUBLIC, "download")


@pytest.mark.parametrize(
    ("protocol", "expected"), [("public", True), ("village", True), ("restricted", False)]
)
def test_may_ever_broadcast_follows_the_protocol(db, protocol, expected):
    with db.session() as session:
        rec = _recording(session, protocol, consents=[(SINGER, "broadcast", True)])
        assert may_ever_broadcast(rec) is expected


# --- every route, before and after a withdrawal ---------------------------------------------------


@pytest.fixture
def small(db, store, tmp_path):
    return build_small_catalogue(db, store, tmp_path / "files")


def _linked(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'href="/recordings/(\d+)"', html)}


def _export(runner, fmt: str, who: str) -> set[int]:  # noqa: ANN001
    result = runner.invoke("catalogue", "export", "--format", fmt, "--as", who)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = json.loads(result.output)
    else:
        rows = list(csv.DictReader(io.StringIO(result.output.lstrip("\ufeff"))))
    return {int(r["id"]) for r in rows}


def _observe(client, runner, db, store, small) -> dict[str, object]:  # noqa: ANN001
    """What each route gives the public of the public recording, now."""
    rid = small.ids["public"]
    page = client.get(f"/recordings/{rid}")
    with db.session() as session:
        try:
            plan_reel(session, store, CLAUSE, Viewer.PUBLIC, rid)
            reel = True
        except LibraryError:
            reel = False
    files = small.files["public"]
    return {
        "list": rid in _linked(client.get("/recordings").get_data(as_text=True)),
        "search-title": rid in _linked(client.get(f"/recordings?q={TITLES['public']}").text),
        "search-lyrics": rid in _linked(client.get(f"/recordings?q={LYRICS['public']}").text),
        "page": page.status_code,
        "player": files["web"].public_name in page.get_data(as_text=True),
        "covenant": rid in _linked(client.get(f"/c/{SLUG}").get_data(as_text=True)),
        **{f"file-{k}": client.get(f"/media/{files[k].public_name}").status_code for k in files},
        "export-csv": rid in _export(runner, "csv", "public"),
        "export-json": rid in _export(runner, "json", "public"),
        "export-admin": rid in _export(runner, "json", "admin"),
        "reel": reel,
    }


ON = {
    "list": True,
    "search-title": True,
    "search-lyrics": True,
    "page": 200,
    "player": True,
    "covenant": True,
    **{f"file-{k}": 200 for k in SERVED_KINDS},
    **{f"file-{k}": 404 for k in ARCHIVE_KINDS},  # never served, whatever the consent
    "export-csv": True,
    "export-json": True,
    "export-admin": True,
    "reel": True,
}
OFF = {  # nothing reaches the public; the admin's export keeps the metadata
    **ON,
    **{k: False for k in ON if k.startswith(("list", "search", "player", "covenant", "reel"))},
    **{k: 404 for k in ON if k.startswith(("page", "file-"))},
    "export-csv": False,
    "export-json": False,
}
AFTER = {"broadcast": {**ON, "reel": False}, "stream": OFF, "archive": OFF}


@pytest.mark.parametrize("scope", ["archive", "stream", "broadcast"])
def test_a_withdrawal_holds_on_every_route_at_once(client, runner, db, store, small, scope):
    rid = str(small.ids["public"])
    if scope != "broadcast":
        given = runner.invoke("catalogue", "consent", rid, "--person", SINGER, "--scope", scope)
        assert given.exit_code == 0, given.output
    assert _observe(client, runner, db, store, small) == ON

    withdrawn = runner.invoke(
        "catalogue", "consent", rid, "--person", SINGER, "--scope", scope, "--withdraw"
    )
    assert withdrawn.exit_code == 0 and "effective at once" in withdrawn.output
    assert _observe(client, runner, db, store, small) == AFTER[scope]

    again = runner.invoke("catalogue", "consent", rid, "--person", SINGER, "--scope", scope)
    assert again.exit_code == 0, again.output
    assert _observe(client, runner, db, store, small) == ON


def test_the_reel_command_refuses_a_recording_that_may_not_be_broadcast(runner, small, tmp_path):
    rid = str(small.ids["public"])
    out = tmp_path / "reels"
    withdrawn = runner.invoke("catalogue", "consent", rid, "--person", SINGER, "--withdraw")
    assert withdrawn.exit_code == 0
    result = runner.invoke("reel", CLAUSE, "--recording", rid, "-o", str(out))
    assert result.exit_code == 1
    assert "may not be broadcast" in result.output and "不能广播" in result.output
    assert not out.exists() or not list(out.iterdir())


def test_the_reel_command_refuses_a_restricted_recording_even_for_its_steward(
    runner, small, tmp_path
):
    rid = str(small.ids["restricted"])
    out = tmp_path / "reels"
    result = runner.invoke(
        "reel", CLAUSE, "--recording", rid, "-o", str(out), "--as", f"steward:{STEWARD}"
    )
    assert result.exit_code == 1 and "may not be broadcast" in result.output
    assert not out.exists() or not list(out.iterdir())


def test_a_reel_without_a_recording_skips_those_that_may_not_be_broadcast(db, store, small):
    with db.session() as session:
        plan = plan_reel(session, store, CLAUSE, Viewer("admin"))
        assert plan.recording_id == small.ids["public"]  # the first linked
        session.scalar(
            select(Consent).where(Consent.recording_id == small.ids["public"])
        ).withdrawn_at = datetime.now(UTC)
        session.flush()
        plan = plan_reel(session, store, CLAUSE, Viewer("admin"))
        assert plan.recording_id == small.ids["village"]  # the next one that may go on air


# --- the stewards' view of a recording the singers took off the site ---------------------------


def _withdraw_stream(db, rid: int) -> None:  # noqa: ANN001
    with db.session() as session:
        rec = session.get(Recording, rid)
        rec.consents.append(Consent(person=SINGER, scope="stream", withdrawn_at=datetime.now(UTC)))


def test_a_steward_sees_a_stream_withdrawn_recording_without_its_media(
    client, db, small, monkeypatch
):
    import web.public

    rid = small.ids["public"]
    _withdraw_stream(db, rid)
    steward = AUDIENCES["steward"]
    with db.session() as session:
        page = recording_page(session, steward, rid)
        assert page is not None and not page.streamable and page.files == {}
        listing = recording_list(session, steward)
        item = next(i for i in listing.items if i.recording.id == rid)
        assert item.waveform is None
        for kind in SERVED_KINDS:
            assert media_file_for(session, steward, small.files["public"][kind].public_name) is None
    monkeypatch.setattr(web.public, "viewer", lambda: steward)
    html = client.get(f"/recordings/{rid}").get_data(as_text=True)
    assert TITLES["public"] in html and "data-not-streamed" in html
    assert "/media/" not in html
    assert "data-copy-pending" not in html
    listed = client.get("/recordings").get_data(as_text=True)
    assert rid in _linked(listed)
    assert small.files["public"]["waveform"].public_name not in listed
    for kind in SERVED_KINDS:
        assert client.get(f"/media/{small.files['public'][kind].public_name}").status_code == 404


# --- Cache-Control ------------------------------------------------------------------------------


def test_files_anyone_may_have_are_cached_for_a_year(client, small):
    for kind in SERVED_KINDS:
        response = client.get(f"/media/{small.files['public'][kind].public_name}")
        assert response.headers["Cache-Control"] == YEAR_IMMUTABLE, kind
    clause = client.get(f"/media/{small.clause_video.public_name}")
    assert clause.status_code == 200 and clause.headers["Cache-Control"] == YEAR_IMMUTABLE
    part = client.get(f"/media/{small.clause_video.public_name}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.headers["Cache-Control"] == YEAR_IMMUTABLE


def test_village_and_restricted_files_are_private_and_revalidated(client, db, small, monkeypatch):
    import web.public

    monkeypatch.setattr(web.public, "viewer", lambda: AUDIENCES["steward"])
    for key in ("village", "restricted"):
        name = small.files[key]["web"].public_name
        response = client.get(f"/media/{name}")
        assert response.status_code == 200, key
        assert response.headers["Cache-Control"] == PRIVATE, key
        assert "Expires" not in response.headers
        again = client.get(
            f"/media/{name}", headers={"If-None-Match": f'"{response.get_etag()[0]}"'}
        )
        assert again.status_code == 304
    # The public one, made restricted: private from the next request on.
    name = small.files["public"]["web"].public_name
    assert client.get(f"/media/{name}").headers["Cache-Control"] == YEAR_IMMUTABLE
    with db.session() as session:
        session.get(Recording, small.ids["public"]).protocol = "restricted"
    assert client.get(f"/media/{name}").headers["Cache-Control"] == PRIVATE


def test_media_file_for_says_whether_a_file_is_public(db, small):
    with db.session() as session:
        steward = AUDIENCES["steward"]
        public = media_file_for(session, steward, small.files["public"]["web"].public_name)
        village = media_file_for(session, steward, small.files["village"]["web"].public_name)
        clause = media_file_for(session, Viewer.PUBLIC, small.clause_video.public_name)
        assert public is not None and public.public
        assert village is not None and not village.public
        assert clause is not None and clause.public
