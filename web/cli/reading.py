"""`kuanyue read` and `kuanyue covenant say / says / unsay`: how a clause will be read aloud.

`read` shows, phrase by phrase, what the reader says (numbers written out, the covenant's
pronunciation list applied) and the tone-numbered pinyin espeak-ng is given, so a cultural
worker can check a clause before rendering it. `say`, `says` and `unsay` keep a covenant's
pronunciation list (word → pinyin or Hanzi), which every speech engine follows.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import State, friendly_errors
from .covenants import covenant

_STDIN = "-"


def _input_text(text: str | None, file: str | None) -> str:
    """The text to read: the argument, a file (any encoding the importer knows) or stdin."""
    from library.textfiles import read_text

    if text is not None and file is not None:
        raise click.UsageError("请只给出文字或 --file 之一 / give either TEXT or --file, not both")
    source = file if file is not None else text
    if source is None:
        raise click.UsageError(
            "请给出要朗读的文字、--file 文件，或用 - 从标准输入读取"
            " / give the TEXT to read, --file FILE, or - to read standard input"
        )
    if source == _STDIN:
        data = click.get_binary_stream("stdin").read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data.decode("gb18030", errors="replace")
    if file is not None:
        return read_text(Path(file))[0]
    return source


@click.command()
@click.argument("text", required=False)
@click.option(
    "--file",
    "-f",
    metavar="FILE",
    help="从文件读取（- 为标准输入）/ read the text from FILE (- for standard input)",
)
@click.option(
    "--covenant",
    "ref",
    metavar="ID",
    help="用这部村规民约的读音表 / apply this covenant's pronunciation list (slug or id)",
)
@click.pass_obj
@friendly_errors
def read(state: State, text: str | None, file: str | None, ref: str | None) -> None:
    """逐句显示朗读的文字和带声调的拼音，渲染前检查读音 / show, phrase by phrase, what is said and its pinyin, to check readings before rendering."""
    from library.covenants.pronunciations import read_text

    phrases = read_text(state.db if ref else None, _input_text(text, file), ref)
    if not phrases:
        click.echo("没有可朗读的文字 / nothing to read")
        return
    width = len(str(len(phrases)))
    for n, phrase in enumerate(phrases, 1):
        indent = " " * (width + 2)
        click.echo(f"{n:>{width}}. {phrase.display}")
        click.echo(f"{indent}读作 / said:   {phrase.spoken}")
        click.echo(f"{indent}拼音 / pinyin: {phrase.pinyin}")


@covenant.command("say")
@click.argument("ref")
@click.argument("word")
@click.argument("reading")
@click.pass_obj
@friendly_errors
def covenant_say(state: State, ref: str, word: str, reading: str) -> None:
    """规定一个词的读音（拼音带声调数字，或读作的汉字），各版本通用 / set how a word is said (pinyin with tone numbers, or Hanzi to say instead), kept across versions."""
    from library.covenants.pronunciations import set_pronunciation

    with state.db.session(write=True) as session:
        done = set_pronunciation(session, ref, word, reading)
        entry, keys = done.entry, done.clause_keys
        click.echo(
            f"{entry.word} → {entry.reading}（读作 {done.said}，拼音 {done.pinyin}）"
            f" / {entry.word} is said {done.pinyin}"
        )
        if keys:
            click.echo(
                f"当前版本有 {len(keys)} 条含此词，重新渲染时只重做这些条款：{', '.join(keys)}"
                f" / {len(keys)} clause(s) of the current version hold it; a render redoes only those"
            )
            click.echo(f"下一步 / next: kuanyue render --covenant {ref}")
        else:
            click.echo(
                "当前版本没有条款含此词（以后的版本会用到）"
                " / no clause of the current version holds it (later versions will use it)"
            )


@covenant.command("says")
@click.argument("ref")
@click.pass_obj
@friendly_errors
def covenant_says(state: State, ref: str) -> None:
    """列出这部村规民约的读音表 / list the covenant's pronunciation list."""
    from library.covenants.pronunciations import pronunciation_list

    with state.db.session() as session:
        entries = pronunciation_list(session, ref)
        if not entries:
            click.echo(
                f"读音表是空的 / the pronunciation list is empty:"
                f" kuanyue covenant say {ref} 词语 pin1 yin1"
            )
        for entry in entries:
            click.echo(f"{entry.word}\t{entry.reading}")


@covenant.command("unsay")
@click.argument("ref")
@click.argument("word")
@click.pass_obj
@friendly_errors
def covenant_unsay(state: State, ref: str, word: str) -> None:
    """从读音表删去一个词 / take a word off the covenant's pronunciation list."""
    from library.covenants.pronunciations import remove_pronunciation

    with state.db.session(write=True) as session:
        entry = remove_pronunciation(session, ref, word)
        click.echo(f"已删除 {entry.word}（{entry.reading}）/ removed {entry.word}")
