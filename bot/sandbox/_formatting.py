"""Telegram's text formatting, as the Bot API server applies it.

The parsers follow the behaviour of tdlib (which the Bot API server runs): the
same accepted tags and characters, the same error wording, entity offsets and
lengths in UTF-16 code units. A bot that forgets to escape a ``<`` or a ``.``
therefore gets the same ``400 Bad Request: can't parse entities: ...`` from the
fake as from Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]
UserLookup = Callable[[int], Mapping[str, Any] | None]

# tdlib sorts entities by offset, then longer first, then by this priority.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bot_command": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}

# tdlib's is_space
_SPACES = frozenset(" \t\r\n\v\f\0")

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!\n"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_USER_LINK = re.compile(r"^tg://user\?id=(\d+)$", re.IGNORECASE)
_EMOJI_LINK = re.compile(r"^tg://emoji\?id=(\d+)$", re.IGNORECASE)
# tdlib's match_bot_commands, as a regular expression
_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


class EntityParseError(ValueError):
    """The text does not parse in the given parse mode (Telegram answers 400)."""


@dataclass
class FormattedText:
    """Text as Telegram stores it: plain text plus entities."""

    text: str
    entities: list[JSONDict] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _at(text: str, index: int) -> str:
    """``text[index]``, or NUL past the end (tdlib reads a NUL-terminated string)."""
    return text[index] if index < len(text) else "\0"


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _checked_link(url: str) -> str:
    """A usable link, or "" when Telegram would silently drop the entity."""
    url = url.strip()
    if not url or any(ch in _SPACES for ch in url):
        return ""
    if _SCHEME.match(url):
        scheme = url.split(":", 1)[0].lower()
        return url if scheme in {"http", "https", "tg", "ton", "ftp"} else ""
    if "." in url.split("/", 1)[0]:
        return "http://" + url
    return ""


def _link_entity(offset: int, length: int, url: str, users: UserLookup) -> JSONDict | None:
    match = _USER_LINK.match(url.strip())
    if match:
        user = users(int(match.group(1)))
        if user is not None:
            return {"type": "text_mention", "offset": offset, "length": length, "user": dict(user)}
    checked = _checked_link(url)
    if not checked:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    """Telegram's order: by offset, longer first, then by type priority."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos``; None when it is not an entity (kept literally)."""
    end = pos + 1
    if _at(text, end) == "#":
        end += 1
        value = 0
        if _at(text, end) == "x":
            end += 1
            while _at(text, end) in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while _at(text, end).isascii() and _at(text, end).isdigit():
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while _at(text, end).isascii() and _at(text, end).isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if _at(text, end) == ";":
        end += 1
    return char, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int
    out_index: int
    expandable: bool = False


