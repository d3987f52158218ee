"""Covenant versions: stable clause keys, no-op re-imports, diffs, edited topics."""

from __future__ import annotations

import pytest

from library.covenants.versions import diff_versions, import_covenant, set_topic, slugify
from library.errors import LibraryError
from library.models import Segment, SegmentFile

V1 = """清水村村规民约
为了维护本村秩序，特制定本村规民约。
第一条 严禁在山林中野外用火。
第二条 垃圾分类投放，不得倒入河中。
第三条 红白喜事从简办理。
"""

# Clause 2 changed, a new clause inserted before the old third (which becomes 第四条).
V2 = """清水村村规民约
为了维护本村秩序，特制定本村规民约。
第一条 严禁在山林中野外用火。
第二条 垃圾分类投放，不得倒入河中，违者罚款100元。
第三条 爱护村道，不得占道堆放柴草。
第四条 红白喜事从简办理。
"""


def write(tmp_path, text, name="qingshui.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_slugify_uses_pinyin():
    assert slugify("清水村") == "qingshuicun"
    assert slugify("Rongxi 村!") == "rongxi-cun"


def test_first_import_assigns_keys_in_order(db, tmp_path):
    result = import_covenant(db, write(tmp_path, V1), village="清水村")
    assert result.new_version and result.version.number == 1
    assert [c.key for c in result.version.clauses] == [
        "qingshuicun-01",
        "qingshuicun-02",
        "qingshuicun-03",
    ]
    assert result.covenant.title == "清水村村规民约"
    assert result.version.preamble.startswith("为了维护本村秩序")


def test_unchanged_reimport_is_a_no_op(db, tmp_path):
    import_covenant(db, write(tmp_path, V1), village="清水村")
    again = import_covenant(db, write(tmp_path, V1, "copy.txt"), village="清水村")
    assert not again.new_version and again.version.number == 1


def test_changed_text_makes_a_version_and_keeps_identity(db, tmp_path):
    import_covenant(db, write(tmp_path, V1), village="清水村")
    result = import_covenant(db, write(tmp_path, V2), village="清水村")
    assert result.version.number == 2
    kinds = {ch.key: ch.kind for ch in result.changes}
    assert kinds == {
        "qingshuicun-01": "unchanged",
        "qingshuicun-02": "changed",
        "qingshuicun-04": "added",
        "qingshuicun-03": "renumbered",  # 第三条 → 第四条, same text, same identity
    }
    changed = next(ch for ch in result.changes if ch.kind == "changed")
    assert changed.text_diff().endswith("{+，违者罚款100元+}。")
    with db.session() as session:
        assert [ch.kind for ch in diff_versions(session, "qingshuicun")] == [
            "unchanged",
            "changed",
            "added",
            "renumbered",
        ]
        assert {ch.kind for ch in diff_versions(session, "qingshuicun", 0, 1)} == {"added"}
        with pytest.raises(LibraryError, match="versions"):
            diff_versions(session, "qingshuicun", 1, 7)


def test_unchanged_clauses_keep_their_rendered_media(db, tmp_path):
    first = import_covenant(db, write(tmp_path, V1), village="清水村")
    with db.session() as session:
        clause = session.get(type(first.version.clauses[0]), first.version.clauses[0].id)
        clause.segments.append(
            Segment(
                inputs_hash="h" * 64,
                engine="espeak",
                voice="v",
                duration_s=3.0,
                files=[
                    SegmentFile(
                        kind="audio-web",
                        sha256="a" * 64,
                        store_path="aa/a.ogg",
                        mime="audio/ogg",
                        size=1,
                        duration_s=3.0,
                        integrated_lufs=-16.0,
                        true_peak_dbtp=-2.0,
                        loudness_range_lu=3.0,
                    )
                ],
            )
        )
    second = import_covenant(db, write(tmp_path, V2), village="清水村")
    with db.session() as session:
        new_first = session.get(type(second.version.clauses[0]), second.version.clauses[0].id)
        assert [s.inputs_hash for s in new_first.segments] == ["h" * 64]
        assert new_first.segments[0].files[0].store_path == "aa/a.ogg"


def test_edited_topic_survives_reimport(db, tmp_path):
    import_covenant(db, write(tmp_path, V1), village="清水村")
    with db.session() as session:
        set_topic(session, "qingshuicun-03", "婚丧嫁娶")
    result = import_covenant(db, write(tmp_path, V2), village="清水村")
    topics = {c.key: c.topic for c in result.version.clauses}
    assert topics["qingshuicun-03"] == "婚丧嫁娶"


def test_unknown_covenant_lists_the_known_ones(db, tmp_path):
    import_covenant(db, write(tmp_path, V1), village="清水村")
    with db.session() as session, pytest.raises(LibraryError, match="qingshuicun"):
        diff_versions(session, "nowhere")


def test_village_is_required_when_the_text_does_not_say(db, tmp_path):
    path = write(tmp_path, "第一条 爱护公物。\n第二条 讲究卫生。\n", "rules.txt")
    with pytest.raises(LibraryError, match="--village"):
        import_covenant(db, path)
