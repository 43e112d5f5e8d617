"""Fault mode: the fake fails the way Telegram does, and PTB sees each fault as Telegram's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.sandbox.fake_telegram import FakeTelegram, FakeUser, FloodLimits, ManualMonotonic


@pytest.fixture
async def server(monotonic: ManualMonotonic) -> AsyncIterator[FakeTelegram]:
    # Flood control has its own tests; here it must not get in the way of many calls.
    async with FakeTelegram(limits=FloodLimits.unlimited(), monotonic=monotonic) as fake:
        yield fake


@pytest.fixture
def anna(server: FakeTelegram) -> FakeUser:
    return server.add_user("Anna", started=True)


# --------------------------------------------------------------------------- fail_next


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
async def test_a_status_fault_answers_telegrams_error_and_does_nothing(
    bot: Bot, server: FakeTelegram, anna: FakeUser, status: int, description: str
) -> None:
    server.fail_next("sendMessage", status=status)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(anna.id, "hallo")
    assert type(caught.value) is NetworkError
    assert description in caught.value.message
    failed = server.calls("sendMessage")[-1]
    assert (failed.status, dict(failed.response)) == (
        status,
        {"ok": False, "error_code": status, "description": description},
    )
    assert server.sent == []

    await bot.send_message(anna.id, "hallo")  # one fault only
    assert [m.text for m in server.sent] == ["hallo"]


async def test_count_faults_in_a_row_then_the_method_works(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.fail_next("SENDMESSAGE", count=2, status=502)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(anna.id, "hallo")
    await bot.get_chat(anna.id)  # other methods are not affected
    await bot.send_message(anna.id, "hallo")
    assert [c.status for c in server.calls("sendMessage")] == [502, 502, 200]


async def test_dropped_before_the_call_nothing_is_done(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.fail_next("sendMessage", mode="drop_before")
    with pytest.raises(NetworkError):
        await bot.send_message(anna.id, "hallo")
    dropped = server.calls("sendMessage")[-1]
    assert (dropped.status, dict(dropped.response)) == (0, {})
    assert "connection dropped" in str(dropped)
    assert server.sent == [] and server.lost_responses == []

    await bot.send_message(anna.id, "opnieuw")  # the server answers on a new connection
    assert [m.text for m in server.sent] == ["opnieuw"]


async def test_dropped_after_the_call_the_message_exists_but_the_answer_is_lost(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.fail_next("sendMessage", mode="drop_after")
    with pytest.raises(NetworkError):
        await bot.send_message(anna.id, "hallo")
    [message] = server.sent
    assert message.text == "hallo"
    [lost] = server.lost_responses
    assert lost is server.requests[-1]
    assert lost.status == 0
    assert lost.response["result"]["message_id"] == message.message_id

    again = await bot.send_message(anna.id, "hallo")  # the retry is the duplicate
    assert again.message_id == message.message_id + 1
    assert len(server.lost_responses) == 1


async def test_a_dropped_answer_of_a_refused_call_is_not_a_lost_response(
    bot: Bot, server: FakeTelegram
) -> None:
    stranger = server.add_user("Kees")  # never started the bot: 403
    server.fail_next("sendMessage", mode="drop_after")
    with pytest.raises(NetworkError):
        await bot.send_message(stranger.id, "hallo")
    assert server.calls("sendMessage")[-1].response["error_code"] == 403
    assert server.sent == [] and server.lost_responses == []


def test_fault_settings_are_checked(server: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="mode"):
        server.fail_next("sendMessage", mode="explode")
    with pytest.raises(ValueError, match="error status"):
        server.fail_next("sendMessage", status=200)
    with pytest.raises(ValueError, match="probability"):
        server.fault_rate(1.5)
    with pytest.raises(ValueError, match="at least one mode"):
        server.fault_rate(0.5, modes=())
    with pytest.raises(ValueError, match="negative"):
        server.delay(-1)


# --------------------------------------------------------------------------- fault_rate


async def _outcomes(server: FakeTelegram, bot: Bot, chat_id: int, calls: int) -> list[int]:
    for number in range(calls):
        with contextlib.suppress(NetworkError):
            await bot.send_message(chat_id, str(number))
    return [call.status for call in server.calls("sendMessage")]


async def test_a_fault_rate_is_deterministic_for_a_seed(monotonic: ManualMonotonic) -> None:
    runs = []
    for seed in (7, 7, 8):
        async with FakeTelegram(limits=FloodLimits.unlimited(), monotonic=monotonic) as server:
            anna = server.add_user("Anna", started=True)
            async with Bot(server.token, base_url=server.base_url) as bot:
                server.fault_rate(0.5, seed=seed)
                runs.append(await _outcomes(server, bot, anna.id, 30))
            dropped_after = len(server.lost_responses)
            assert len(server.sent) == runs[-1].count(200) + dropped_after
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 0 < runs[0].count(200) < 30
    # all kinds of fault occur: 500, 502 and dropped connections
    assert {500, 502, 0} <= set(runs[0])


async def test_a_fault_rate_spares_getupdates_and_other_methods_and_ends_at_zero(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.fault_rate(1.0)
    for _ in range(3):
        await bot.get_updates(timeout=0)
    with pytest.raises(NetworkError):
        await bot.get_chat(anna.id)

    server.fault_rate(1.0, methods=["sendMessage"], modes=["status"])
    await bot.get_chat(anna.id)
    with pytest.raises(NetworkError):
        await bot.send_message(anna.id, "hallo")
    assert server.calls("sendMessage")[-1].status in {500, 502}

    server.fault_rate(0)
    await bot.send_message(anna.id, "hallo")
    assert [m.text for m in server.sent] == ["hallo"]


async def test_queued_faults_come_before_the_rate(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.fault_rate(1.0, modes=["drop_before"])
    server.fail_next("sendMessage", status=503)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(anna.id, "hallo")
    assert [c.status for c in server.calls("sendMessage")] == [503, 0]


# --------------------------------------------------------------------------- delay


async def test_a_delay_holds_the_answer_and_ends_at_zero(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.delay(0.1)
    started = time.monotonic()
    await bot.send_message(anna.id, "hallo")
    assert time.monotonic() - started >= 0.1
    started = time.monotonic()
    await bot.get_updates(timeout=0)  # getUpdates is not held by a delay for all
    assert time.monotonic() - started < 0.1

    server.delay(0)
    server.delay(0.1, method="getChat")
    started = time.monotonic()
    await bot.send_message(anna.id, "hallo")
    assert time.monotonic() - started < 0.1
    started = time.monotonic()
    await bot.get_chat(anna.id)
    assert time.monotonic() - started >= 0.1


async def test_a_call_given_up_during_a_delay_is_not_carried_out(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    server.delay(0.2, method="sendMessage")
    with pytest.raises(TimedOut):
        await bot.send_message(anna.id, "hallo", read_timeout=0.05)
    await asyncio.sleep(0.25)  # past the delay: the held call would have been done by now
    assert server.sent == []


# --------------------------------------------------------------------------- throttle


async def test_a_throttled_chat_gets_429_with_the_seconds_left(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic, anna: FakeUser
) -> None:
    group = server.add_group("Partners")
    server.throttle(20, chat_id=group.id)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "melding")
    assert caught.value.retry_after == 20
    assert dict(server.calls("sendMessage")[-1].response) == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 20",
        "parameters": {"retry_after": 20},
    }
    await bot.send_message(anna.id, "een ander gesprek gaat door")

    monotonic.advance(5.5)
    with pytest.raises(RetryAfter) as caught:
        await bot.get_chat(group.id)  # every method to that chat
    assert caught.value.retry_after == 15  # 14.5 s left, rounded up
    monotonic.advance(14.4999)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "melding")
    assert caught.value.retry_after == 1  # never 0

    monotonic.advance(0.0001)
    await bot.send_message(group.id, "melding")
    assert [m.text for m in server.messages_to(group.id)] == ["melding"]


async def test_throttle_by_method_by_both_and_for_all(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic, anna: FakeUser
) -> None:
    kees = server.add_user("Kees", started=True)
    first = await bot.send_message(anna.id, "1")

    server.throttle(3, method="editMessageText")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("2", anna.id, first.message_id)
    await bot.send_message(anna.id, "verzenden mag")
    server.throttle(0, method="editMessageText")  # ends it
    await bot.edit_message_text("2", anna.id, first.message_id)

    server.throttle(3, chat_id=anna.id, method="sendMessage")
    with pytest.raises(RetryAfter):
        await bot.send_message(anna.id, "nog een")
    await bot.edit_message_text("3", anna.id, first.message_id)
    await bot.send_message(kees.id, "Kees wel")
    monotonic.advance(3)

    server.throttle(2)
    with pytest.raises(RetryAfter):
        await bot.get_me()
    with pytest.raises(RetryAfter):
        await bot.send_message(kees.id, "ook Kees niet")
    await bot.get_updates(timeout=0)
    statuses = [c.status for c in server.requests if c.method != "getUpdates"]
    assert statuses.count(429) == 4


# --------------------------------------------------------------------------- forbid


async def test_a_forbidden_chat_answers_403_until_allowed(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    group = server.add_group("Partners")
    old_group = server.add_group("Oud", chat_type="group")
    server.forbid(anna.id)
    server.forbid(group.id)
    server.forbid(old_group.id)
    for chat_id, description in [
        (anna.id, "Forbidden: bot was blocked by the user"),
        (group.id, "Forbidden: bot was kicked from the supergroup chat"),
        (old_group.id, "Forbidden: bot was kicked from the group chat"),
    ]:
        with pytest.raises(Forbidden) as caught:
            await bot.send_message(chat_id, "hallo")
        assert caught.value.message == description
    with pytest.raises(Forbidden):
        await bot.get_chat(group.id)

    server.forbid(group.id, "Forbidden: bot is not a member of the supergroup chat")
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(group.id, "hallo")
    assert server.sent == []
    assert [c.status for c in server.calls("sendMessage")] == [403] * 4

    server.allow(anna.id)
    server.allow(group.id)
    await bot.send_message(anna.id, "weer bereikbaar")
    await bot.send_message(group.id, "weer bereikbaar")
    assert len(server.sent) == 2


# --------------------------------------------------------------------------- order


async def test_faults_apply_in_order_outage_fault_forbid_throttle_flood(
    monotonic: ManualMonotonic,
) -> None:
    limits = FloodLimits(private_per_second=1, private_burst=1)
    async with FakeTelegram(limits=limits, monotonic=monotonic) as server:
        anna = server.add_user("Anna", started=True)
        async with Bot(server.token, base_url=server.base_url) as bot:
            await bot.send_message(anna.id, "de emmer is nu leeg")
            server.throttle(10, chat_id=anna.id)
            server.forbid(anna.id)
            server.fail_next("sendMessage", status=500)
            await server.go_down("status")
            attempts = []

            async def attempt() -> None:
                with pytest.raises((NetworkError, Forbidden, RetryAfter)):
                    await bot.send_message(anna.id, "hallo")
                attempts.append(server.calls("sendMessage")[-1])

            await attempt()
            await server.come_back()
            await attempt()
            await attempt()
            server.allow(anna.id)
            await attempt()
            server.throttle(0, chat_id=anna.id)
            assert [(c.status, c.description) for c in attempts] == [
                (502, "Bad Gateway"),  # the outage; the queued 500 waits
                (500, "Internal Server Error"),
                (403, "Forbidden: bot was blocked by the user"),
                (429, "Too Many Requests: retry after 10"),
            ]
            assert attempts[-1].response["parameters"] == {"retry_after": 10}
            with pytest.raises(RetryAfter):  # the flood gate, last
                await bot.send_message(anna.id, "hallo")
            assert server.calls("sendMessage")[-1].response["parameters"] == {"retry_after": 1}


async def test_a_wrong_token_still_answers_401_under_faults(server: FakeTelegram) -> None:
    server.fault_rate(1.0)
    server.fail_next("getMe", status=500)
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=server.base_url):
            pass
    assert server.requests[-1].status == 401


# --------------------------------------------------------------------------- outage


async def test_refused_outage_closes_the_port_and_comes_back_on_it(
    bot: Bot, server: FakeTelegram, anna: FakeUser
) -> None:
    api_root = server.api_root
    async with Bot(server.token, base_url=server.base_url) as fresh:
        polling = asyncio.create_task(bot.get_updates(timeout=5))
        await server.wait_until_polling()
        await server.go_down()
        with pytest.raises(NetworkError):
            async with asyncio.timeout(1):
                await polling  # the parked long poll ends at once
        with pytest.raises(NetworkError, match="ConnectError"):
            await fresh.get_me()
        with pytest.raises(NetworkError):
            await bot.send_message(anna.id, "hallo")
        assert server.sent == []

        await server.come_back()
        assert server.api_root == api_root
        await fresh.get_me()
        await bot.send_message(anna.id, "hallo")
    assert [m.text for m in server.sent] == ["hallo"]


@pytest.mark.parametrize(("mode", "status"), [("status", 502), ("drop", 0)])
async def test_an_outage_fails_every_call_until_it_comes_back(
    bot: Bot, server: FakeTelegram, anna: FakeUser, mode: str, status: int
) -> None:
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_until_polling()
    await server.go_down(mode)
    with pytest.raises(NetworkError):
        async with asyncio.timeout(1):
            await polling  # the parked long poll ends at once
    server.send_text(anna, "hallo")  # written in the outage: not lost, delivered later
    for call in (bot.get_me(), bot.get_updates(timeout=0), bot.send_message(anna.id, "x")):
        with pytest.raises(NetworkError):
            await call
    assert server.sent == [] and server.lost_responses == []
    assert {c.status for c in server.requests[-4:]} == {status}

    await server.come_back()
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.text == "hallo"
    await bot.send_message(anna.id, "hallo")
    assert len(server.sent) == 1


async def test_an_outage_mode_is_checked(server: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="outage mode"):
        await server.go_down("exploded")
