"""The markup parsers on their own: Telegram's entities and Telegram's error wording."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox._formatting import (
    EntityParseError,
    bot_command_entities,
    format_text,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
)

USERS = {7: {"id": 7, "is_bot": False, "first_name": "Anna"}}


def users(user_id: int) -> dict[str, Any] | None:
    return USERS.get(user_id)


def spans(text: str, entities: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, covered text) pairs, offsets taken as UTF-16 like Telegram's."""
    encoded = text.encode("utf-16-le")
    return [
        (e["type"], encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"))
        for e in entities
    ]


def test_html_entities_and_nesting() -> None:
    parsed = parse_html(
        '<b>vet <i>schuin</i></b> <a href="https://zvh.nl/x?a=1&amp;b=2">link</a> '
        '<a href="tg://user?id=7">Anna</a> &lt;3 &nbsp; &#x1F600;',
        users,
    )
    assert parsed.text == "vet schuin link Anna <3 &nbsp; 😀"
    assert spans(parsed.text, parsed.entities) == [
        ("italic", "schuin"),
        ("bold", "vet schuin"),
        ("text_link", "link"),
        ("text_mention", "Anna"),
    ]
    assert parsed.entities[2]["url"] == "https://zvh.nl/x?a=1&b=2"
    assert parsed.entities[3]["user"]["id"] == 7


def test_html_pre_with_language_and_blockquotes() -> None:
    parsed = parse_html(
        '<pre><code class="language-python">print(1)</code></pre>'
        '<blockquote expandable>lang</blockquote><span class="tg-spoiler">geheim</span>',
        users,
    )
    assert [(e["type"], e.get("language")) for e in parsed.entities] == [
        ("pre", "python"),
        ("expandable_blockquote", None),
        ("spoiler", None),
    ]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("a <3 b", 'Unsupported start tag "3" at byte offset 2'),
        ("é <x>", 'Unsupported start tag "x" at byte offset 3'),  # bytes, not characters
        ("<b>vet", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>vet</i>", 'Unmatched end tag at byte offset 6, expected "</b>", found "</i>"'),
        ("vet</b>", "Unexpected end tag at byte offset 3"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            '<a href="x" title>y</a>',
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
    ],
)
def test_html_errors(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source, users)
    assert str(caught.value) == error


def test_markdown_v2() -> None:
    parsed = parse_markdown_v2(
        "*vet* _schuin_ __onder__ ~door~ ||geheim|| `code` [zvh](https://zvh.nl) 1\\.0\n"
        "```python\nprint()\n```",
        users,
    )
    assert parsed.text == "vet schuin onder door geheim code zvh 1.0\nprint()\n"
    assert [t for t, _ in spans(parsed.text, parsed.entities)] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
        "pre",
    ]
    assert parsed.entities[-1]["language"] == "python"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("Versie 1.0", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("a-b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
        ("*vet", "Can't find end of Bold entity at byte offset 0"),
        ("x _schuin", "Can't find end of Italic entity at byte offset 2"),
        ("[a](https://x.nl", "Can't find end of a URL at byte offset 4"),
    ],
)
def test_markdown_v2_errors(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_markdown_v2(source, users)
    assert str(caught.value) == error


def test_legacy_markdown() -> None:
    parsed = parse_markdown("*vet* _schuin_ `code` [zvh](https://zvh.nl) 1.0 a-b", users)
    assert parsed.text == "vet schuin code zvh 1.0 a-b"
    assert [t for t, _ in spans(parsed.text, parsed.entities)] == [
        "bold",
        "italic",
        "code",
        "text_link",
    ]
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting at byte"):
        parse_markdown("*vet", users)


def test_format_text_trims_like_telegram() -> None:
    formatted = format_text("\n  <b> hoi </b>  \n", "HTML", users)
    assert formatted.text == "hoi"
    assert formatted.entities == [{"type": "bold", "offset": 0, "length": 3}]
    assert format_text("gewoon <b>", None, users).text == "gewoon <b>"
    with pytest.raises(ValueError, match="unsupported parse_mode"):
        format_text("x", "BBCode", users)


def test_bot_commands_in_a_persons_text() -> None:
    text = "/start@vhbot_test_bot abc en /help, niet pad/naar of /x/y"
    assert spans(text, bot_command_entities(text)) == [
        ("bot_command", "/start@vhbot_test_bot"),
        ("bot_command", "/help"),
    ]
    assert spans("😀 /stand", bot_command_entities("😀 /stand")) == [("bot_command", "/stand")]
    assert bot_command_entities("😀 /stand")[0]["offset"] == 3
