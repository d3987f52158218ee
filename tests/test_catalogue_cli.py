"""`kuanyue catalogue …` and `kuanyue reel`: the report, the metadata, and what each viewer sees."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from library.access import Viewer, broadcastable
from library.catalogue.recordings import get_recording
from library.catalogue.reels import plan_reel
from library.db import open_database
from library.errors import LibraryError
from library.settings import load_config
from library.store import MediaStore
from tests.conftest import SMALL_COVENANT, Runner
from tests.recordings import make_broken, make_recording

# Words that only the viewers allowed may ever meet.
VILLAGE_TITLE = "榕溪鼓楼歌"
RESTRICTED_TITLE = "祭萨秘歌"
SECRET_LYRIC = "鹧鸪藏宝"  # in a restricted lyrics track of a public recording
PUBLIC_LYRIC = "蝉鸣满山"
SHELL_NAME = "歌 $(x);'&.wav"

LRC_PUBLIC = f"[00:00.50]{PUBLIC_LYRIC}\n[00:02.00]木楼火塘要小心\n"
LRC_SECRET = f"[00:00.50]{SECRET_LYRIC}\n[00:01.50]只给管理人看\n"


@dataclass
class Catalogue:
    """A KUANYUE_HOME filled through the CLI: four recordings under three protocols."""

    home: Path
    ids: dict[str, int]

    def env(self) -> dict[str, str]:
        return {"KUANYUE_HOME": str(self.home)}

    def invoke(self, *args: str):  # noqa: ANN201 - click Result
        return Runner(self.env()).invoke(*args)

    def library(self):  # noqa: ANN201
        config = load_config({"HOME": str(self.home.parent), "KUANYUE_HOME": str(self.home)})
        return open_database(config.database_url_resolved), MediaStore(config.media_dir)


# Which recordings each viewer must see (and no others).
VIEWERS = {
    "public": {"public", "lyrics"},
    "village:榕溪村": {"public", "lyrics", "village"},
    "village:岩脚村": {"public", "lyrics"},
    "steward:杨秀珠": {"public", "lyrics", "restricted"},
    "steward:吴培三": {"public", "lyrics"},
    "admin": {"public", "lyrics", "village", "restricted"},
}
# Viewers who may read the restricted lyrics track (its recording names 杨秀珠 as steward).
LYRIC_READERS = {"steward:杨秀珠", "admin"}
SECRETS = {"village": VILLAGE_TITLE, "restricted": RESTRICTED_TITLE}


def _added_id(output: str) -> int:
    match = re.search(r"#(\d+)", output)
    assert match, output
    return int(match.group(1))


def build(cat: Catalogue, media: Path, *, import_covenant: bool = True) -> None:
    """Fill `cat.home` through the CLI, as a cultural worker would."""
    media.mkdir(parents=True, exist_ok=True)
    if import_covenant:
        source = media / "yanjiao.txt"
        source.write_text(SMALL_COVENANT, encoding="utf-8")
        assert cat.invoke("covenant", "import", str(source)).exit_code == 0
    recordings = {
        "restricted": (
            make_recording(media / "秘歌.wav", "wav", 3.0, freq=523),
            ["--title-zh", RESTRICTED_TITLE, "--village", "榕溪村", "--protocol", "restricted"],
            ["--steward", "杨秀珠"],
        ),
        "public": (
            make_recording(media / "蝉 之 歌.wav", "wav", 4.0, freq=392),
            ["--title-zh", "蝉之歌", "--title-kam", "Kgal Leengc", "--genre", "大歌"],
            ["--village", "岩脚村", "--date", "2019-07", "--protocol", "public"]
            + ["--performer", "吴培三:lead", "--performer", "杨秀珠:chorus", "--tag", "火塘"],
        ),
        "village": (
            make_recording(media / "鼓楼.wav", "wav", 1.0, freq=440),
            ["--title-zh", VILLAGE_TITLE, "--village", "榕溪村", "--protocol", "village"],
            [],
        ),
        "lyrics": (
            make_recording(media / "河边.wav", "wav", 3.0, freq=330),
            ["--title-zh", "河边情歌", "--village", "榕溪村", "--protocol", "public"],
            ["--steward", "杨秀珠"],
        ),
    }
    for key, (path, options, more) in recordings.items():
        result = cat.invoke("catalogue", "add", str(path), *options, *more)
        assert result.exit_code == 0, result.output
        cat.ids[key] = _added_id(result.output)
    lrc = media / "蝉.lrc"
    lrc.write_text(LRC_PUBLIC, encoding="utf-8")
    secret = media / "secret.lrc"
    secret.write_text(LRC_SECRET, encoding="utf-8")
    ids = {k: str(v) for k, v in cat.ids.items()}
    for args in (
        ["lyrics", ids["public"], "add", str(lrc), "--lang", "zh-Hans"],
        ["lyrics", ids["lyrics"], "add", str(secret), "--lang", "zh-Hans"]
        + ["--protocol", "restricted"],
        # The restricted span is linked first, so it would come first if the filter slipped.
        ["link", ids["restricted"], "--clause", "yanjiaocun-01", "--from", "0", "--to", "00:02"],
        ["link", ids["public"], "--clause", "yanjiaocun-01", "--from", "00:01", "--to", "00:03"],
        ["link", ids["lyrics"], "--clause", "yanjiaocun-02", "--from", "0", "--to", "00:02.5"],
        ["consent", ids["public"], "--person", "吴培三", "--scope", "broadcast"],
        # A reel ends in a loudspeaker MP3: its recording needs a broadcast consent.
        ["consent", ids["lyrics"], "--person", "杨秀珠", "--scope", "broadcast"],
    ):
        result = cat.invoke("catalogue", *args)
        assert result.exit_code == 0, (args, result.output)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Catalogue:
    root = tmp_path_factory.mktemp("catalogue-cli")
    cat = Catalogue(root / "kuanyue", {})
    build(cat, root / "media")
    return cat


# --- scan, add, show, edit --------------------------------------------------------------------


@pytest.mark.slow
def test_scan_reports_each_file_and_a_summary(runner, tmp_path):
    folder = tmp_path / "phone"
    make_recording(folder / SHELL_NAME, "wav", 1.0)
    shutil.copy(folder / SHELL_NAME, folder / "歌 副本.wav")
    make_broken(folder / "empty.mp3", "empty")
    (folder / "readme.txt").write_text("hello", encoding="utf-8")

    first = runner.invoke("catalogue", "scan", str(folder), "--workers", "1")
    assert first.exit_code == 0, first.output
    assert f"+ {folder / SHELL_NAME} #1" in first.output
    assert f"≡ {folder / '歌 副本.wav'} #1" in first.output
    assert "empty.mp3" in first.output and "file is empty" in first.output
    assert "readme.txt" in first.output and "not an audio or video file" in first.output
    assert "新增 added 1，未变 unchanged 0，重复 duplicate 1，拒绝 refused 2" in first.output

    again = runner.invoke("catalogue", "scan", str(folder), "--quiet")
    assert again.exit_code == 0
    assert "新增 added 0，未变 unchanged 4，重复 duplicate 0，拒绝 refused 0" in again.output
    assert "+ " not in again.output and "= " not in again.output  # --quiet: summary only


def test_scan_of_a_missing_folder_is_a_usage_error(runner, tmp_path):
    result = runner.invoke("catalogue", "scan", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.slow
def test_show_prints_everything_the_recording_carries(catalogue):
    result = catalogue.invoke("catalogue", "show", str(catalogue.ids["public"]))
    assert result.exit_code == 0, result.output
    out = result.output
    for expected in (
        "title [zh-Hans]: 蝉之歌",
        "title [kmc-Latn]: Kgal Leengc",
        "曲种 genre: 大歌",
        "岩脚村",
        "日期 date: 2019-07",
        "访问 protocol: public",
        "吴培三 (lead)",
        "杨秀珠 (chorus)",
        "标签 tags: 火塘",
        "文件 original (蝉 之 歌.wav): audio/wav",
        "文件 web",
        "文件 loudspeaker",
        "LUFS",
        "文本 lyrics [zh-Hans, lrc, public]: 2 行",
        "条款 clause yanjiaocun-01: 1.0–3.0 s (teaches)",
        "授权 consent: 吴培三 · broadcast",
    ):
        assert expected in out, expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--genre", "摇滚"], "未知曲种", id="unknown-genre"),
        pytest.param(["--date", "2019-13"], "日期无效", id="bad-date"),
        pytest.param(["--performer", "吴培三:boss"], "unknown role", id="bad-role"),
    ],
)
def test_add_explains_bad_metadata(runner, config, tmp_path, args, message):
    path = make_recording(tmp_path / "a.wav", "wav", 1.0)
    result = runner.invoke("catalogue", "add", str(path), *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    # Refused before anything reached the store: no file without its row.
    media = config.media_dir
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_add_refuses_an_identical_file_and_a_text_file(runner, tmp_path):
    path = make_recording(tmp_path / "a.wav", "wav", 1.0)
    first = runner.invoke("catalogue", "add", str(path), "--title-zh", "一")
    assert first.exit_code == 0 and first.output.startswith("+ ")
    twice = runner.invoke("catalogue", "add", str(path))
    assert twice.output.startswith("≡ ") and "identical to #1" in twice.output
    text = make_broken(tmp_path / "b.mp3", "text")
    refused = runner.invoke("catalogue", "add", str(text))
    assert refused.exit_code == 1 and "not an audio or video file" in refused.output


@pytest.mark.slow
def test_lyrics_list_shows_timed_lines(catalogue):
    result = catalogue.invoke("catalogue", "lyrics", str(catalogue.ids["public"]), "list")
    assert result.exit_code == 0
    assert "lyrics [zh-Hans, lrc, public]" in result.output
    assert f"   0.50  {PUBLIC_LYRIC}" in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--clause", "nowhere-01", "--from", "0", "--to", "1"], "找不到条款", id="clause"
        ),
        pytest.param(
            ["--clause", "yanjiaocun-01", "--from", "0", "--to", "01:00"], "无效", id="late"
        ),
        pytest.param(
            ["--clause", "yanjiaocun-01", "--from", "2", "--to", "1"], "无效", id="reversed"
        ),
        pytest.param(
            ["--clause", "yanjiaocun-01", "--from", "x", "--to", "1"], "MM:SS", id="timecode"
        ),
    ],
)
def test_bad_links_are_refused(catalogue, args, message):
    result = catalogue.invoke("catalogue", "link", str(catalogue.ids["village"]), *args)
    assert result.exit_code == 1 and message in result.output


@pytest.mark.slow
def test_consent_withdrawal_takes_effect_at_once(catalogue):
    rid = catalogue.ids["village"]
    db, _store = catalogue.library()

    def on_air() -> bool:
        with db.session() as session:
            return broadcastable(get_recording(session, rid))

    assert not on_air()
    given = catalogue.invoke(
        "catalogue", "consent", str(rid), "--person", "杨老师", "--scope", "broadcast"
    )
    assert given.exit_code == 0 and "consent recorded" in given.output
    assert on_air()
    withdrawn = catalogue.invoke(
        "catalogue", "consent", str(rid), "--person", "杨老师", "--withdraw"
    )
    assert withdrawn.exit_code == 0 and "withdrew 1" in withdrawn.output
    assert not on_air()
    shown = catalogue.invoke("catalogue", "show", str(rid), "--as", "admin")
    assert "杨老师 · broadcast" in shown.output and "已撤回 withdrawn" in shown.output
    again = catalogue.invoke("catalogue", "consent", str(rid), "--person", "杨老师", "--withdraw")
    assert again.exit_code == 1 and "no consent to withdraw" in again.output


# --- access: search and export never leak ------------------------------------------------------


def _search_ids(catalogue: Catalogue, *args: str) -> set[int]:
    result = catalogue.invoke("catalogue", "search", *args)
    assert result.exit_code == 0, result.output
    return {int(m) for m in re.findall(r"^#(\d+)\t", result.output, re.M)}


def _names(catalogue: Catalogue, ids: set[int]) -> set[str]:
    by_id = {v: k for k, v in catalogue.ids.items()}
    return {by_id[i] for i in ids}


@pytest.mark.slow
@pytest.mark.parametrize("who", [pytest.param(w, id=w) for w in VIEWERS])
def test_search_lists_only_what_the_viewer_may_see(catalogue, who):
    assert _names(catalogue, _search_ids(catalogue, "--as", who)) == VIEWERS[who]


@pytest.mark.slow
def test_search_defaults_to_the_public(catalogue):
    result = catalogue.invoke("catalogue", "search")
    assert _names(catalogue, _search_ids(catalogue)) == VIEWERS["public"]
    for secret in (VILLAGE_TITLE, RESTRICTED_TITLE, SECRET_LYRIC):
        assert secret not in result.output


@pytest.mark.slow
@pytest.mark.parametrize("who", [pytest.param(w, id=w) for w in VIEWERS])
@pytest.mark.parametrize(
    ("query", "owner"),
    [
        pytest.param(VILLAGE_TITLE, "village", id="village-title"),
        pytest.param("鼓楼", "village", id="village-word"),
        pytest.param(RESTRICTED_TITLE, "restricted", id="restricted-title"),
        pytest.param("祭萨", "restricted", id="restricted-short"),
        pytest.param(SECRET_LYRIC, "lyrics", id="restricted-lyric"),
        pytest.param("鹧鸪", "lyrics", id="restricted-lyric-short"),
        pytest.param("只给管理人", "lyrics", id="restricted-lyric-line2"),
        pytest.param(PUBLIC_LYRIC, "public", id="public-lyric"),
    ],
)
def test_search_never_finds_hidden_words(catalogue, who, query, owner):
    allowed = who in LYRIC_READERS if owner == "lyrics" else owner in VIEWERS[who]
    result = catalogue.invoke("catalogue", "search", query, "--as", who)
    found = _names(catalogue, _search_ids(catalogue, query, "--as", who))
    assert found == ({owner} if allowed else set())
    if not allowed:
        assert "共 0 条" in result.output


@pytest.mark.slow
def test_snippets_show_only_readable_lyrics(catalogue):
    rid = catalogue.ids["lyrics"]
    steward = catalogue.invoke("catalogue", "search", SECRET_LYRIC, "--as", "steward:杨秀珠")
    assert f"#{rid}\t" in steward.output and SECRET_LYRIC in steward.output
    # A word the track shares with nothing else: the public view of the recording has no snippet.
    public = catalogue.invoke("catalogue", "search", "河边", "--as", "public")
    assert f"#{rid}\t" in public.output
    assert SECRET_LYRIC not in public.output and "管理人" not in public.output


def _export(catalogue: Catalogue, fmt: str, who: str) -> tuple[str, list[dict]]:
    result = catalogue.invoke("catalogue", "export", "--format", fmt, "--as", who)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        return result.output, json.loads(result.output)
    assert result.output.startswith("\ufeff")
    return result.output, list(csv.DictReader(io.StringIO(result.output.lstrip("\ufeff"))))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [pytest.param(f, id=f) for f in ("csv", "json")])
@pytest.mark.parametrize("who", [pytest.param(w, id=w) for w in VIEWERS])
def test_export_holds_only_what_the_viewer_may_see(catalogue, fmt, who):
    text, rows = _export(catalogue, fmt, who)
    assert _names(catalogue, {int(r["id"]) for r in rows}) == VIEWERS[who]
    for owner, secret in SECRETS.items():
        assert (secret in text) == (owner in VIEWERS[who])
    lyrics_row = next(r for r in rows if int(r["id"]) == catalogue.ids["lyrics"])
    # The restricted track is not even named among the recording's lyrics languages.
    assert lyrics_row["lyrics_languages"] == ("zh-Hans" if who in LYRIC_READERS else "")
    assert SECRET_LYRIC not in text  # lyrics text is never exported


@pytest.mark.slow
def test_export_defaults_to_the_public_and_writes_a_file(catalogue, tmp_path):
    out = tmp_path / "目录.json"
    result = catalogue.invoke("catalogue", "export", "--format", "json", "-o", str(out))
    assert result.exit_code == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert _names(catalogue, {r["id"] for r in rows}) == VIEWERS["public"]
    public = next(r for r in rows if r["id"] == catalogue.ids["public"])
    assert public["genre"] == "大歌" and public["date"] == "2019-07"
    assert public["clauses"] == "yanjiaocun-01@1.0-3.0"
    assert public["performers"] == "吴培三:lead; 杨秀珠:chorus"
    assert public["broadcastable"] is True


@pytest.mark.parametrize("who", ["nobody", "village-榕溪村", "root"])
def test_an_unknown_viewer_is_refused(runner, who):
    result = runner.invoke("catalogue", "search", "--as", who)
    assert result.exit_code == 2 and "unknown viewer" in result.output  # a usage error


# --- reels: planning follows the same rule -------------------------------------------------------


@pytest.fixture(scope="module")
def reel_catalogue(rendered, tmp_path_factory) -> Catalogue:
    """The catalogue above, in a copy of the session's rendered library (clause videos exist)."""
    root = tmp_path_factory.mktemp("catalogue-reel")
    home = root / "kuanyue"
    shutil.copytree(rendered.config.home, home)
    cat = Catalogue(home, {})
    build(cat, root / "media", import_covenant=False)
    return cat


