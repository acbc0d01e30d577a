"""api.anthropic.com as a Claude Code process with no ``ANTHROPIC_BASE_URL`` reaches it, offline: most users set no
base URL, and some behaviour (the warm-up's restoring of an unset URL) only shows there.

The CLI is given ``HTTPS_PROXY`` (a CONNECT proxy here that notes each tunnel's target) and ``NODE_EXTRA_CA_CERTS``
(a test CA, from trustme); every tunnel leads to the fake upstream served over TLS with a certificate for
api.anthropic.com from that CA. So the CLI talks to "api.anthropic.com" as it would to the real one, and the fake's
log shows exactly what it sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import trustme

from claude_code_api.testing.fake_upstream import FakeUpstream

HOST = "api.anthropic.com"


class FakeAnthropicHost:
    def __init__(self, directory: Path) -> None:
        ca = trustme.CA()
        self.ca_file = directory / "test-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        host_pem = directory / "api.anthropic.com.pem"
        ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(host_pem))
        self.upstream = FakeUpstream(tls_pem=str(host_pem)).start()
        self.tunnels: list[str] = []  # the first line of each CONNECT, e.g. "CONNECT api.anthropic.com:443 HTTP/1.1"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.proxy_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="fake-anthropic-proxy", daemon=True).start()

    def cli_env(self, home: Path) -> dict[str, str]:
        """The environment of a Claude Code process that knows no base URL (only a proxy and the test CA)."""
        return {
            "HOME": str(home),
            "ANTHROPIC_API_KEY": "sk-test",
            "HTTPS_PROXY": self.proxy_url,
            "NO_PROXY": "127.0.0.1",
            "NODE_EXTRA_CA_CERTS": str(self.ca_file),
        }

    def close(self) -> None:
        self._listener.close()
        self.upstream.stop()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.tunnels.append(head.split(b"\r\n", 1)[0].decode())
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream.port))
            except OSError:  # the fake is stopping
                return
            with server:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pump, args=(server, client), daemon=True)
                pump.start()
                _pump(client, server)
                pump.join(timeout=5)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
