from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging


def test_token_is_redacted_and_httpx_is_silenced() -> None:
    stream = io.StringIO()
    token = "123456:SECRET-TOKEN"
    configure_logging("INFO", secrets=[token], stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://x/bot%s/getMe", token)
    logging.getLogger("telegram.ext").warning("failed calling https://x/bot%s/getUpdates", token)
    try:
        raise RuntimeError(f"boom at /bot{token}/sendMessage")
    except RuntimeError:
        logging.getLogger("vhbot").exception("handler.error")
    output = stream.getvalue()
    assert token not in output
    lines = [json.loads(line) for line in output.splitlines()]
    # Other libraries' records keep their wording, never their values (a payload, a token).
    assert lines[0]["event"] == "failed calling https://x/bot%s/getUpdates [values left out]"
    assert len(lines) == 2
    assert all({"ts", "level", "logger", "event"} <= set(line) for line in lines)


def test_extra_fields_become_keys() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    logging.getLogger("vhbot").info("bot.started", extra={"username": "vhbot_bot"})
    line = json.loads(stream.getvalue())
    assert line["event"] == "bot.started" and line["username"] == "vhbot_bot"


def test_exception_text_never_reaches_the_log() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        raise ValueError("Jansen, geboren 01-02-1980")
    except ValueError:
        logging.getLogger("vhbot").exception("import.failed")
    line = json.loads(stream.getvalue())
    assert line["error"] == "ValueError"
    assert line["error_at"].startswith("test_logs.py:test_exception_text_never_reaches_the_log:")
    assert "Jansen" not in stream.getvalue()
    assert "1980" not in stream.getvalue()
