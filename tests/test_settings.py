"""Settings: declared once, validated, and every one documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from library.settings import SETTINGS, SettingsError, load_config

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_setting_is_documented(setting):
    assert f"`{setting.env}`" in README.read_text(encoding="utf-8")


def test_defaults_follow_home():
    config = load_config({"HOME": "/tmp/h"})
    assert config.home == Path("/tmp/h/.local/share/kuanyue")
    assert config.database_url_resolved == "sqlite:////tmp/h/.local/share/kuanyue/kuanyue.db"
    assert config.media_dir == config.home / "media"


def test_environment_overrides():
    config = load_config(
        {"KUANYUE_HOME": "/srv/k", "KUANYUE_WORKERS": "3", "KUANYUE_ENGINE": "gtts"}
    )
    assert (config.home, config.workers, config.engine) == (Path("/srv/k"), 3, "gtts")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"KUANYUE_ENGINE": "festival"}, "espeak, gtts, piper", id="unknown-engine"),
        pytest.param({"KUANYUE_WORKERS": "0"}, "KUANYUE_WORKERS", id="zero-workers"),
        pytest.param({"KUANYUE_PORT": "http"}, "KUANYUE_PORT", id="port-not-number"),
    ],
)
def test_invalid_values_say_which_and_why(env, message):
    with pytest.raises(SettingsError, match=message):
        load_config({"HOME": "/tmp/h", **env})


def test_program_paths_reach_the_pipeline_as_values(tmp_path):
    """KUANYUE_FFMPEG and friends become a Tools value; the pipeline reads no environment."""
    from media_pipeline.errors import ToolMissing
    from media_pipeline.recordings.probe import probe

    config = load_config(
        {"HOME": str(tmp_path), "KUANYUE_FFPROBE": "/nonexistent/ffprobe", "KUANYUE_FFMPEG": "ff"}
    )
    assert (config.tools.ffmpeg_program, config.tools.espeak_program) == ("ff", "espeak-ng")
    with pytest.raises(ToolMissing, match="ffprobe"):
        probe(tmp_path / "any.wav", config.tools)
