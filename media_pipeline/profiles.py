"""Output profiles: how a mastered narration is shaped and encoded for each kind of player.

Every profile masters to a loudness target with true peak ≤ −1 dBTP (see loudness.py):
- `loudspeaker`: village horn speakers. Mono MP3 (every IP broadcast terminal plays it),
  44.1 kHz, 64 kb/s CBR. Band-limited to ≈150 Hz–7 kHz — horns reproduce nothing below
  ~150 Hz, and energy there only eats amplifier headroom and booms off wooden walls — with a
  6th-order Butterworth high-pass (asubcut) and an 8th-order Butterworth low-pass (four
  biquads with Butterworth Q values), then gentle RMS compression (2:1 above −16 dBFS, i.e.
  on louder syllables) so quiet syllables carry outdoors. −16 LUFS.
- `web`: phones on slow links. Ogg Opus, 48 kHz mono, 40 kb/s (transparent for speech).
  −16 LUFS. Opus needs iOS 17+ in Safari; older iPhones would need an AAC profile.
- `archive`: lossless FLAC, 48 kHz mono 16-bit, no shaping, also at −16 LUFS. Chosen over
  EBU R128's −23 so every stored copy of a clause plays at one house level (a worker who
  downloads the archive hears what the phone and the horn play); keeping unlimited
  dynamics would not buy anything, because the narration itself can be re-assembled
  bit-for-bit from the synthesis cache and re-mastered to any future target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .loudness import Loudness, master
from .master_many import Target
from .tools import DEFAULT_TOOLS, Tools

# An 8th-order Butterworth low-pass as four biquads: Q = 1 / (2 cos θ) for its pole pairs.
_BUTTERWORTH_8_Q = (0.5098, 0.6013, 0.9000, 2.5629)


@dataclass(frozen=True)
class Mastered:
    """A mastered output: its path, measured loudness and duration in seconds."""

    path: Path
    loudness: Loudness
    duration_s: float


@dataclass(frozen=True)
class AudioProfile:
    """How to shape, level and encode audio for one kind of player."""

    name: str
    extension: str
    mime: str
    target_lufs: float
    true_peak_dbtp: float
    channels: int
    sample_rate: int
    filters: tuple[str, ...]
    codec_args: tuple[str, ...]

    def apply(self, src_wav: Path, out: Path, tools: Tools = DEFAULT_TOOLS) -> Mastered:
        """Master `src_wav` into `out` (atomically, out of place) for this profile."""
        loudness, duration_s = master(
            src_wav,
            out,
            target_lufs=self.target_lufs,
            true_peak_dbtp=self.true_peak_dbtp,
            pre_filters=self.filters,
            codec_args=self.codec_args,
            sample_rate=self.sample_rate,
            channels=self.channels,
            tools=tools,
        )
        return Mastered(Path(out), loudness, duration_s)

    def target(self, out: Path) -> Target:
        """This profile as one of several outputs mastered together (master_many.py)."""
        return Target(
            Path(out),
            self.codec_args,
            self.sample_rate,
            self.channels,
            self.target_lufs,
            self.true_peak_dbtp,
            self.filters,
        )


PROFILES: dict[str, AudioProfile] = {
    "loudspeaker": AudioProfile(
        name="loudspeaker",
        extension="mp3",
        mime="audio/mpeg",
        target_lufs=-16.0,
        true_peak_dbtp=-1.0,
        channels=1,
        sample_rate=44100,
        filters=(
            "asubcut=cutoff=150:order=6",
            *(f"lowpass=f=7000:width_type=q:width={q}" for q in _BUTTERWORTH_8_Q),
            "acompressor=threshold=-16dB:ratio=2:attack=5:release=120:knee=4:makeup=4dB",
        ),
        # CBR for players that seek by byte offset; LAME -q 7 is ~2× faster than the
        # default -q 5 and indistinguishable on band-limited speech at this rate.
        codec_args=("-c:a", "libmp3lame", "-b:a", "64k", "-compression_level", "7"),
    ),
    "web": AudioProfile(
        name="web",
        extension="opus",
        mime="audio/ogg",
        target_lufs=-16.0,
        true_peak_dbtp=-1.0,
        channels=1,
        sample_rate=48000,
        filters=(),
        # Complexity 5 encodes speech ~3× faster than the default 10 at no audible cost.
        codec_args=("-c:a", "libopus", "-b:a", "40k", "-compression_level", "5"),
    ),
    "archive": AudioProfile(
        name="archive",
        extension="flac",
        mime="audio/flac",
        target_lufs=-16.0,
        true_peak_dbtp=-1.0,
        channels=1,
        sample_rate=48000,
        filters=(),
        codec_args=("-c:a", "flac", "-sample_fmt", "s16"),
    ),
}
