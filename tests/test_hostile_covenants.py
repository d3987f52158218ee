"""Covenant files an adversary (or a bad copy-paste) would hand us: each gets a clear error or
a warning naming the file and line, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from library.covenants.parser import (
    MAX_CLAUSE_NUMBER,
    MAX_YAML_DEPTH,
    load_covenant,
    parse_covenant,
)
from library.errors import CovenantFileError, CovenantSchemaError
from library.textfiles import read_text

YAML_HEAD = "village: 榕溪村\nclauses:\n"


def deep_yaml(levels: int) -> str:
    return YAML_HEAD + "  - zh: 严禁野外用火。\n    dong: " + "[" * levels + "]" * levels + "\n"


@pytest.mark.parametrize(
    ("text", "fmt", "fragment", "line"),
    [
        pytest.param(deep_yaml(600), "yaml", f"nested deeper than {MAX_YAML_DEPTH}", 4, id="deep"),
        pytest.param(
            YAML_HEAD + "  - zh: 严禁野外用火。\n    number: 12345678901234567890123\n",
            "yaml",
            "is too large",
            3,
            id="yaml-huge-number",
        ),
        pytest.param(
            "第一条 严禁野外用火。\n第12345678901234567890123条 爱护河道。\n",
            "text",
            "is too large",
            2,
            id="text-huge-number",
        ),
        pytest.param(
            f"第一条 严禁野外用火。\n第{MAX_CLAUSE_NUMBER + 1}条 爱护河道。\n",
            "text",
            f"at most {MAX_CLAUSE_NUMBER}",
            2,
            id="text-number-past-limit",
        ),
        pytest.param(
            "village: 榕溪村\nvillage: 别的村\nclauses:\n  - zh: 严禁野外用火。\n",
            "yaml",
            "duplicate key 'village' (first on line 1)",
            2,
            id="duplicate-top-key",
        ),
        pytest.param(
            YAML_HEAD + "  - zh: 严禁野外用火。\n    zh: 爱护河道。\n",
            "yaml",
            "duplicate key 'zh' (first on line 3)",
            4,
            id="duplicate-clause-key",
        ),
    ],
)
def test_hostile_text_is_refused_with_its_line(text, fmt, fragment, line):
    with pytest.raises(CovenantFileError) as caught:
        parse_covenant(text, source="bad", fmt=fmt)
    assert fragment in str(caught.value)
    assert caught.value.line == line and f"bad:{line}" in str(caught.value)


def test_yaml_within_the_depth_limit_reaches_the_schema_check():
    with pytest.raises(CovenantSchemaError, match="dong must be text"):
        parse_covenant(deep_yaml(MAX_YAML_DEPTH - 4), source="ok.yaml")


def test_invisible_characters_are_removed_and_said():
    text = "前言。\n第\u200b一\u200b条 严禁野外\u00ad用火。\n第二\u2060条 爱护河道。\n"
    parsed = parse_covenant(text, source="zw.txt")
    assert [(c.number, c.text_zh) for c in parsed.clauses] == [
        (1, "严禁野外用火。"),
        (2, "爱护河道。"),
    ]
    assert parsed.preamble == "前言。"
    assert any("removed 4 invisible characters" in w and "zw.txt:2" in w for w in parsed.warnings)


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("第一条 严禁野外用火。\n" + "爱护河道。\n" * 130_000, encoding="utf-8")
    assert 2_000_000 < big.stat().st_size < 2_200_000
    with pytest.raises(CovenantFileError, match="larger than 2 MB"):
        load_covenant(big)
    assert len(load_covenant(big, max_bytes=2_200_000).clauses) == 1  # the limit is a setting


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    odd = tmp_path / "odd.txt"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "dev-zero-link":
        odd.symlink_to("/dev/zero")
    else:
        odd.mkdir()
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_text(odd)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # unblock the FIFO so the thread can end, then fail
        with open(odd, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert outcome and isinstance(outcome[0], CovenantFileError)
    assert "not a regular file" in str(outcome[0])


def test_cli_reports_hostile_files_in_one_clean_message(runner, tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text(deep_yaml(600), encoding="utf-8")
    result = runner.invoke("covenant", "import", deep)
    assert result.exit_code == 1
    assert "nested deeper than" in result.output and "Traceback" not in result.output


def test_cli_imports_a_file_whose_name_is_not_utf8(runner, tmp_path):
    """A name from an old USB stick (GBK bytes) is read, and shown escaped, never a crash."""
    name = os.fsencode(tmp_path) + b"/\xb4\xe5\xb9\xe6\xff.txt"  # 村规 in GBK, then a stray byte
    with open(name, "wb") as fh:
        fh.write("榕溪村村规民约\n第一条 严禁野外用火。\n".encode())
    path = Path(os.fsdecode(name))
    result = runner.invoke("covenant", "import", path, "--village", "榕溪村")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
