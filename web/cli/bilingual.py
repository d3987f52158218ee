"""Click's own words in Chinese and English: its errors, usage lines and help headings.

The rest of the CLI writes its messages bilingual where it writes them ("中文 / English", no
gettext: the Babel catalogue in web/translations serves the site's pages only). Click's
messages are English, made inside click from its templates, so this module keeps a small
catalogue of those templates (`CLICK_MESSAGES`, click 8.1) with their Chinese, and the `main`
group (`BilingualGroup`) shows every error through it:

    用法 / Usage: kuanyue catalogue export [OPTIONS]
    查看帮助 / Try 'kuanyue catalogue export -h' for help.

    错误 / Error: '--format' 的值无效：'xml' 不是 'csv', 'json' 之一 / Invalid value for …

An error is one line: the bilingual label, then the Chinese, then click's English unchanged
(so "does not exist" and the like stay searchable). A message no template matches is shown
as it is: the CLI's own messages are already "中文 / English". Help pages get the same
treatment through the formatter (`BilingualFormatter`): "用法 / Usage", "选项 / Options",
"[默认 / default: …]". Click's gettext hook is left alone on purpose: it follows the
machine's locale and translates into one language, and we want both, everywhere.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

ERROR_LABEL = "错误 / Error"
ABORTED = "已中止 / Aborted!"
USAGE_PREFIX = "用法 / Usage: "

# Click's message templates (click 8.1; see click/exceptions.py, parser.py, core.py,
# types.py) → their Chinese. Fields are named here, not by click: `message` is translated in
# turn (it is itself a message), `kind` through `WORDS`, the others are kept as they are.
CLICK_MESSAGES: dict[str, str] = {
    "Invalid value for {param}: {message}": "{param} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Missing argument {param}.": "缺少参数 {param}",
    "Missing argument {param}. {message}": "缺少参数 {param}。{message}",
    "Missing option {param}.": "缺少选项 {param}",
    "Missing option {param}. {message}": "缺少选项 {param}。{message}",
    "Missing parameter {param}.": "缺少参数 {param}",
    "Missing argument.": "缺少参数",
    "Missing option.": "缺少选项",
    "Missing command.": "缺少子命令",
    "No such command {name}.": "没有这个子命令：{name}",
    "No such option: {name}": "没有这个选项：{name}",
    "No such option: {name} Did you mean {other}?": "没有这个选项：{name}，是不是 {other}？",
    "No such option: {name} (Possible options: {others})": "没有这个选项：{name}（可能是：{others}）",
    "Got unexpected extra argument ({args})": "多出了参数（{args}）",
    "Got unexpected extra arguments ({args})": "多出了参数（{args}）",
    "Option {name} requires an argument.": "选项 {name} 后面要跟一个值",
    "Option {name} requires {n} arguments.": "选项 {name} 后面要跟 {n} 个值",
    "Option {name} does not take a value.": "选项 {name} 不带值",
    "Argument {name} takes {n} values.": "参数 {name} 要 {n} 个值",
    "Takes {n} values but 1 was given.": "要 {n} 个值，只给了 1 个",
    "Takes {n} values but {m} were given.": "要 {n} 个值，给了 {m} 个",
    "{n} values are required, but {m} was given.": "要 {n} 个值，给了 {m} 个",
    "{n} values are required, but {m} were given.": "要 {n} 个值，给了 {m} 个",
    "Value must be an iterable.": "值必须是一组",
    "Choose from:\n\t{choices}": "可选：{choices}",
    "{value} is not {choice}.": "{value} 不是 {choice}",
    "{value} is not one of {choices}.": "{value} 不是 {choices} 之一",
    "{value} is not a valid {kind}.": "{value} 不是有效的{kind}",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内",
    "{value} does not match the format {format}.": "{value} 不符合格式 {format}",
    "{value} does not match the formats {format}.": "{value} 不符合格式 {format}",
    "{kind} {path} does not exist.": "{kind} {path} 不存在",
    "{kind} {path} is a file.": "{kind} {path} 是文件，这里要文件夹",
    "{kind} {path} is a directory.": "{kind} {path} 是文件夹，这里要文件",
    "{kind} {path} is not readable.": "{kind} {path} 不可读",
    "{kind} {path} is not writable.": "{kind} {path} 不可写",
    "{kind} {path} is not executable.": "{kind} {path} 不可执行",
    "Could not open file {path}: {reason}": "无法打开文件 {path}：{reason}",
}

# Words click puts into its templates (`kind` fields) → Chinese.
WORDS = {
    "integer": "整数",
    "integer range": "整数",
    "float": "数字",
    "float range": "数字",
    "boolean": "是非值（true/false）",
    "UUID": "UUID",
    "File": "文件",
    "Directory": "文件夹",
    "Path": "路径",
}

# Help pages: section headings and the help click writes itself.
HEADINGS = {"Options": "选项 / Options", "Commands": "命令 / Commands"}
HELP_TEXTS = {"Show this message and exit.": "显示本帮助并退出 / show this message and exit."}
EXTRAS = {
    "default": "默认 / default",
    "env var": "环境变量 / env var",
    "required": "必填 / required",
}


def _pattern(template: str) -> re.Pattern[str]:
    """A template's literal text escaped, its {fields} as named groups (across lines too)."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