@pytest.mark.slow
def test_plan_reel_never_uses_a_hidden_span(reel_catalogue):
    db, store = reel_catalogue.library()
    ids = reel_catalogue.ids
    with db.session() as session:
        plan = plan_reel(session, store, "yanjiaocun-01", Viewer.PUBLIC)
        assert plan.recording_id == ids["public"]
        with pytest.raises(LibraryError, match="no recording span you may use"):
            plan_reel(session, store, "yanjiaocun-01", Viewer.PUBLIC, ids["restricted"])
        steward = Viewer("steward", name="杨秀珠")
        # The steward sees the restricted span, but a restricted song is never broadcast.
        with pytest.raises(LibraryError, match="may not be broadcast"):
            plan_reel(session, store, "yanjiaocun-01", steward, ids["restricted"])
        with pytest.raises(LibraryError, match="no recording span you may use"):
            plan_reel(
                session,
                store,
                "yanjiaocun-01",
                Viewer("resident", village="岩脚村"),
                ids["restricted"],
            )


@pytest.mark.slow
def test_reel_lyrics_come_from_readable_tracks_only(reel_catalogue):
    db, store = reel_catalogue.library()
    with db.session() as session:
        public = plan_reel(session, store, "yanjiaocun-02", Viewer.PUBLIC)
        steward = plan_reel(session, store, "yanjiaocun-02", Viewer("steward", name="杨秀珠"))
    assert public.recording_id == steward.recording_id == reel_catalogue.ids["lyrics"]
    assert public.lyrics == ()
    assert SECRET_LYRIC in {zh for _s, _e, zh, _dong in steward.lyrics}


@pytest.mark.slow
def test_reel_command_refuses_a_restricted_recording_for_the_public(reel_catalogue, tmp_path):
    rid = str(reel_catalogue.ids["restricted"])
    out = tmp_path / "reels"
    result = reel_catalogue.invoke("reel", "yanjiaocun-01", "--recording", rid, "-o", str(out))
    assert result.exit_code == 1
    assert "no recording span you may use" in result.output
    assert RESTRICTED_TITLE not in result.output
    assert not out.exists() or not list(out.iterdir())
