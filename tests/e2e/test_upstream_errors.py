"""An upstream failure reaches the client as Claude's message, never with the server's network details."""

from __future__ import annotations

import re

import openai
import pytest
from tests.e2e.test_chat import user

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("status", [529, 500])
def test_upstream_error_messages_carry_no_internal_address(server, upstream, marker, status):
    with pytest.raises(openai.APIStatusError) as caught:
        server.client().chat.completions.create(model="claude-sonnet-4", messages=user(marker, status=status))
    message = caught.value.body["message"]  # type: ignore[index]
    assert str(status) in message, "the client still learns what the upstream said"
    port = upstream.url.rsplit(":", 1)[1].rstrip("/")
    assert "127.0.0.1" not in message and "localhost" not in message
    assert upstream.url not in message and not re.search(rf"\b{port}\b", message)
    assert "gateway" not in message
