from __future__ import annotations

import pytest

from bot.config import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("VHBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.database_url == "sqlite:///vhbot.sqlite3"
    assert str(settings.key_file) == "vhbot.keys"
    assert settings.timezone == "Europe/Amsterdam"
    assert settings.locale == "nl"
    assert "Roermond" in settings.municipalities and len(settings.municipalities) == 7
    assert str(settings.inbox_dir) == "inbox"
    assert settings.retention_days == 730
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8080)
    assert settings.public_url == "http://127.0.0.1:8080"


def test_web_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VHBOT_PUBLIC_URL", "https://vhbot.example.org/")
    monkeypatch.setenv("VHBOT_WEB_HOST", "0.0.0.0")  # noqa: S104 - a value read, not bound
    monkeypatch.setenv("VHBOT_WEB_PORT", "8443")
    settings = load_settings()
    assert settings.public_url == "https://vhbot.example.org"
    assert (settings.web_host, settings.web_port) == ("0.0.0.0", 8443)  # noqa: S104


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    Path(".env").write_text("VHBOT_PARTNER_CHAT_ID=-10042\nVHBOT_LOCALE=en\n", encoding="utf-8")
    monkeypatch.setenv("VHBOT_MUNICIPALITIES", "Weert, Roermond")
    monkeypatch.setenv("VHBOT_DATABASE_URL", "postgresql://postgres@127.0.0.1/x")
    settings = load_settings()
    assert settings.partner_chat_id == -100_42
    assert settings.locale == "en"
    assert settings.municipalities == ("Weert", "Roermond")
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.is_region_municipality("ROERMOND") == "Roermond"
    assert settings.is_region_municipality("Echt-Susteren") is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VHBOT_TIMEZONE", "Mars/Olympus"),
        ("VHBOT_LOCALE", "de"),
        ("VHBOT_PARTNER_CHAT_ID", "group"),
        ("VHBOT_DATABASE_URL", "mysql://x"),
        ("VHBOT_RETENTION_DAYS", "0"),
        ("VHBOT_TELEGRAM_API_URL", "api.telegram.org"),
        ("VHBOT_PUBLIC_URL", "vhbot.example.org"),
        ("VHBOT_WEB_HOST", " "),
        ("VHBOT_WEB_HOST", "http://localhost"),
        ("VHBOT_WEB_PORT", "0"),
        ("VHBOT_WEB_PORT", "70000"),
        ("VHBOT_WEB_PORT", "web"),
    ],
)
def test_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"^{variable}: ") as raised:
        load_settings()
    assert "\n" not in str(raised.value)


def test_missing_telegram_settings_are_named() -> None:
    with pytest.raises(SettingsError, match="VHBOT_TELEGRAM_TOKEN"):
        Settings(_env_file=None).require_telegram()  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="VHBOT_PARTNER_CHAT_ID"):
        Settings(_env_file=None, telegram_token="1:x").require_telegram()  # type: ignore[call-arg]
