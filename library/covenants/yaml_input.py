"""YAML covenants: keys village, title, preamble, dong_note, note (free comment), clauses;
each clause has zh and optionally number, label, chapter, section, topic, dong, penalty
(absent: guessed from zh; empty: none). Errors name the key and line."""

from __future__ import annotations

from typing import Any

import cn2an
import yaml

from ..errors import CovenantFileError, CovenantSchemaError
from .numbering import check_number_size, check_numbers
from .parsed import ParsedClause, ParsedCovenant, message
from .titles import village_of
from .topics import TOPICS, guess_topic
from .wording import paragraphs, penalty_of, squash, tidy

# Nesting a covenant's YAML needs is 3 levels (covenant → clauses → clause); 20 is generous.
MAX_YAML_DEPTH = 20

_YAML_KEYS = ("village", "title", "preamble", "dong_note", "note", "clauses")
_YAML_CLAUSE_KEYS = ("number", "label", "chapter", "section", "topic", "zh", "dong", "penalty")


class _CovenantYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also refuses deep nesting and repeated keys, with their lines."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - PyYAML's node types
        # PyYAML composes recursively: thousands of levels would end in RecursionError.
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"嵌套超过 {MAX_YAML_DEPTH} 层 / nested deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: ANN401
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class says what is wrong with it
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"键 {key!r} 重复（第 {first.start_mark.line + 1} 行已有）"
                    f" / duplicate key {key!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> ParsedCovenant:
    """Parse a YAML covenant, refusing what does not follow the schema."""
    loader = _CovenantYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise CovenantFileError(
            message(source, line, f"YAML 语法错误：{problem}", f"YAML syntax error: {problem}"),
            source=source,
            line=line,
        ) from exc
    finally:
        loader.dispose()

    def fail(line: int | None, zh: str, en: str) -> CovenantSchemaError:
        return CovenantSchemaError(message(source, line, zh, en), source=source, line=line)

    if node is None or not isinstance(data, dict):  # an empty document has no node and no data
        raise fail(None, "YAML 顶层应是键值表（village、clauses…）", "top level must be a mapping")
    keys = {k.value: v for k, v in node.value}  # key → value node, for line numbers
    for key in data:
        if key not in _YAML_KEYS:
            raise fail(
                keys[key].start_mark.line + 1 if key in keys else None,
                f"未知的键 {key!r}（可用：{'、'.join(_YAML_KEYS)}）",
                f"unknown key {key!r} (allowed: {', '.join(_YAML_KEYS)})",
            )

    def string(value: Any, line: int | None, what: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise fail(line, f"{what} 应是文字", f"{what} must be text")
        return tidy(str(value).split("\n")) or None

    def heading(value: Any, line: int | None, what: str) -> str | None:
        return squash(str(value)) if string(value, line, what) else None

    for key in ("village", "title", "preamble", "dong_note", "note"):
        string(data.get(key), keys[key].start_mark.line + 1 if key in keys else None, key)
    items = data.get("clauses")
    if not isinstance(items, list) or not items:
        raise fail(
            keys["clauses"].start_mark.line + 1 if "clauses" in keys else None,
            "缺少 clauses 列表，或列表为空",
            "missing or empty `clauses:` list",
        )
    clauses = []
    for i, (item, item_node) in enumerate(zip(items, keys["clauses"].value, strict=True)):
        line = item_node.start_mark.line + 1
        where_zh, where_en = f"clauses[{i}]（第{i + 1}项）", f"clauses[{i}] (item {i + 1})"
        if not isinstance(item, dict):
            raise fail(line, f"{where_zh} 应是键值表", f"{where_en} must be a mapping")
        for key in item:
            if key not in _YAML_CLAUSE_KEYS:
                raise fail(
                    line,
                    f"{where_zh} 有未知的键 {key!r}（可用：{'、'.join(_YAML_CLAUSE_KEYS)}）",
                    f"{where_en} has unknown key {key!r} (allowed: {', '.join(_YAML_CLAUSE_KEYS)})",
                )
        number = item.get("number", i + 1)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise fail(
                line,
                f"{where_zh} 的 number 应是正整数",
                f"{where_en}: number must be a positive integer",
            )
        check_number_size(number, str(number), source, line)
        zh = string(item.get("zh"), line, f"{where_zh} zh")
        if not zh:
            raise fail(
                line, f"{where_zh} 缺少 zh（中文条文）", f"{where_en} has no `zh` (Chinese text)"
            )
        section = heading(item.get("section"), line, f"{where_zh} section")
        chapter = heading(item.get("chapter"), line, f"{where_zh} chapter")
        topic = string(item.get("topic"), line, f"{where_zh} topic")
        if topic is not None and topic not in TOPICS:
            raise fail(
                line,
                f"{where_zh} 的 topic {topic!r} 不在主题表中（{'、'.join(TOPICS)}）",
                f"{where_en}: unknown topic {topic!r} (one of {', '.join(TOPICS)})",
            )
        # An absent penalty is guessed from the text; an explicit empty one means none.
        penalty = (
            string(item["penalty"], line, f"{where_zh} penalty")
            if "penalty" in item
            else penalty_of(zh)
        )
        clauses.append(
            ParsedClause(
                number=number,
                label=heading(item.get("label"), line, f"{where_zh} label")
                or f"第{cn2an.an2cn(number)}条",
                chapter=chapter,
                section=section,
                text_zh=zh,
                text_dong=string(item.get("dong"), line, f"{where_zh} dong"),
                penalty=penalty,
                topic=topic or guess_topic(zh, section, chapter=chapter),
                line=line,
            )
        )
    title = heading(data.get("title"), None, "title")
    return ParsedCovenant(
        title=title,
        village=heading(data.get("village"), None, "village") or village_of(title),
        preamble=paragraphs(str(data.get("preamble") or "")),
        clauses=tuple(clauses),
        encoding="",
        format="yaml",
        warnings=tuple(check_numbers(clauses, source, repeats_are_errors=True)),
        dong_note=string(data.get("dong_note"), None, "dong_note") or "",
    )
