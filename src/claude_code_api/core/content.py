"""Client media → Claude content blocks: images and documents (PDF, plain text), shared by every front end.

Data is checked (type, base64, size) so a bad upload is the client's 400, not an upstream failure. ``https:``
URLs are passed on for Claude to fetch; the server itself never fetches a URL.
"""

from __future__ import annotations

import base64
import binascii
import re

from claude_code_api.core.request import Block
from claude_code_api.errors import InvalidRequest

IMAGE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DOCUMENT_MEDIA_TYPES = frozenset({"application/pdf", "text/plain"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # Claude's own request limit; the body limit usually bites first
_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+)(?:;[\w=.-]+)*;base64,(?P<data>.*)$", re.DOTALL)


def image_block(url: str, param: str) -> Block:
    """``data:`` URLs become base64 image blocks; ``https:`` URLs are passed for Claude to fetch."""
    if url.startswith("https://"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media, data = _data_url(url, param, "Images must be https: URLs or base64 data: URLs.")
    return image_source_block(media, data, param)


def image_source_block(media: str, data: str, param: str) -> Block:
    if media not in IMAGE_MEDIA_TYPES:
        allowed = ", ".join(sorted(IMAGE_MEDIA_TYPES))
        raise InvalidRequest(f"Image type {media} is not supported ({allowed}).", param=param)
    data = checked_base64(data, MAX_IMAGE_BYTES, param, "Images")
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}


def document_block(url: str, param: str, *, title: str | None = None) -> Block:
    """A ``data:`` URL of a PDF or plain text → a Claude ``document`` block (the CLI passes it on unchanged)."""
    media, data = _data_url(url, param, "Files must be base64 data: URLs.")
    return document_source_block(media, data, param, title=title)


def document_source_block(media: str, data: str, param: str, *, title: str | None = None) -> Block:
    if media not in DOCUMENT_MEDIA_TYPES:
        allowed = ", ".join(sorted(DOCUMENT_MEDIA_TYPES))
        raise InvalidRequest(f"File type {media} is not supported ({allowed}).", param=param)
    data = checked_base64(data, MAX_DOCUMENT_BYTES, param, "Files")
    if media == "text/plain":
        try:
            text = base64.b64decode(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("A text/plain file must be UTF-8.", param=param) from None
        source: Block = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        source = {"type": "base64", "media_type": media, "data": data}
    block: Block = {"type": "document", "source": source}
    if title:
        block["title"] = title
    return block


def checked_base64(data: str, limit: int, param: str, what: str) -> str:
    data = re.sub(r"\s+", "", data)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The data is not valid base64.", param=param) from None
    if len(raw) > limit:
        raise InvalidRequest(f"{what} are limited to {limit} bytes.", param=param)
    return data


def _data_url(url: str, param: str, message: str) -> tuple[str, str]:
    match = _DATA_URL.match(url)
    if not match:
        raise InvalidRequest(message, param=param)
    return match["media"].lower(), match["data"]
