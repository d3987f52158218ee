"""Places (county → township → village → zones) and devices with their hashed tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from library.broadcast.devices import (
    DeviceError,
    add_device,
    list_devices,
    rotate_token,
    set_enabled,
    verify_token,
)
from library.broadcast.models import County, Device, Township, Village, Zone
from library.broadcast.places import (
    PlaceError,
    add_county,
    add_township,
    add_village,
    add_zone,
    list_counties,
    list_townships,
    list_villages,
)


def _counts(db) -> tuple[int, ...]:
    """How many counties, townships, villages, zones and devices the database holds."""
    with db.session() as session:
        return tuple(
            len(session.scalars(select(model)).all())
            for model in (County, Township, Village, Zone, Device)
        )


@pytest.fixture
def rongxi(db):
    """榕溪村 of 肇兴镇 with its zones 上寨 and 下寨."""
    add_village(db, "榕溪村", "肇兴镇")
    add_zone(db, "榕溪村", "上寨")
    add_zone(db, "榕溪村", "下寨")
    return db


def test_the_place_tree_is_made_and_listed(db):
    add_county(db, "从江县")
    add_township(db, "往洞镇", county="从江县")
    add_village(db, "增冲村", "往洞镇", county="从江县", tz="Asia/Chongqing")
    made = add_village(db, "堂安村", "肇兴镇")  # 黎平县 and 肇兴镇 made on first use
    assert (made.county, made.township, made.name, made.tz) == (
        "黎平县",
        "肇兴镇",
        "堂安村",
        "Asia/Shanghai",
    )
    assert add_zone(db, "堂安村", "二组").zones == ("二组",)
    assert list_counties(db) == ["从江县", "黎平县"]
    assert list_townships(db, "从江县") == [("从江县", "往洞镇")]
    assert [(v.township, v.name, v.tz, v.zones) for v in list_villages(db)] == [
        ("往洞镇", "增冲村", "Asia/Chongqing", ()),
        ("肇兴镇", "堂安村", "Asia/Shanghai", ("二组",)),
    ]


def test_a_village_name_is_unique_within_its_township_only(db):
    add_village(db, "新寨村", "肇兴镇")
    add_village(db, "新寨村", "水口镇")
    with pytest.raises(PlaceError, match="村已存在.*/ village exists"):
        add_village(db, "新寨村", "肇兴镇")
    # The same name in two townships: "乡镇/村名" says which.
    with pytest.raises(PlaceError, match="乡镇/村名.*/ several villages"):
        add_zone(db, "新寨村", "一组")
    assert add_zone(db, "水口镇/新寨村", "一组").township == "水口镇"


@pytest.mark.parametrize(
    "tz",
    [
        pytest.param("Mars/Base", id="unknown"),
        pytest.param("Asia", id="a-folder"),
        pytest.param("../../etc/passwd", id="a-path"),
        pytest.param("", id="empty"),
    ],
)
def test_a_bad_time_zone_is_refused_and_nothing_saved(db, tz):
    with pytest.raises(PlaceError, match=r"^时区无效.*/ invalid time zone \(tz\)"):
        add_village(db, "榕溪村", "肇兴镇", tz=tz)
    assert _counts(db) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        pytest.param("  ", "village name", id="empty"),
        pytest.param("肇兴/榕溪", "village name", id="slash"),
        pytest.param("榕溪\n村", "village name", id="newline"),
        pytest.param("村" * 101, "village name", id="too-long"),
    ],
)
def test_a_bad_name_is_refused_naming_the_field(db, name, field):
    with pytest.raises(PlaceError, match=field):
        add_village(db, name, "肇兴镇")
    assert _counts(db) == (0, 0, 0, 0, 0)


def test_zones_are_checked(rongxi):
    with pytest.raises(PlaceError, match="已有寨/组.*/ .*already has the zone"):
        add_zone(rongxi, "榕溪村", "上寨")
    with pytest.raises(PlaceError, match="找不到村.*/ no village"):
        add_zone(rongxi, "没有村", "上寨")
    add_village(rongxi, "堂安村", "肇兴镇")
    add_zone(rongxi, "堂安村", "中寨")
    # 中寨 is 堂安村's, not 榕溪村's: refused, and no device is half-made.
    with pytest.raises(DeviceError, match=r"榕溪村 没有寨/组：中寨.*/ zone not in 榕溪村: 中寨"):
        add_device(rongxi, "鼓楼喇叭", "榕溪村", "loudspeaker", ("上寨", "中寨"))
    assert _counts(rongxi)[4] == 0
    with rongxi.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM device_zone")).scalar() == 0


def test_a_device_kind_is_checked(rongxi):
    with pytest.raises(DeviceError, match="设备类型无效.*/ invalid device kind"):
        add_device(rongxi, "收音机", "榕溪村", "radio")


def test_a_token_is_stored_only_as_its_hash_and_verified(rongxi):
    made = add_device(rongxi, "鼓楼喇叭", "榕溪村", "loudspeaker", ("上寨", "下寨"))
    assert len(made.token) >= 43 and made.device.zones == ("上寨", "下寨")
    with rongxi.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM device")).one()
    assert not any(made.token in str(value) for value in row)
    assert re.fullmatch(r"[0-9a-f]{64}", row.token_hash)
    with rongxi.session() as session:
        assert verify_token(session, made.device.id, made.token)
        assert not verify_token(session, made.device.id, made.token + "x")
        assert not verify_token(session, made.device.id, "")
        assert not verify_token(session, made.device.id + 1, made.token)
        assert not verify_token(session, -1, made.token)
    assert "token" not in repr(list_devices(rongxi)[0]).replace("token_set_at", "")


def test_two_devices_with_one_token_would_still_hash_apart(rongxi):
    first = add_device(rongxi, "一号", "榕溪村", "screen")
    second = add_device(rongxi, "二号", "榕溪村", "stream")
    assert first.token != second.token
    with rongxi.engine.connect() as conn:
        salts = conn.execute(text("SELECT token_salt FROM device")).scalars().all()
    assert len(set(salts)) == 2


def test_rotation_invalidates_the_old_token_and_disabling_refuses_any(rongxi):
    made = add_device(rongxi, "鼓楼喇叭", "榕溪村", "loudspeaker")
    rotated = rotate_token(rongxi, "鼓楼喇叭")
    assert rotated.token != made.token
    with rongxi.session() as session:
        assert not verify_token(session, made.device.id, made.token)
        assert verify_token(session, made.device.id, rotated.token)
    assert not set_enabled(rongxi, str(made.device.id), False).enabled
    with rongxi.session() as session:
        assert not verify_token(session, made.device.id, rotated.token)
    set_enabled(rongxi, "榕溪村/鼓楼喇叭", True)
    with rongxi.session() as session:
        assert verify_token(session, made.device.id, rotated.token)
    with pytest.raises(DeviceError, match="找不到设备.*/ no device"):
        rotate_token(rongxi, "99999999999999999999")


def test_list_devices_by_village(rongxi):
    add_village(rongxi, "堂安村", "肇兴镇")
    add_device(rongxi, "鼓楼喇叭", "榕溪村", "loudspeaker", ("上寨",))
    add_device(rongxi, "屏幕", "堂安村", "screen")
    assert [d.name for d in list_devices(rongxi)] == ["屏幕", "鼓楼喇叭"]
    assert [(d.name, d.zones) for d in list_devices(rongxi, "榕溪村")] == [("鼓楼喇叭", ("上寨",))]


def test_the_cli_round_trip(runner, db):
    assert runner.invoke("village", "add", "榕溪村", "--township", "肇兴镇").exit_code == 0
    assert runner.invoke("village", "zone", "add", "榕溪村", "上寨").exit_code == 0
    listed = runner.invoke("village", "list")
    assert "黎平县/肇兴镇/榕溪村\tAsia/Shanghai\t寨/组 zones: 上寨" in listed.output
    made = runner.invoke(
        "device",
        "add",
        "鼓楼喇叭",
        "--village",
        "榕溪村",
        "--kind",
        "loudspeaker",
        "--zone",
        "上寨",
    )
    assert made.exit_code == 0, made.output
    token = re.search(r"密钥 / credential: 1\.(\S+)", made.output).group(1)
    assert "不会再显示" in made.output and "will not be shown again" in made.output
    with db.session() as session:
        assert verify_token(session, 1, token)
    shown = runner.invoke("device", "list", "--village", "榕溪村")
    assert shown.output.startswith("1\t鼓楼喇叭\tloudspeaker\t肇兴镇/榕溪村\t上寨")
    assert token not in shown.output
    rotated = runner.invoke("device", "token", "鼓楼喇叭")
    new = re.search(r"密钥 / credential: 1\.(\S+)", rotated.output).group(1)
    assert new != token and "will not be shown again" in rotated.output
    with db.session() as session:
        assert not verify_token(session, 1, token) and verify_token(session, 1, new)
    assert "已停用 / disabled" in runner.invoke("device", "disable", "1").output
    assert "已停用 / disabled" in runner.invoke("device", "list").output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            ("village", "add", "堂安村", "--township", "肇兴镇", "--tz", "Mars/Base"), id="tz"
        ),
        pytest.param(("village", "add", "", "--township", "肇兴镇"), id="empty-name"),
        pytest.param(("village", "zone", "add", "没有村", "上寨"), id="no-village"),
        pytest.param(
            ("device", "add", "喇叭", "--village", "榕溪村", "--kind", "screen", "--zone", "中寨"),
            id="zone-elsewhere",
        ),
        pytest.param(
            ("device", "add", "喇叭", "--village", "没有村", "--kind", "screen"), id="village"
        ),
        pytest.param(("device", "token", "没有设备"), id="no-device"),
    ],
)
def test_the_cli_says_bad_input_in_one_line_and_saves_nothing(runner, db, args):
    assert runner.invoke("village", "add", "榕溪村", "--township", "肇兴镇").exit_code == 0
    before = _counts(db)
    result = runner.invoke(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误 / Error: ")
    assert re.search(r"[\u4e00-\u9fff].* / [A-Za-z]", lines[0])  # Chinese first, then English
    assert _counts(db) == before


def test_the_migration_adds_the_tables_to_an_older_database(tmp_path):
    from alembic import command

    from library.db import SCHEMA_HEAD, alembic_config, open_database

    path = tmp_path / "kuanyue.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "0007")
    db = open_database(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        assert conn.execute(text("SELECT count(*) FROM device")).scalar() == 0
    add_village(db, "榕溪村", "肇兴镇")
    assert add_device(db, "鼓楼喇叭", "榕溪村", "loudspeaker").device.id == 1
    db.engine.dispose()
    command.downgrade(alembic_config(f"sqlite:///{path}"), "0007")  # and back, cleanly
