"""Read a covenant file's bytes into text: encoding detection and refusal of non-text files.

Order of trust: byte-order marks, then the NUL pattern of BOM-less UTF-16, then strict UTF-8,
then GB18030 against Big5 (scored by how common the decoded characters are), and only then
charset-normalizer, whose guesses on short Chinese texts are the least reliable.
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

import charset_normalizer

from media_pipeline.hanzi import to_simplified

from .errors import CovenantFileError
from .names import printable

# Text files larger than this are refused (KUANYUE_COVENANT_MAX_MB changes it for imports).
MAX_TEXT_BYTES = 2_000_000

# Magic numbers of files people rename to .txt by mistake (or export from the wrong menu).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP/DOCX/XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "DOC/XLS (OLE2)"),
    (b"{\\rtf", "RTF"),
    (b"\x1f\x8b", "GZIP"),
    (b"7z\xbc\xaf\x27\x1c", "7Z"),
    (b"Rar!", "RAR"),
    (b"\x7fELF", "ELF"),
    (b"RIFF", "RIFF (WAV/AVI/WEBP)"),
    (b"ID3", "MP3"),
    (b"OggS", "OGG"),
    (b"fLaC", "FLAC"),
)

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)


def _fail(path: Path, zh: str, en: str) -> CovenantFileError:
    return CovenantFileError(f"{printable(path)}: {zh} / {en}", source=printable(path))


def _magic(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[4:8] == b"ftyp":
        return "MP4/MOV"
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NULs fall (almost) only on one byte parity."""
    if len(data) < 4 or len(data) % 2:
        return None
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    pairs = len(data) // 2
    # Covenants always hold ASCII (newlines, digits, spaces), whose high byte is NUL, so
    # NULs crowd onto one parity; CJK such as 一 (U+4E00) adds a few on the other. A binary
    # file scatters them evenly, and read_text rejects control characters after decoding.
    if odd >= pairs * 0.02 and even * 3 <= odd:
        return "utf-16-le"
    if even >= pairs * 0.02 and odd * 3 <= even:
        return "utf-16-be"
    return None


def _common_ratio(text: str) -> float:
    """Share of Han characters that are among the 3,755 most common (GB2312 level 1)."""
    han = [c for c in to_simplified(text) if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return 0.0
    common = 0
    for c in han:
        try:
            b = c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 0xB0 <= b[0] <= 0xD7
    return common / len(han)


def _looks_binary(text: str) -> bool:
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f\v")
    return "\x00" in text or controls > max(2, len(text) // 100)


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), name
            except UnicodeDecodeError as exc:
                raise _fail(
                    path,
                    f"文件以 {name} 字节序标记开头，但第 {exc.start} 字节无法按该编码解码",
                    f"starts with a {name} byte-order mark but byte {exc.start} does not decode",
                ) from exc
    if utf16 := _utf16_without_bom(data):
        try:
            return data.decode(utf16), utf16
        except UnicodeDecodeError:
            pass  # Not UTF-16 after all; the NUL check below will call it binary.
    if b"\x00" in data:
        raise _fail(path, "这是二进制文件，不是文本", "this is a binary file, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates: list[tuple[float, str, str]] = []
    for codec in ("gb18030", "big5"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        candidates.append((_common_ratio(text), codec, text))
    if candidates:
        # GB18030 first on a tie: it is what Chinese Windows saves by default.
        ratio, codec, text = max(candidates, key=lambda c: c[0])
        if ratio >= 0.5:
            return text, codec
    best = charset_normalizer.from_bytes(data).best()
    if best is not None and _common_ratio(str(best)) >= 0.5:
        return str(best), best.encoding
    raise _fail(
        path,
        "无法识别文件编码（已尝试 UTF-8、UTF-16、GB18030/GBK、Big5），请另存为 UTF-8",
        "cannot decode the file (tried UTF-8, UTF-16, GB18030/GBK, Big5); save it as UTF-8",
    )


def read_text(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> tuple[str, str]:
    """Read a text file of unknown encoding; return (text with \\n newlines, encoding name).

    Only a regular file is read (a FIFO or a device would block or never end), and only up
    to `max_bytes`: a covenant, a lyric sheet or a manifest is far smaller.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise _fail(
                path,
                "这不是普通文件（可能是管道、设备或文件夹），请给出一个文本文件",
                "not a regular file (a pipe, a device or a folder?); give a text file",
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _fail(path, f"无法读取文件：{exc.strerror}", f"cannot read: {exc.strerror}") from exc
    if len(data) > max_bytes:
        mb = f"{max_bytes / 1_000_000:g}"
        raise _fail(
            path,
            f"文件超过 {mb} MB，不像是要导入的文本，请检查文件（村规民约的上限见 KUANYUE_COVENANT_MAX_MB）",
            f"larger than {mb} MB, more than any text to import; check the file"
            " (for covenants the limit is KUANYUE_COVENANT_MAX_MB)",
        )
    if not data.strip():
        raise _fail(path, "文件为空", "the file is empty")
    if kind := _magic(data):
        raise _fail(
            path,
            f"这是二进制文件（{kind}），不是文本；请另存为纯文本（.txt）、Markdown 或 YAML",
            f"this is a binary file ({kind}), not text; save it as plain text, Markdown or YAML",
        )
    text, encoding = _decode(path, data)
    text = text.lstrip("\ufeff")
    if _looks_binary(text):
        raise _fail(path, "这是二进制文件，不是文本", "this is a binary file, not text")
    if not text.strip():
        raise _fail(path, "文件为空", "the file is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding
