"""Fixtures for the fake Bot API server's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, TelegramObject

from bot.sandbox.fake_telegram import FakeTelegram, ManualMonotonic

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Any warning while PTB parses the fake's answers means a shape is off: make it an error.

    Except the deprecation PTB 22 itself raises whenever it builds a RetryAfter.
    """
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.filterwarnings("error"))
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
                )
            )


@pytest.fixture
def monotonic() -> ManualMonotonic:
    return ManualMonotonic()


@pytest.fixture
async def server(monotonic: ManualMonotonic) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(monotonic=monotonic) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def http(server: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.api_root) as client:
        yield client


def assert_fully_parsed(obj: Any, path: str = "result") -> None:
    """Every field the fake sent is one PTB knows: no leftovers in ``api_kwargs``, anywhere."""
    if isinstance(obj, TelegramObject):
        assert not obj.api_kwargs, f"{path}: PTB does not know {dict(obj.api_kwargs)}"
        for name, value in obj._get_attrs().items():
            assert_fully_parsed(value, f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for index, item in enumerate(obj):
            assert_fully_parsed(item, f"{path}[{index}]")
