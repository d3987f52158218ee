"""Friendly edges of `kuanyue`: a busy port, click's own messages in Chinese and English, and
one `--as` option on every catalogue command that shows content."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from library.models import NearDuplicate, Recording
from tests.small_catalogue import CLAUSE, LYRICS, STEWARD, TITLES, VILLAGE, build_small_catalogue

KUANYUE = str(Path(sys.executable).with_name("kuanyue"))


def kuanyue(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed `kuanyue` in a process of its own (this test's KUANYUE_HOME)."""
    return subprocess.run(
        [KUANYUE, *args], env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("错误 / Error: ")]


def chinese_then_english(line: str, zh: str, en: str) -> None:
    assert zh in line and en in line, line
    assert line.index(zh) < line.index(" / ", line.index(zh)) < line.rindex(en), line


# --- a busy port ---------------------------------------------------------------------------------


def test_serve_on_a_busy_port_says_so_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kuanyue("serve", "--port", str(port))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines == error_lines(result.stderr), result.stderr
    line = lines[0]
    chinese_then_english(line, f"127.0.0.1:{port} 已被占用", f"127.0.0.1:{port} is already in use")
    assert line.count("--port") == 2 and "停止占用它的程序" in line and "stop the program" in line
    assert "Kuanyue site" not in result.stdout  # nothing claims the site is up


@pytest.mark.parametrize(
    ("exc", "zh", "en"),
    [
        pytest.param(OSError(errno.EACCES, "denied"), "无权监听", "not allowed", id="privileged"),
        pytest.param(
            OSError(errno.EADDRNOTAVAIL, "not here"),
            "不是本机的地址",
            "not an address",
            id="foreign",
        ),
        pytest.param(socket.gaierror(-2, "unknown"), "找不到主机", "cannot resolve", id="name"),
        pytest.param(
            OSError(errno.EMFILE, "Too many open files"), "无法监听", "cannot", id="other"
        ),
    ],
)
def test_other_listen_problems_are_said_plainly(exc, zh, en):
    from web.cli.system import listen_problem

    message = listen_problem(exc, "10.9.8.7", 80)
    chinese_then_english(message, zh, en)
    assert "\n" not in message


def test_an_unknown_host_is_one_line_too():
    result = kuanyue("serve", "--host", "nowhere.invalid", "--port", "5999")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    chinese_then_english(line, "找不到主机 nowhere.invalid", "cannot resolve nowhere.invalid")


# --- click's own messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        pytest.param(
            ("catalogue", "show", "--nope"),
            "没有这个选项：--nope",
            "No such option: --nope",
            id="bad-option",
        ),
        pytest.param(
            ("catalogue", "show", "1", "--not"),
            "没有这个选项：--not",
            "No such option: --not",
            id="bad-option-after-argument",
        ),
        pytest.param(
            ("catalogue", "show"),
            "缺少参数 'RECORDING_ID'",
            "Missing argument 'RECORDING_ID'.",
            id="missing-argument",
        ),
        pytest.param(
            ("covenant", "import", "{tmp}/nowhere.txt"),
            "'FILE' 的值无效：文件 '{tmp}/nowhere.txt' 不存在",
            "Invalid value for 'FILE': File '{tmp}/nowhere.txt' does not exist.",
            id="no-such-file",
        ),
        pytest.param(
            ("catalogue", "export", "--format", "xml"),
            "'--format' 的值无效：'xml' 不是 'csv', 'json' 之一",
            "Invalid value for '--format': 'xml' is not one of 'csv', 'json'.",
            id="bad-choice",
        ),
        pytest.param(
            ("catalogue", "lyrics", "1"),
            "缺少参数 '{add|list}'。可选：add, list",
            "Missing argument '{add|list}'. Choose from: add, list",
            id="missing-choice",
        ),
        pytest.param(
            ("catalogue", "search", "--limit", "many"),
            "'--limit' 的值无效：'many' 不是有效的整数",
            "'many' is not a valid integer.",
            id="not-a-number",
        ),
        pytest.param(
            ("serve", "--port", "70000"),
            "70000 不在 0<=x<=65535 范围内",
            "70000 is not in the range 0<=x<=65535.",
            id="out-of-range",
        ),
        pytest.param(
            ("catalogue", "show", "1", "2"),
            "多出了参数（2）",
            "Got unexpected extra argument (2)",
            id="extra-argument",
        ),
        pytest.param(
            ("catalogue", "export", "-o"),
            "选项 '-o' 后面要跟一个值",
            "Option '-o' requires an argument.",
            id="option-without-value",
        ),
        pytest.param(
            ("recital",), "没有这个子命令：'recital'", "No such command 'recital'.", id="command"
        ),
        pytest.param(
            ("catalogue", "search", "--as", "nobody"),
            "'--as' 的值无效：身份 'nobody' 无效",
            "Invalid value for '--as': unknown viewer 'nobody'",
            id="bad-viewer",
        ),
    ],
)
def test_click_errors_are_chinese_then_english(runner, tmp_path, args, zh, en):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    zh, en = zh.replace("{tmp}", str(tmp_path)), en.replace("{tmp}", str(tmp_path))
    result = runner.invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [line] = error_lines(result.output)
    chinese_then_english(line, zh, en)
    assert line.count("身份") <= 1  # a bilingual inner message is not said twice
    if args[-1] != "-o":  # click names no command for an option missing its value
        assert "用法 / Usage: " in result.output  # (CliRunner names the program "main")
        assert "查看帮助 / Try '" in result.output and " -h' for help." in result.output