def parse_html(source: str, users: UserLookup) -> FormattedText:
    """Parse Telegram HTML into plain text and entities.

    Raises:
        EntityParseError: with Telegram's wording, e.g. ``Unsupported start tag "x" at byte
            offset 3``.
    """
    out: list[str] = []
    entities: list[JSONDict] = []
    stack: list[_OpenTag] = []
    u16 = 0
    n = len(source)
    i = 0

    def fail(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is not None:
                char, i = decoded
                if 0xD800 <= ord(char) <= 0xDFFF:
                    raise fail(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units"
                    )
                out.append(char)
                u16 += utf16_len(char)
                continue
        if ch != "<":
            out.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue

        begin = i
        i += 1
        if _at(source, i) != "/":
            # a start tag
            while i < n and source[i] not in _SPACES and source[i] != ">":
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
            tag = source[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise fail(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                )
            argument = ""
            expandable = False
            while _at(source, i) != ">":
                while i < n and source[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
                if source[i] == ">":
                    break
                attr_begin = i
                while i < n and source[i] not in _SPACES and source[i] not in "=>":
                    i += 1
                attr = source[attr_begin:i].lower()
                if not attr:
                    raise fail(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(source, begin)}"
                    )
                while i < n and source[i] in _SPACES:
                    i += 1
                if _at(source, i) != "=":
                    if tag == "blockquote" and attr == "expandable":
                        expandable = True
                        continue
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {_byte_offset(source, begin)}'
                    )
                i += 1
                while i < n and source[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise fail(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                    )
                if source[i] not in "'\"":
                    token_begin = i
                    while i < n and (_is_alnum(source[i]) or source[i] in ".-"):
                        i += 1
                    value = source[token_begin:i].lower()
                    if _at(source, i) not in _SPACES and _at(source, i) != ">":
                        raise fail(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(source, token_begin)}"
                        )
                else:
                    quote = source[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and source[i] != quote:
                        if source[i] == "&":
                            decoded = _decode_html_entity(source, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(source[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise fail(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(source, begin)}"
                )
            stack.append(_OpenTag(tag, argument, u16, len(out), expandable))
            i += 1
            continue

        # an end tag
        if not stack:
            raise fail(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
        i += 1
        name_begin = i
        while i < n and source[i] not in _SPACES and source[i] != ">":
            i += 1
        end_name = source[name_begin:i].lower()
        while i < n and source[i] in _SPACES:
            i += 1
        if _at(source, i) != ">":
            raise fail(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
        i += 1
        top = stack.pop()
        if end_name and end_name != top.name:
            raise fail(
                f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                f'expected "</{top.name}>", found "</{end_name}>"'
            )
        if u16 <= top.offset:
            continue
        offset, length = top.offset, u16 - top.offset
        if top.name in _HTML_SIMPLE:
            entities.append({"type": _HTML_SIMPLE[top.name], "offset": offset, "length": length})
        elif top.name == "span":
            entities.append({"type": "spoiler", "offset": offset, "length": length})
        elif top.name == "tg-emoji":
            if not top.argument.isdigit() or int(top.argument) == 0:
                raise fail("Invalid custom emoji identifier specified")
            entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": length,
                    "custom_emoji_id": top.argument,
                }
            )
        elif top.name == "a":
            url = top.argument or "".join(out[top.out_index :])
            link = _link_entity(offset, length, url, users)
            if link is not None:
                entities.append(link)
        elif top.name == "pre":
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "code"
                and (last["offset"], last["length"]) == (offset, length)
                and last.get("language")
            ):
                last["type"] = "pre"
            else:
                entities.append({"type": "pre", "offset": offset, "length": length})
        elif top.name == "code":
            last = entities[-1] if entities else None
            if (
                last is not None
                and last["type"] == "pre"
                and (last["offset"], last["length"]) == (offset, length)
                and top.argument
            ):
                last["language"] = top.argument
            else:
                code: JSONDict = {"type": "code", "offset": offset, "length": length}
                if top.argument:
                    code["language"] = top.argument
                entities.append(code)
        elif top.name == "blockquote":
            kind = "expandable_blockquote" if top.expandable else "blockquote"
            entities.append({"type": kind, "offset": offset, "length": length})
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return FormattedText("".join(out), entities)


@dataclass
class _OpenMark:
    kind: str  # bold, italic, ..., pre_code
    argument: str
    offset: int
    byte_offset: int
    out_index: int


def parse_markdown_v2(source: str, users: UserLookup) -> FormattedText:
    """Parse Telegram MarkdownV2 into plain text and entities.

    Raises:
        EntityParseError: with Telegram's wording, e.g. ``Character '.' is reserved and must be
            escaped with the preceding '\\'``.
    """
    out: list[str] = []
    entities: list[JSONDict] = []
    stack: list[_OpenMark] = []
    have_blockquote = False
    u16 = 0
    n = len(source)
    i = 0

    def reserved(char: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def unterminated(mark: _OpenMark) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of {_MDV2_NAMES[mark.kind]} entity at byte offset {mark.byte_offset}"
        )

    while i < n:
        ch = source[i]
        nxt = _at(source, i + 1)
        if ch == "\\" and "\0" < nxt <= "~":
            out.append(nxt)
            u16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1].kind in {"code", "pre", "pre_code"}
        if ch not in ("`" if in_code else _MDV2_RESERVED):
            out.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue

        is_end = False
        if stack:
            top = stack[-1]
            if have_blockquote and ch == "\n" and nxt != ">":
                is_end = True
            elif top.kind == "bold":
                is_end = ch == "*"
            elif top.kind == "italic":
                is_end = ch == "_" and nxt != "_"
            elif top.kind == "code":
                is_end = ch == "`"
            elif top.kind in {"pre", "pre_code"}:
                is_end = ch == "`" and nxt == "`" and _at(source, i + 2) == "`"
            elif top.kind in {"text_link", "custom_emoji"}:
                is_end = ch == "]"
            elif top.kind == "underline":
                is_end = ch == "_" and nxt == "_"
            elif top.kind == "strikethrough":
                is_end = ch == "~"
            elif top.kind == "spoiler":
                is_end = ch == "|" and nxt == "|"

        if not is_end:
            byte_offset = _byte_offset(source, i)
            argument = ""
            if ch == "_":
                kind = "underline" if nxt == "_" else "italic"
                i += 2 if nxt == "_" else 1
            elif ch == "*":
                kind = "bold"
                i += 1
            elif ch == "~":
                kind = "strikethrough"
                i += 1
            elif ch == "|":
                if nxt != "|":
                    raise reserved(ch)
                kind = "spoiler"
                i += 2
            elif ch == "[":
                kind = "text_link"
                i += 1
            elif ch == "`":
                if nxt == "`" and _at(source, i + 2) == "`":
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while (
                        lang_end < n and source[lang_end] not in _SPACES and source[lang_end] != "`"
                    ):
                        lang_end += 1
                    if i != lang_end and lang_end < n and source[lang_end] != "`":
                        kind = "pre_code"
                        argument = source[i:lang_end]
                        i = lang_end
                    if _at(source, i) in "\r\n" and i < n:
                        pair = _at(source, i + 1)
                        i += 2 if pair in "\r\n" and pair != "\0" and pair != source[i] else 1
                else:
                    kind = "code"
                    i += 1
            elif ch == "!":
                if nxt != "[":
                    raise reserved(ch)
                kind = "custom_emoji"
                i += 2
            elif ch == "\n":
                out.append("\n")
                u16 += 1
                i += 1
                if nxt == ">":
                    i += 1
                    if not have_blockquote:
                        have_blockquote = True
                        stack.append(_OpenMark("blockquote", "", u16, byte_offset, len(out)))
                continue
            elif ch == ">":
                if i != 0:
                    raise reserved(ch)
                have_blockquote = True
                kind = "blockquote"
                i += 1
            else:
                raise reserved(ch)
            stack.append(_OpenMark(kind, argument, u16, byte_offset, len(out)))
            continue

        # the end of an entity
        top = stack[-1]
        if ch == "\n" and top.kind != "blockquote":
            raise unterminated(top)
        skip = u16 == top.offset
        entity: JSONDict | None = None
        if top.kind in {"bold", "italic", "code", "strikethrough"}:
            i += 1
        elif top.kind in {"underline", "spoiler"}:
            i += 2
        elif top.kind in {"pre", "pre_code"}:
            i += 3
        elif top.kind == "text_link":
            if nxt != "(":
                url = "".join(out[top.out_index :])
                i += 1
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and source[i] != ")":
                    if source[i] == "\\" and "\0" < _at(source, i + 1) <= "~":
                        chars.append(source[i + 1])
                        i += 2
                        continue
                    chars.append(source[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(source, url_begin)}"
                    )
                i += 1
                url = "".join(chars)
            if not skip:
                entity = _link_entity(top.offset, u16 - top.offset, url, users)
                skip = entity is None
        elif top.kind == "custom_emoji":
            if nxt != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            i += 2
            url_begin = i
            while i < n and source[i] != ")":
                i += 1
            if i >= n:
                raise EntityParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(source, url_begin)}"
                )
            match = _EMOJI_LINK.match(source[url_begin:i].replace("\\", ""))
            if match is None:
                raise EntityParseError("Custom emoji URL must have an emoji identifier")
            i += 1
            argument = match.group(1)
            entity = {"type": "custom_emoji", "custom_emoji_id": argument}
        elif top.kind == "blockquote":
            have_blockquote = False
            out.append(ch)
            u16 += 1
            i += 1
            entity = {"type": "blockquote"}
            skip = u16 - 1 == top.offset
            # the newline belongs to the quote in tdlib's output
        if not skip:
            if entity is None:
                entity = {"type": "pre" if top.kind == "pre_code" else top.kind}
                if top.kind == "pre_code":
                    entity["language"] = top.argument
            entity["offset"] = top.offset
            entity["length"] = u16 - top.offset
            entities.append(entity)
        stack.pop()

    if have_blockquote and stack and stack[-1].kind == "blockquote":
        top = stack.pop()
        if u16 != top.offset:
            entities.append(
                {"type": "blockquote", "offset": top.offset, "length": u16 - top.offset}
            )
    if stack:
        raise unterminated(stack[-1])
    return FormattedText("".join(out), entities)


