"""TURN with short-lived credentials, against a real coturn: what the server hands a console or
a box allocates a relay; a wrong, stale or altered credential is refused; Chromium, told to
use nothing but the relay, gets relay candidates with what the call API gave it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from pydantic import SecretStr, ValidationError

from safezone.calls.signalling import CallService
from safezone.calls.turn import MARGIN_S, turn_credentials
from safezone.db.engine import Database
from safezone.settings import Settings
from tests.fixtures.browser import WEBRTC_ARGS, chromium, needs_chromium
from tests.fixtures.turn import TURNSERVER, Coturn

SECRET = "turn-shared-secret-for-tests"
needs_coturn = pytest.mark.skipif(not Path(TURNSERVER).exists(), reason="coturn not installed")


@pytest.fixture
def coturn(tmp_path: Path, call_network: str) -> Iterator[Coturn]:
    with Coturn(tmp_path, host=call_network, secret=SECRET) as server:
        yield server


def turn_settings(settings: Settings, coturn: Coturn, **extra: Any) -> Settings:
    return settings.model_copy(update={"webrtc_turn_urls": [coturn.url],
                                       "webrtc_turn_secret": SecretStr(SECRET), **extra})


async def allocate(coturn: Coturn, username: str, password: str) -> tuple[str, int]:
    """Allocate a relay (UDP) at ``coturn``; returns the relayed address."""
    transport, _ = await asyncio.wait_for(create_turn_endpoint(
        asyncio.DatagramProtocol, (coturn.host, coturn.port), username, password), 10)
    try:
        address: tuple[str, int] = transport.get_extra_info("sockname")
        return address
    finally:
        transport.close()


def test_the_credentials_follow_the_turn_rest_scheme() -> None:
    username, password = turn_credentials("k", "op7", 60, now=1_800_000_000.4)
    assert username == "1800000060:op7"
    assert base64.b64decode(password) == hmac.new(b"k", b"1800000060:op7", hashlib.sha1).digest()


def test_turn_urls_need_the_shared_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SAFEZONE_WEBRTC_TURN_SECRET"):
        Settings(data_dir=tmp_path, webrtc_turn_urls=["turn:turn.example.org:3478"])
    with pytest.raises(ValidationError, match="webrtc_turn_urls"):
        Settings(data_dir=tmp_path, webrtc_turn_urls=["stun:x.example.org"], webrtc_turn_secret="s")
    file = tmp_path / "turn.secret"
    file.write_text(SECRET + "\n")
    from_file = Settings(data_dir=tmp_path, webrtc_turn_urls=["turn:t.example.org"],
                         webrtc_turn_secret_file=file)
    assert from_file.resolved_turn_secret == SECRET
    assert Settings(data_dir=tmp_path).resolved_turn_secret is None


@needs_coturn
async def test_what_consoles_and_boxes_get_allocates_a_relay(
    coturn: Coturn, settings: Settings, db: Database
) -> None:
    calls = CallService(db=db, settings=turn_settings(settings, coturn))
    before = time.time()
    for who in ("op12", "SOS-SADET"):
        [server] = calls.ice_servers(who)
        assert server["urls"] == [coturn.url]
        expiry, _, named = server["username"].partition(":")
        assert named == who
        valid_s = settings.call_setup_timeout_s + settings.call_max_duration_s + MARGIN_S
        assert before + valid_s - 1 <= int(expiry) <= time.time() + valid_s
        relay = await allocate(coturn, server["username"], server["credential"])
        assert relay[0] == coturn.host

    stale = turn_credentials(SECRET, "op12", -60)
    wrong = turn_credentials("not-the-secret", "op12", 600)
    username, password = turn_credentials(SECRET, "op12", 600)
    altered = (username.replace("op12", "op13"), password)  # someone else's name, same password
    for username, password in (stale, wrong, altered):
        with pytest.raises(TransactionFailed, match="401"):
            await allocate(coturn, username, password)


RELAY_GATHER = """async (iceServers) => {
  const pc = new RTCPeerConnection({iceServers, iceTransportPolicy: "relay"});
  pc.createDataChannel("probe");
  const found = [];
  const done = new Promise((resolve) => {
    pc.onicecandidate = (e) => e.candidate ? found.push(e.candidate.candidate) : resolve();
    setTimeout(resolve, 8000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return found;
}"""


@needs_coturn
@pytest.mark.browser
@needs_chromium
async def test_chromium_relays_through_turn_with_the_console_credentials(
    coturn: Coturn, settings: Settings, db: Database
) -> None:
    calls = CallService(db=db, settings=turn_settings(settings, coturn))
    async with chromium(*WEBRTC_ARGS) as browser:
        page = await browser.new_page()
        good = await page.evaluate(RELAY_GATHER, calls.ice_servers("op12"))
        assert good and all(re.search(r" typ relay ", c) for c in good), good
        assert any(f" {coturn.host} " in c for c in good)
        username, password = turn_credentials("not-the-secret", "op12", 600)
        refused = await page.evaluate(RELAY_GATHER, [{"urls": [coturn.url], "username": username,
                                                      "credential": password}])
        assert refused == []