def test_the_clis_own_errors_keep_their_words_under_the_bilingual_label(runner):
    result = runner.invoke("catalogue", "show", "7", "--as", "admin")
    assert result.exit_code == 1
    assert result.output.strip() == "错误 / Error: 找不到录音 7 / no recording 7"


def test_an_interrupted_command_says_aborted_in_both(runner, monkeypatch):
    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr("library.store_gc.collect", interrupted)
    result = runner.invoke("store", "gc")
    assert result.exit_code == 1 and result.output.strip() == "已中止 / Aborted!"


def test_a_click_error_in_a_real_process(tmp_path):
    result = kuanyue("catalogue", "scan", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("用法 / Usage: kuanyue catalogue scan [OPTIONS] FOLDER\n")
    [line] = error_lines(result.stderr)
    chinese_then_english(line, "不存在", f"'{tmp_path / 'nowhere'}' does not exist.")


def test_help_pages_speak_both_languages(runner):
    top = runner.invoke("--help")
    assert top.exit_code == 0
    for words in ("用法 / Usage: main [OPTIONS] COMMAND", "选项 / Options:", "命令 / Commands:"):
        assert words in top.output
    export = runner.invoke("catalogue", "export", "-h")
    assert export.exit_code == 0
    for words in (
        "用法 / Usage: main catalogue export [OPTIONS]",
        "[默认 / default: csv]",
        "显示本帮助并退出 / show this message and exit.",
    ):
        assert words in export.output
    # Option help that merely mentions a default is left as written.
    assert "(default: the file's title line" in runner.invoke("covenant", "import", "-h").output


def test_the_message_catalogue_knows_every_template():
    from web.cli.bilingual import CLICK_MESSAGES, translate

    for en in CLICK_MESSAGES:
        filled = en.format(
            param="'--x'",
            message="'a' is not a valid integer.",
            name="'--x'",
            other="--y",
            others="--y, --z",
            args="a b",
            n=2,
            m=3,
            choices="a,\n\tb",
            choice="'a'",
            value="'v'",
            kind="File",
            range="1<=x<=9",
            format="%Y",
            path="'p'",
            reason="gone",
        )
        found = translate(filled)
        assert found is not None and found[1] == filled, en
        assert any("\u4e00" <= c <= "\u9fff" for c in found[0]), found  # said in Chinese


# --- one `--as` for every catalogue command that shows content ------------------------------------

# Each command that shows recordings, with the arguments it needs to get as far as `--as`.
SHOWING = {
    ("catalogue", "show"): ["1"],
    ("catalogue", "lyrics"): ["1", "list"],
    ("catalogue", "search"): [],
    ("catalogue", "export"): [],
    ("catalogue", "duplicates"): [],
    ("reel",): [CLAUSE],
}
# Commands that change the catalogue or its genre list, and show no one's recordings.
CHANGING = {"scan", "add", "import-sheet", "copies", "edit", "link", "consent", "genres"}


def _command(path: tuple[str, ...]) -> click.Command:
    from web.cli import main

    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_every_catalogue_command_that_shows_content_takes_the_one_as_option():
    from web.cli import catalogue
    from web.cli.common import VIEWER_HELP, ViewerSpec

    shown = {path[-1] for path in SHOWING if path[0] == "catalogue"}
    assert set(catalogue.catalogue.commands) == shown | CHANGING  # a new command is sorted here
    options = []
    for path in SHOWING:
        [option] = [p for p in _command(path).params if "--as" in p.opts]
        options.append(option)
        assert option.name == "viewer" and isinstance(option.type, ViewerSpec)
        assert option.default == "public" and option.help == VIEWER_HELP
    assert len({(o.metavar, o.show_default, o.help, o.default) for o in options}) == 1
    for name in CHANGING:
        assert "--as" not in {o for p in catalogue.catalogue.commands[name].params for o in p.opts}


@pytest.mark.parametrize(
    ("path", "args"), [pytest.param(p, a, id=" ".join(p)) for p, a in SHOWING.items()]
)
def test_each_showing_command_accepts_and_checks_as(runner, path, args):
    help_text = runner.invoke(*path, "--help").output
    assert "--as WHO" in help_text and "[默认 / default: public]" in help_text
    refused = runner.invoke(*path, *args, "--as", "chief")
    assert refused.exit_code == 2 and "unknown viewer 'chief'" in refused.output
    empty = runner.invoke(*path, *args, "--as", "steward:")
    assert empty.exit_code == 2 and "steward: 后面要写姓名" in empty.output


@pytest.fixture
def small(db, store, tmp_path):
    """The small catalogue (public, village and restricted recordings) in the runner's library,
    with two near-duplicate pairs: public ~ village and public ~ restricted."""
    built = build_small_catalogue(db, store, tmp_path / "stand-ins")
    with db.session() as session:
        originals = {
            key: next(f.id for f in session.get(Recording, rid).files if f.kind == "original")
            for key, rid in built.ids.items()
        }
        for other in ("village", "restricted"):
            session.add(
                NearDuplicate(
                    file_a_id=originals["public"], file_b_id=originals[other], similarity=0.93
                )
            )
    return built


RESTRICTED_WORDS = (TITLES["restricted"], LYRICS["restricted"])


def _leaks(output: str) -> bool:
    return any(word in output for word in RESTRICTED_WORDS)


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        pytest.param("public", False, id="public"),
        pytest.param(f"village:{VILLAGE}", False, id="village"),
        pytest.param("device:" + VILLAGE, False, id="device"),
        pytest.param("steward:吴老", False, id="another-steward"),
        pytest.param(f"steward:{STEWARD}", True, id="its-steward"),
        pytest.param("admin", True, id="admin"),
    ],
)
def test_a_restricted_recording_shows_only_to_whom_it_may(runner, small, who, sees):
    rid = str(small.ids["restricted"])
    show = runner.invoke("catalogue", "show", rid, "--as", who)
    lyrics = runner.invoke("catalogue", "lyrics", rid, "list", "--as", who)
    search = runner.invoke("catalogue", "search", "--as", who)
    export = runner.invoke("catalogue", "export", "--format", "json", "--as", who)
    duplicates = runner.invoke("catalogue", "duplicates", "--as", who)
    assert search.exit_code == export.exit_code == duplicates.exit_code == 0
    assert TITLES["public"] in search.output and TITLES["public"] in export.output
    exported = {row["id"] for row in json.loads(export.output)}
    if sees:
        assert show.exit_code == 0 and TITLES["restricted"] in show.output
        assert lyrics.exit_code == 0 and LYRICS["restricted"] in lyrics.output
        assert TITLES["restricted"] in search.output and small.ids["restricted"] in exported
        assert TITLES["restricted"] in duplicates.output
    else:
        for result in (show, lyrics):
            assert result.exit_code == 1 and not _leaks(result.output)
            assert f"找不到录音 {rid}" in result.output and "--as admin" in result.output
        for result in (search, export, duplicates):
            assert not _leaks(result.output), result.output
        assert small.ids["restricted"] not in exported
        assert "more pair(s) hidden from this viewer" in duplicates.output


def test_the_default_view_is_the_publics(runner, small):
    public = {
        "show": runner.invoke("catalogue", "show", str(small.ids["village"])).output,
        "search": runner.invoke("catalogue", "search").output,
        "duplicates": runner.invoke("catalogue", "duplicates").output,
    }
    assert "找不到录音" in public["show"] and TITLES["village"] not in public["show"]
    assert TITLES["public"] in public["search"] and TITLES["village"] not in public["search"]
    assert "2 more pair(s) hidden" in public["duplicates"]
    assert (
        TITLES["village"]
        in runner.invoke("catalogue", "show", str(small.ids["village"]), "--as", "admin").output
    )


def test_a_reel_of_a_hidden_recording_is_not_made(runner, small, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        "reel", CLAUSE, "--recording", small.ids["restricted"], "-o", out, "--as", "public"
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not _leaks(result.output)
    assert not out.exists() or not list(out.iterdir())
