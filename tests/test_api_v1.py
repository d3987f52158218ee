"""The device API v1 through the real Flask app and a real SQLite database."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_programme import _clauses, _village_and_device

PROBLEM = "application/problem+json"


def _credential(output: str) -> str:
    return re.search(r"credential: (\d+\.\S+)", output).group(1)


@pytest.fixture
def device(db, runner, tmp_path, store) -> dict:
    """榕溪村, loudspeaker 喇叭 (its credential), a screen, a programme playing all day."""
    _village_and_device(runner)
    keys = _clauses(db, tmp_path)
    # The first clause's loudspeaker file is real, in the store, so it can be fetched.
    from library.models import SegmentFile

    source = tmp_path / "one.mp3"
    source.write_bytes(b"ID3" + bytes(range(256)) * 40)
    entry = store.put(source)
    with db.session() as session:
        row = session.query(SegmentFile).filter_by(sha256="1" * 64).one()
        row.sha256, row.store_path, row.size = entry.sha256, entry.store_path, entry.size
    assert runner.invoke("playlist", "create", "全天", "--village", "榕溪村").exit_code == 0
    for key in keys:
        assert runner.invoke("playlist", "add", "全天", "clause", key).exit_code == 0
    result = runner.invoke(
        "schedule", "add", "全天", "--rrule", "FREQ=DAILY", "--window", "all-day",
        "--from", "2026-01-01", "--village", "榕溪村",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = runner.invoke("device", "token", "喇叭")
    screen = runner.invoke("device", "add", "屏幕", "--village", "榕溪村", "--kind", "screen")
    return {
        "auth": {"Authorization": f"Bearer {_credential(token.output)}"},
        "screen": {"Authorization": f"Bearer {_credential(screen.output)}"},
        "sha": entry.sha256,
        "size": entry.size,
    }


def test_a_device_needs_its_credential(client, device, runner):
    for headers in ({}, {"Authorization": "Bearer 1.wrong"}, {"Authorization": "Basic eA=="}):
        response = client.get("/api/v1/device", headers=headers)
        assert response.status_code == 401 and response.mimetype == PROBLEM
        assert response.json["status"] == 401 and "Bearer" in response.headers["WWW-Authenticate"]
    me = client.get("/api/v1/device", headers=device["auth"])
    assert me.status_code == 200
    assert me.json["name"] == "喇叭" and me.json["village"] == "榕溪村"
    assert me.json["settings"]["emergency_poll_s"] == 10
    assert runner.invoke("device", "disable", "喇叭").exit_code == 0  # revoked at once
    assert client.get("/api/v1/device", headers=device["auth"]).status_code == 401


def test_schedule_is_a_versioned_snapshot_with_an_etag(client, device, runner):
    response = client.get("/api/v1/device/schedule", headers=device["auth"])
    assert response.status_code == 200 and response.headers["ETag"]
    body = response.json
    start = datetime.fromisoformat(body["start"])
    assert datetime.fromisoformat(body["end"]) - start == timedelta(hours=48)
    items = body["items"]
    assert items and all(a["end"] <= b["start"] for a, b in zip(items, items[1:], strict=False))
    first = next(i for i in items if i["media"] and i["media"]["sha256"] == device["sha"])
    assert first["media"]["url"] == f"/api/v1/media/{device['sha']}"
    assert first["layer"] == "scheduled" and first["kind"] == "audio" and first["title"]
    etag = response.headers["ETag"]
    again = client.get("/api/v1/device/schedule", headers={**device["auth"], "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.data
    # An edit that reaches the device gives a new version.
    assert runner.invoke("schedule", "edit", "1", "--window", "06:00-23:00").exit_code == 0
    changed = client.get(
        "/api/v1/device/schedule", headers={**device["auth"], "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_media_is_served_with_ranges_and_kept_for_good(client, device):
    url = f"/api/v1/media/{device['sha']}"
    whole = client.get(url, headers=device["auth"])
    assert whole.status_code == 200 and len(whole.data) == device["size"]
    assert "immutable" in whole.headers["Cache-Control"]
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(url, headers={**device["auth"], "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == whole.data[10:20]
    assert client.get(url).status_code == 401
    missing = client.get(f"/api/v1/media/{'0' * 64}", headers=device["auth"])
    assert missing.status_code == 404 and missing.mimetype == PROBLEM


def test_a_village_only_recording_is_not_served_to_another_village(client, device, db, runner):
    from tests.test_programme import _recording

    _recording(db)  # 榕溪村's village-only song with a broadcast consent, file "e"*64 (absent)
    assert runner.invoke("village", "add", "岩脚村", "--township", "肇兴镇").exit_code == 0
    made = runner.invoke(
        "device", "add", "外村喇叭", "--village", "岩脚村", "--kind", "loudspeaker"
    )
    other = {"Authorization": f"Bearer {_credential(made.output)}"}
    assert client.get(f"/api/v1/media/{'e' * 64}", headers=other).status_code == 404


def test_plays_are_stored_once_and_acknowledged_by_id(client, device, db):
    from library.broadcast.models import PlayLog

    now = datetime.now(UTC)
    plays = [
        {"id": f"p{n}", "item_id": "x", "sha256": device["sha"], "status": "completed",
         "start": (now - timedelta(seconds=30)).isoformat(), "end": now.isoformat()}
        for n in range(3)
    ]  # fmt: skip
    for _ in range(2):  # the retry after a lost reply
        reply = client.post("/api/v1/device/plays", json={"plays": plays}, headers=device["auth"])
        assert reply.status_code == 200 and reply.json["acknowledged"] == ["p0", "p1", "p2"]
    with db.session() as session:
        assert session.query(PlayLog).count() == 3
    bad = client.post(
        "/api/v1/device/plays",
        json={"plays": [{**plays[0], "id": "p9", "status": "played"}]},
        headers=device["auth"],
    )
    assert bad.status_code == 422 and "plays[0].status" in bad.json["detail"]


def test_heartbeat_reports_health_that_device_list_shows(client, device, runner):
    clock = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    report = {"cache_bytes": 5_000_000, "free_bytes": 2_000_000_000, "player_version": "1.0",
              "clock": clock}  # fmt: skip
    reply = client.post("/api/v1/device/heartbeat", json=report, headers=device["auth"])
    assert reply.status_code == 200 and 25 < reply.json["clock_offset_s"] < 35
    listed = runner.invoke("device", "list").output
    line = next(x for x in listed.splitlines() if "\t喇叭\t" in x)
    assert "last seen" in line and "5 MB" in line and "clock off +3" in line
    assert "never seen" in next(x for x in listed.splitlines() if "\t屏幕\t" in x)


def test_an_emergency_shows_in_the_cheap_poll(client, device, db, store, config, tmp_path):
    from library.broadcast.announcements import Render, When, announce, stop
    from media_pipeline.jobs import RenderOptions

    quiet = client.get("/api/v1/device/emergency", headers=device["auth"])
    assert quiet.status_code == 200 and quiet.json == {**quiet.json, "active": False, "items": []}
    render = Render(RenderOptions(), tmp_path / "cache", config.tools)
    info = announce(
        db, store, render, village="榕溪村", kind="emergency", text="上寨起火，请带水桶集合。",
        created_by="吴文化", emergency="fire", when=When(for_minutes=10),
    )  # fmt: skip
    active = client.get("/api/v1/device/emergency", headers=device["auth"]).json
    assert active["active"] and active["items"][0]["layer"] == "emergency"
    sha = active["items"][0]["media"]["sha256"]
    assert client.get(f"/api/v1/media/{sha}", headers=device["auth"]).status_code == 200
    # The screen gets the video with its subtitles.
    on_screen = client.get("/api/v1/device/emergency", headers=device["screen"]).json
    assert on_screen["items"][0]["kind"] == "video" and on_screen["items"][0]["vtt"]
    stop(db, info.id)
    assert not client.get("/api/v1/device/emergency", headers=device["auth"]).json["active"]


def test_a_screen_pairs_with_a_short_code(client, device, runner):
    made = client.post("/api/v1/screen/pairing")
    assert made.status_code == 201
    code = made.json["code"]
    assert client.get(made.json["poll"]).status_code == 202
    wrong = runner.invoke("device", "pair", code, "喇叭")
    assert wrong.exit_code == 1 and "不是屏幕" in wrong.output
    assert runner.invoke("device", "pair", code, "屏幕").exit_code == 0
    paired = client.get(made.json["poll"])
    assert paired.status_code == 200 and paired.json["paired"]
    assert client.get(made.json["poll"]).status_code == 404  # handed over once
    me = client.get(
        "/api/v1/device", headers={"Authorization": f"Bearer {paired.json['credential']}"}
    )
    assert me.json["name"] == "屏幕"
    # Pairing renewed the screen's token: the old credential no longer works.
    assert client.get("/api/v1/device", headers=device["screen"]).status_code == 401


def test_each_credential_is_rate_limited(client, device, monkeypatch):
    from web import api_v1

    monkeypatch.setattr(api_v1, "RATE_BURST", 3.0)
    monkeypatch.setattr(api_v1, "_buckets", api_v1._Buckets())
    codes = [client.get("/api/v1/device", headers=device["auth"]).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    limited = client.get("/api/v1/device", headers=device["auth"])
    assert limited.mimetype == PROBLEM and int(limited.headers["Retry-After"]) >= 1


def test_the_api_matches_its_openapi_document(app, device, monkeypatch):
    """schemathesis reads /api/v1/openapi.json and calls every operation against the app."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from web import api_v1

    monkeypatch.setattr(api_v1, "RATE_BURST", 10_000.0)  # the rate limit is tested above
    monkeypatch.setattr(api_v1, "_buckets", api_v1._Buckets())

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert schema.raw_schema["openapi"] == "3.1.0"
    failures = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case) -> None:  # noqa: ANN001
            # The generated Authorization header would only ever meet a 401: use the device's.
            case.headers = {**(case.headers or {}), **device["auth"]}
            # Every check but "schema-valid data is accepted": the API rightly refuses some
            # requests the schema cannot describe (a play ending before it starts) with a 422.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_a_changed_snapshot_is_made_before_the_device_asks(
    app, client, device, runner, monkeypatch
):
    from library.broadcast import device_api, device_snapshot

    # Polls a second apart, so the device is always "due soon" to the thread that works
    # snapshots out ahead of the polls.
    monkeypatch.setitem(device_api.SETTINGS, "schedule_poll_s", 1)
    db = app.extensions["kuanyue.db"]
    assert client.get("/api/v1/device/schedule", headers=device["auth"]).status_code == 200
    assert runner.invoke("schedule", "edit", "1", "--window", "06:00-23:00").exit_code == 0
    count = db.changes.current()
    made = db.changes.cache("snapshot versions", 100_000)
    deadline = time.monotonic() + 20
    while not made.for_count(count) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Made without a poll; the device's next poll is answered with it.
    (version,) = made.for_count(count).values()
    again = client.get("/api/v1/device/schedule", headers=device["auth"])
    assert again.headers["ETag"] == f'"{version}"'
    assert device_snapshot._snapshots.get(version) is not None