# Longest first, so "No such option: x Did you mean y?" wins over "No such option: {name}".
_CATALOGUE = [
    (_pattern(en), zh) for en, zh in sorted(CLICK_MESSAGES.items(), key=lambda kv: -len(kv[0]))
]


def _split(message: str) -> tuple[str, str]:
    """A message as (Chinese, English): ours are "中文 / English"; others are said once."""
    zh, sep, en = message.partition(" / ")
    return (zh, en) if sep else (message, message)


def translate(message: str) -> tuple[str, str] | None:
    """One of click's messages as (Chinese, English), or None when no template matches it.

    An inner message that is already "中文 / English" (a library error inside "Invalid value
    for '--as': …") gives each language its own half, so neither is said twice.
    """
    for pattern, zh in _CATALOGUE:
        if (match := pattern.fullmatch(message)) is None:
            continue
        fields = match.groupdict()
        en = message
        if "message" in fields:
            inner_zh, inner_en = translate(fields["message"]) or _split(fields["message"])
            start, end = match.span("message")
            en = message[:start] + inner_en + message[end:]
            fields["message"] = inner_zh
        if "kind" in fields:
            fields["kind"] = WORDS.get(fields["kind"], fields["kind"])
        return zh.format(**fields), en
    return None


def bilingual(message: str) -> str:
    """One of click's messages as "中文 / English"; any other message as it is."""
    found = translate(message)
    return f"{found[0]} / {found[1]}" if found else message


def error_line(exc: click.ClickException) -> str:
    """The one line an error is shown as: the label, then the message in Chinese and English.

    Only click's own errors (usage errors, file errors) are looked up; a plain
    `ClickException` is the CLI's own, already bilingual, message.
    """
    message = exc.format_message()
    if isinstance(exc, click.UsageError | click.FileError):
        message = bilingual(message)
    # Click lists choices one per line ("Choose from:\n\tadd,\n\tlist"): kept on one line.
    return f"{ERROR_LABEL}: " + re.sub(r"\s*\n\s*", " ", message)


def show_error(exc: click.ClickException) -> None:
    """Write an error as click would (usage and a help hint for usage errors), bilingual."""
    ctx = getattr(exc, "ctx", None)
    color = ctx.color if ctx is not None else None
    if isinstance(exc, click.UsageError) and ctx is not None:
        lines = [ctx.get_usage()]
        if ctx.command.get_help_option(ctx) is not None:
            hint = f"{ctx.command_path} {ctx.help_option_names[0]}"
            lines.append(f"查看帮助 / Try '{hint}' for help.")
        click.echo("\n".join(lines) + "\n", err=True, color=color)
    click.echo(error_line(exc), err=True, color=color)


def _extras(text: str) -> str:
    """Click's "[default: x; required]" after an option's help, its words in both languages."""
    match = re.search(r"(?:^|  )\[([^\[\]]*)\]$", text)
    if match is None:
        return text
    items = []
    for item in match[1].split("; "):
        word, sep, rest = item.partition(": ")
        items.append(f"{EXTRAS[word]}{sep}{rest}" if word in EXTRAS else item)
    start, end = match.span(1)
    return text[:start] + "; ".join(items) + text[end:]


class BilingualFormatter(click.HelpFormatter):
    """Help pages with click's own words in Chinese and English."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        """The usage line, "用法 / Usage: …"."""
        super().write_usage(prog, args, USAGE_PREFIX if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        """A section heading, "选项 / Options"."""
        super().write_heading(HEADINGS.get(heading, heading))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        """The option and command lists, with click's help texts and extras translated."""
        rows = [(term, _extras(HELP_TEXTS.get(text, text))) for term, text in rows]
        super().write_dl(rows, col_max, col_spacing)


class BilingualContext(click.Context):
    """A context whose help pages and usage lines use `BilingualFormatter`."""

    formatter_class = BilingualFormatter


def _adopt(commands: Iterable[click.Command]) -> None:
    """Give these commands, and every command below them, the bilingual context."""
    for command in commands:
        command.context_class = BilingualContext
        if isinstance(command, click.Group):
            _adopt(command.commands.values())


class BilingualGroup(click.Group):
    """The `kuanyue` group: click's messages, usage and help in Chinese and English.

    Commands are adopted when looked up, so a command module added with one
    `main.add_command(…)` line needs nothing more.
    """

    context_class = BilingualContext

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand, with the bilingual context all the way down."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _adopt([command])
        return command

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run as click does, but show errors bilingual (`show_error`) and exit with their code."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            # Click's standalone mode would print the error itself; not standalone, it returns
            # the exit code of `ctx.exit` (help, a clean end) or the command's None.
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(ABORTED, err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
