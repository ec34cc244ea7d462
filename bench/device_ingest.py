"""Benchmark: SOS-box heartbeats per second sustained by one server process, against Mosquitto.

    .venv/bin/python bench/device_ingest.py [--mqtt-url mqtt://127.0.0.1:1883] [--boxes 2000]
        [--seconds 4] [--rates 2000,5000,10000,15000,20000,25000,30000,35000]

A publisher subprocess (paho-mqtt, QoS 0, pre-encoded payloads, paced in 5 ms slices) offers
heartbeats from ``--boxes`` provisioned boxes at each rate in turn for ``--seconds``. Two
consumers are measured in the same run, one at a time, against the same broker and load:

* **raw**: a bare aiomqtt client subscribed to the heartbeat topics, counting messages (the
  receive rate of the MQTT client library the server uses, with nothing else to do);
* **link**: SafeZone's ``BoxLink`` (topic check, JSON + schema validation, box check,
  per-box coalescing and the batched health writes to the database), in this process.

A rate is *sustained* when at least 99 % of what was offered arrived within 1 s of the end.
Targets: link ≥ 5,000 heartbeats/s and ≥ 0.7 × raw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from safezone.db.engine import Database
from safezone.db.migrate import upgrade
from safezone.settings import Settings
from safezone.sim.boxes import provision_sim_boxes
from safezone.sos.link import BoxLink


def publish(url: str, root: str, prefix: str, boxes: int, rate: int, seconds: float) -> None:
    """Publisher mode (run in a subprocess): offer ``rate`` heartbeats/s; print the count."""
    import paho.mqtt.client as mqtt

    parts = urlsplit(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex}")
    client.max_queued_messages_set(0)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    now = "2026-11-26T14:00:00Z"
    payloads = [
        (f"{root}/box/{prefix}-{i:04d}/heartbeat",
         json.dumps({"box_id": f"{prefix}-{i:04d}", "time": now, "battery_pct": 90 + i % 10,
                     "mains": True, "temperature_c": 31.5, "signal_dbm": -60,
                     "firmware": "bench/1"}).encode())
        for i in range(1, boxes + 1)
    ]
    sent, start, slice_s = 0, time.perf_counter(), 0.005
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(rate * min(elapsed + slice_s, seconds))
        while sent < due:
            topic, payload = payloads[sent % boxes]
            client.publish(topic, payload, qos=0)
            sent += 1
        time.sleep(max(0.0, start + elapsed + slice_s - time.perf_counter()))
    time.sleep(0.3)
    client.loop_stop()
    client.disconnect()
    print(sent, flush=True)  # noqa: T201


def offer(url: str, root: str, prefix: str, boxes: int, rate: int, seconds: float) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--publish", "--mqtt-url", url, "--root", root,
         "--prefix", prefix, "--boxes", str(boxes), "--rate", str(rate),
         "--seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


async def _settle(count: Callable[[], int], target: int) -> int:
    """What arrived within 1 s of the publisher's end (polled: the count is a plain int)."""
    for _ in range(50):
        if count() >= target * 0.99:
            break
        await asyncio.sleep(0.02)
    return count()


async def run_raw(url: str, root: str, prefix: str, boxes: int, rates: list[int],
                  seconds: float) -> dict[int, tuple[int, int]]:
    parts = urlsplit(url)
    results = {}
    received = 0
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883,
                              identifier=f"bench-raw-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{root}/box/+/heartbeat", qos=0)

        async def consume() -> None:
            nonlocal received
            async for _ in client.messages:
                received += 1

        task = asyncio.create_task(consume())
        for rate in rates:
            before = received
            sent = await asyncio.to_thread(offer, url, root, prefix, boxes, rate, seconds)
            got = await _settle(lambda b=before: received - b, sent)
            results[rate] = (sent, got)
        task.cancel()
    return results


async def run_link(url: str, root: str, prefix: str, boxes: int, rates: list[int],
                   seconds: float, settings: Settings
                   ) -> tuple[dict[int, tuple[int, int]], dict[str, Any]]:
    link = BoxLink(db=Database(settings.resolved_database_url), settings=settings)
    await link.start()
    await asyncio.wait_for(link.connected.wait(), 10)
    results = {}
    try:
        for rate in rates:
            before = link.stats.received["heartbeat"]
            sent = await asyncio.to_thread(offer, url, root, prefix, boxes, rate, seconds)
            got = await _settle(lambda b=before: link.stats.received["heartbeat"] - b, sent)
            results[rate] = (sent, got)
        await link.health.flush()
        snapshot = link.snapshot()
    finally:
        await link.stop()
        await link.db.dispose()
    return results, snapshot


def best(results: dict[int, tuple[int, int]], seconds: float) -> float:
    """Highest offered rate (per second, as delivered) that arrived ≥ 99 %."""
    kept = [sent / seconds for rate, (sent, got) in results.items() if got >= 0.99 * sent]
    return max(kept, default=0.0)


async def main(args: argparse.Namespace) -> None:
    rates = [int(r) for r in args.rates.split(",")]
    root, prefix = f"bench-{uuid.uuid4().hex[:8]}/v1", "HB"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), mqtt_url=args.mqtt_url, mqtt_topic_root=root,
                            box_health_flush_s=1.0)
        db = Database(settings.resolved_database_url)
        await upgrade(db)
        await provision_sim_boxes(db, settings, count=args.boxes, prefix=prefix)
        await db.dispose()
        raw = await run_raw(args.mqtt_url, root, prefix, args.boxes, rates, args.seconds)
        link, snap = await run_link(args.mqtt_url, root, prefix, args.boxes, rates,
                                    args.seconds, settings)
    print(f"broker {args.mqtt_url}, {args.boxes} boxes, {args.seconds:g} s per rate")  # noqa: T201
    print(f"{'offered/s':>10} {'raw got':>16} {'link got':>16}")  # noqa: T201
    for rate in rates:
        (rs, rg), (ls, lg) = raw[rate], link[rate]
        print(f"{rate:>10} {rg:>7}/{rs:<8} {lg:>7}/{ls:<8}")  # noqa: T201
    raw_best, link_best = best(raw, args.seconds), best(link, args.seconds)
    ratio = link_best / raw_best if raw_best else float("nan")
    print(f"sustained: raw aiomqtt {raw_best:,.0f}/s, link {link_best:,.0f}/s, "  # noqa: T201
          f"ratio {ratio:.2f} (targets: link ≥ 5,000/s, ratio ≥ 0.7)")
    print(f"link: rejected {snap['rejected_total']}, health rows written "  # noqa: T201
          f"{snap['heartbeats'].get('rows_written')}, flushes {snap['heartbeats'].get('flushes')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--boxes", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rates", default="2000,5000,10000,15000,20000,25000,30000,35000")
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.publish:
        publish(cli.mqtt_url, cli.root, cli.prefix, cli.boxes, cli.rate, cli.seconds)
    else:
        asyncio.run(main(cli))
