"""What a test of `http_backend="aiohttp"` sees of aiohttp: its sessions.

The Session's aiohttp transport is private; aiohttp's `ClientSession` is not.
Recording every ClientSession made lets a test check what the transport did
with its one (opened on first use, closed on `aclose`), from the outside.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest


def record_client_sessions(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """Every `aiohttp.ClientSession` made from now on in this test, in order."""
    made: list[aiohttp.ClientSession] = []
    original = aiohttp.ClientSession

    def recording(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = original(*args, **kwargs)
        made.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", recording)
    return made


def connections_lent(client: aiohttp.ClientSession) -> int:
    """How many connections *client*'s connector has lent out and not had back.

    aiohttp has no public count of them: its connector's `_acquired` set is it.
    """
    connector = client.connector
    assert connector is not None
    return len(connector._acquired)


def connections_idle(client: aiohttp.ClientSession) -> int:
    """How many connections *client*'s connector keeps open for reuse.

    aiohttp has no public count of them either: its connector's `_conns`
    (idle connections by host) is it.
    """
    connector = client.connector
    assert isinstance(connector, aiohttp.BaseConnector)
    return sum(len(idle) for idle in connector._conns.values())
