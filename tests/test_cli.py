"""The kuanyue command: what a cultural worker types, and the messages they get."""

from __future__ import annotations

import pytest

from tests.conftest import SMALL_COVENANT


def test_help_lists_the_commands(runner):
    result = runner.invoke("--help")
    assert result.exit_code == 0
    for command in ("covenant", "render", "doctor", "serve"):
        assert command in result.output


def test_import_show_diff_topic(runner, tmp_path):
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    first = runner.invoke("covenant", "import", str(source))
    assert first.exit_code == 0, first.output
    assert "第 1 版" in first.output and "3 条" in first.output
    again = runner.invoke("covenant", "import", str(source))
    assert "内容未变" in again.output

    source.write_text(SMALL_COVENANT.replace("200元", "300元"), encoding="utf-8")
    second = runner.invoke("covenant", "import", str(source))
    assert second.exit_code == 0 and "第 2 版" in second.output
    assert "[-2-]{+3+}" in second.output

    diff = runner.invoke("covenant", "diff", "yanjiaocun")
    assert "yanjiaocun-02" in diff.output and "修改 changed 1" in diff.output
    shown = runner.invoke("covenant", "show", "yanjiaocun")
    assert "鸣锣喊寨" in shown.output and "Kgal nyenc" in shown.output
    topic = runner.invoke("covenant", "topic", "yanjiaocun-03", "河道保护")
    assert topic.exit_code == 0 and "河道保护" in topic.output
    listed = runner.invoke("covenant", "list")
    assert "yanjiaocun" in listed.output and "v2" in listed.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary", id="binary"),
        pytest.param("只是一段话，没有任何条款。".encode(), "第N条", id="no-clauses"),
    ],
)
def test_bad_files_get_a_clear_message_not_a_traceback(runner, tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    result = runner.invoke("covenant", "import", str(bad), "--village", "某村")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "bad.txt" in result.output and message.lower() in result.output.lower()


def test_unknown_clause_key_is_named(runner, tmp_path):
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    runner.invoke("covenant", "import", str(source))
    result = runner.invoke("render", "--covenant", "yanjiaocun", "--clause", "yanjiaocun-09")
    assert (
        result.exit_code == 1
        and "yanjiaocun-09" in result.output
        and "yanjiaocun-01" in result.output
    )


def test_unknown_covenant_and_engine(runner):
    result = runner.invoke("render", "--covenant", "nowhere")
    assert result.exit_code == 1 and "nowhere" in result.output
    result = runner.invoke("render", "--covenant", "x", "--engine", "festival")
    assert result.exit_code == 2 and "espeak" in result.output


def test_doctor_checks_everything_and_prints_settings(runner, no_internet):
    # doctor tries to reach gTTS; no_internet makes that attempt fail here as on an offline
    # machine, so the test never talks to Google and sees the same report everywhere.
    result = runner.invoke("doctor")
    assert result.exit_code == 0, result.output
    for name in (
        "ffmpeg",
        "ffprobe",
        "espeak-ng",
        "cmn-latn-pinyin",
        "Noto Sans CJK SC",
        "KUANYUE_HOME",
        "database",
    ):
        assert name in result.output


def test_doctor_says_what_to_install(runner, monkeypatch, no_internet):
    monkeypatch.setenv("KUANYUE_ESPEAK", "/nonexistent/espeak-ng")
    result = runner.invoke("doctor")
    assert result.exit_code == 1
    assert "apt-get install espeak-ng" in result.output
