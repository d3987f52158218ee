"""Clip backgrounds as one raw `gbrp` frame: the generated indigo pattern, or a photo.

The pattern (the default) is computed at quarter size and scaled up by ffmpeg. A photo chosen
by the cultural worker is cover-fitted to a frame PAN larger than the video, softened and
darkened towards indigo so that near-white and amber type stays legible on any picture;
the video graph crops a moving window out of it at each change (video._pictures), so the
photo drifts slowly without making every frame different. A video loop gives one still.
`check_background` says whether a file chosen as a background will render.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .errors import MediaError, PipelineError
from .recordings.probe import media_url
from .tools import DEFAULT_TOOLS, Tools

# Dong indigo cloth: deep blue-violet, lighter at the top, with a faint woven diamond lattice.
# (base, rise towards the top, lattice) per channel, in 8-bit RGB.
_BACKGROUND = {"r": (20, 14, 4), "g": (24, 16, 4), "b": (50, 30, 7)}
# A photo background is this much larger than the frame: the room its window pans across
# over the clip (8 % of a 1280 px frame is 102 px: a few pixels a second, a slow drift).
PAN = 1.08
# A photo keeps this share of its brightness, the rest is indigo: over a white sky, white
# type then keeps a contrast ratio above 6:1 and amber above 4.5:1 (WCAG AA).
_PHOTO_KEEP = 0.28
_INDIGO = np.array([16, 20, 46], dtype=np.float32)
NO_PICTURE = "没有画面（是音频文件？） / has no picture (an audio file?)"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


def background_frame(size: tuple[int, int]) -> bytes:
    """The background at quarter size as one raw `gbrp` frame (planes G, B, R).

    Gradient and lattice are computed per pixel of the quarter-size frame; scaled up
    (bicubic) the lattice lines come out soft, like woven threads.
    """
    w, h = size[0] // 4, size[1] // 4
    y, x = np.mgrid[0:h, 0:w]
    lattice = ((x + y) % 12 == 6).astype(np.int32) + ((x - y + 1200) % 12 == 6)
    rise = 1 - y / h
    planes = {
        name: np.floor(base + top * rise + line * lattice)
        for name, (base, top, line) in _BACKGROUND.items()
    }
    return np.stack([planes["g"], planes["b"], planes["r"]]).astype(np.uint8).tobytes()


def pan_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size of a photo background for a `size` video: PAN larger, even."""
    return (round(size[0] * PAN / 2) * 2, round(size[1] * PAN / 2) * 2)


def photo_frame(photo: Path, size: tuple[int, int]) -> bytes:
    """`photo` as a `gbrp` frame of pan_size(size): cover-fitted, softened, darkened."""
    from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

    target = pan_size(size)
    try:
        with Image.open(photo) as image:
            # JPEG decodes at a reduced scale when the photo is much larger: far quicker.
            image.draft("RGB", target)
            rgb = ImageOps.fit(image.convert("RGB"), target, Image.Resampling.BICUBIC)
    except (OSError, UnidentifiedImageError) as exc:
        raise PipelineError(
            f"背景图片无法读取：{photo} / cannot read background image {photo}: {exc}"
        ) from exc
    # Softened: fine detail behind type is what makes it hard to read.
    rgb = rgb.filter(ImageFilter.GaussianBlur(radius=max(1.0, target[1] / 360)))
    pixels = np.asarray(rgb, dtype=np.float32)
    dark = pixels * _PHOTO_KEEP + _INDIGO * (1 - _PHOTO_KEEP)
    out = np.clip(dark, 0, 255).astype(np.uint8)
    return np.stack([out[..., 1], out[..., 2], out[..., 0]]).tobytes()


def is_photo(path: Path | None) -> bool:
    """Whether `path` names a still image to use as the background."""
    return path is not None and Path(path).suffix.lower() in IMAGE_SUFFIXES


def background_still(background: Path, tmp: Path, tools: Tools = DEFAULT_TOOLS) -> Path:
    """The background as a still image: a photo itself, or a frame from a video loop.

    A moving background would make every frame different (each encoded, each drawn on by
    libass: ~6× real time rather than 40×), so a video loop gives one still, from 1 s in.
    """
    if not Path(background).is_file():
        raise PipelineError(f"找不到背景：{background} / background not found: {background}")
    if is_photo(background):
        return Path(background)
    still = tmp / "background-still.png"
    source = media_url(background)  # a name like "-x.mp4" or "a:b.mp4" is taken literally
    tools.ffmpeg("-v", "error", "-ss", "1", "-i", source, "-frames:v", "1", str(still))
    if not still.is_file():  # a loop shorter than 1 s
        tools.ffmpeg("-v", "error", "-i", source, "-frames:v", "1", str(still))
    return still


def check_background(path: Path, tools: Tools = DEFAULT_TOOLS) -> str:
    """ "image" or "video" when `path` will render as a background; MediaError otherwise.

    libav's probe names what the file is (not a regular file, empty, not media); then the
    still the render would use is made, at a small size, so a file that probes but does
    not decode (a truncated JPEG, an audio file) is refused now rather than at render time.
    """
    from .recordings.libav import probe_media  # PyAV: loaded only when a background is set

    info = probe_media(path, stills=True)
    if not info.is_video:
        raise MediaError(path, "not-media", NO_PICTURE)
    with tempfile.TemporaryDirectory(prefix="kuanyue-background-") as tmp:
        try:
            photo_frame(background_still(path, Path(tmp), tools), (64, 36))
        except PipelineError as exc:
            raise MediaError(path, "corrupt", str(exc).splitlines()[0]) from exc
    # A picture has no duration (or one frame's); a loop lasts.
    return "video" if info.duration_s > 0.1 and not is_photo(path) else "image"
