"""Claude Code's error text, minus the server's network details, for the client.

Claude Code words an upstream failure for the person at its terminal: "API Error: 529 … This is a server-side issue,
usually temporary — try again in a moment. If it persists, check your inference gateway (127.0.0.1:8787)." The
advice names the upstream's host and port (the operator's gateway, an internal address), which clients of this
server must not learn. So sentences after the first that name an address are dropped (they are advice for the
operator), and any address left in the first (what Claude's API said) is removed. Plain regular expressions:
the text is one short English sentence or three, and no library knows Claude Code's wording.
"""

from __future__ import annotations

import re

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_ADDRESS = re.compile(
    r"[a-z][a-z0-9+.-]*://[^\s()<>\"']+"  # a URL
    rf"|\b{_OCTET}(?:\.{_OCTET}){{3}}(?::\d{{1,5}})?\b"  # IPv4, with or without a port
    r"|\[[0-9a-f:.]+\](?::\d{1,5})?"  # [IPv6], with or without a port
    r"|\blocalhost(?::\d{1,5})?\b"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+:\d{1,5}\b",  # host.name:port
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_EMPTY_PARENS = re.compile(r"\s*\(\s*\)")


def without_addresses(text: str) -> str:
    """``text`` with no host, port or URL in it; the sentences that only advised about them are gone."""
    first, *rest = _SENTENCE_END.split(text.strip())
    kept = [first, *(sentence for sentence in rest if not _ADDRESS.search(sentence))]
    scrubbed = _EMPTY_PARENS.sub("", _ADDRESS.sub("", " ".join(kept)))
    return re.sub(r"\s{2,}", " ", scrubbed).strip()