def parse_markdown(source: str, users: UserLookup) -> FormattedText:
    """Parse legacy Telegram Markdown (``*bold*``, ``_italic_``, ```code```, ``[a](url)``)."""
    out: list[str] = []
    entities: list[JSONDict] = []
    u16 = 0
    n = len(source)
    i = 0
    while i < n:
        ch = source[i]
        if ch == "\\" and _at(source, i + 1) in "_*`[" and i + 1 < n:
            out.append(source[i + 1])
            u16 += 1
            i += 2
            continue
        if ch not in "_*`[":
            out.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        i += 1
        language = ""
        is_pre = False
        if ch == "`" and _at(source, i) == "`" and _at(source, i + 1) == "`":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and source[lang_end] not in _SPACES and source[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and source[lang_end] != "`":
                language = source[i:lang_end]
                i = lang_end
            if i < n and source[i] in "\r\n":
                pair = _at(source, i + 1)
                i += 2 if pair in "\r\n" and pair != "\0" and pair != source[i] else 1
        offset = u16
        start = len(out)
        while i < n and (
            source[i] != end_char
            or (is_pre and not (_at(source, i + 1) == "`" and _at(source, i + 2) == "`"))
        ):
            out.append(source[i])
            u16 += utf16_len(source[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                "Can't find end of the entity starting at byte offset "
                f"{_byte_offset(source, begin)}"
            )
        length = u16 - offset
        if ch == "[":
            if _at(source, i + 1) == "(":
                i += 2
                url_chars: list[str] = []
                while i < n and source[i] != ")":
                    url_chars.append(source[i])
                    i += 1
                url = "".join(url_chars)
            else:
                url = "".join(out[start:])
            if length:
                link = _link_entity(offset, length, url, users)
                if link is not None:
                    entities.append(link)
        elif length:
            kind = {"_": "italic", "*": "bold", "`": "pre" if is_pre else "code"}[ch]
            entity: JSONDict = {"type": kind, "offset": offset, "length": length}
            if language:
                entity["language"] = language
            entities.append(entity)
        i += 3 if is_pre else 1
    return FormattedText("".join(out), entities)


def _trim(formatted: FormattedText) -> FormattedText:
    """Drop leading and trailing whitespace, as Telegram does, keeping entities aligned."""
    text = formatted.text
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    size = utf16_len(stripped)
    entities: list[JSONDict] = []
    for entity in formatted.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, entities)


def format_text(text: str, parse_mode: str | None, users: UserLookup) -> FormattedText:
    """Apply ``parse_mode`` (None, HTML, MarkdownV2 or Markdown) and Telegram's trimming.

    Raises:
        EntityParseError: the markup does not parse; ``str(error)`` is Telegram's detail.
        ValueError: an unknown parse mode.
    """
    mode = (parse_mode or "").strip()
    if not mode:
        parsed = FormattedText(text)
    elif mode.lower() == "html":
        parsed = parse_html(text, users)
    elif mode.lower() == "markdownv2":
        parsed = parse_markdown_v2(text, users)
    elif mode.lower() == "markdown":
        parsed = parse_markdown(text, users)
    else:
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    parsed = _trim(parsed)
    return FormattedText(parsed.text, sort_entities(parsed.entities))


def bot_command_entities(text: str) -> list[JSONDict]:
    """The ``bot_command`` entities Telegram marks in a text a person sends."""
    entities: list[JSONDict] = []
    for match in _BOT_COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities
