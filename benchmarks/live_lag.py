"""Live lag: a synthetic race published at live pace to a local Mosquitto broker as OpenF1 sends it, followed
by ``apexflow live`` (moto S3 + Kinesis, the analyze handler, embedded PostgreSQL); the lag from each message
to its row in the database.

- chunk rows: ``telemetry_chunks.processed_at`` minus the moment the car-data message of the chunk's oldest
  sample was published (the longest any of its messages waited: the latency budget included), and of its
  newest (the pipeline alone);
- detection rows: ``detections.created_at`` minus the moment the oldest message of the car's chunks in the
  batch that wrote it was published (the batch: the chunks stored in the same transaction): an upper bound of
  the wait of the message that revealed the event. Detections from laps and track status are left out: they
  follow lap messages, not car data.

    .venv/bin/python -m benchmarks.live_lag [--laps 3 --cars 10 --speed 1] [--no-record]

With ``--replay`` (no broker): the race as F1 live timing sends it, in FastF1's recorder format
(``apexflow.simulator.live_stream.f1_lines``:
car data and positions batched once a second) replayed at ``--speed`` x live through ``apexflow live --replay``
(``apexflow_local.live_cli``: the live stage, S3 and Kinesis on moto, the analyze handler draining the stream
after every round, a fresh PostgreSQL). A sample's timestamp is mapped to the wall clock by the replay's own
pacing (the first message's time is the moment it went out); lag = row time minus that, for chunk rows (from
the chunk's oldest sample: the 1 s latency budget, which runs on the stream's clock, included) and detection
rows (from the oldest sample of the car's chunks stored in the same transaction, an upper bound as above).

    .venv/bin/python -m benchmarks.live_lag --replay --laps 57 --cars 20 --speed 10 [--write]

``--throughput``: the same recording replayed as fast as it goes; its wall time, lines/s and samples/s.

    .venv/bin/python -m benchmarks.live_lag --throughput --laps 57 --cars 20 [--write]

Feed health (``apexflow.sources.live.health``) is on in every mode.
Target: p99 <= 2 s. Without ``--replay`` it needs Debian's ``mosquitto``.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks import busy, machine, report


def publish(port: int, messages, speed: float, published: dict) -> None:
    """Publish each message at its own time / ``speed``; note when each car sample went out."""
    import paho.mqtt.client as mqtt

    from apexflow.sources.live.openf1 import utc_seconds

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="recorded-openf1", clean_session=False)
    client.connect("127.0.0.1", port)
    client.loop_start()
    origin = None
    for topic, doc in messages:
        if doc.get("date"):
            t = utc_seconds(doc["date"])
            origin = origin or (time.time(), t)
            wait = origin[0] + (t - origin[1]) / speed - time.time()
            if wait > 0:
                time.sleep(wait)
        client.publish(topic, json.dumps(doc), qos=1)
        if topic == "v1/car_data":
            published.setdefault(str(doc["driver_number"]), []).append((utc_seconds(doc["date"]), time.time()))
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()


def sent_at(published: dict, driver: str, utc: float) -> float:
    """When the car-data message of a driver's sample at ``utc`` was published."""
    rows = published[driver]
    i = min(bisect.bisect_left(rows, (utc - 1e-4,)), len(rows) - 1)
    return rows[i][1]


def measure(laps: int, cars: int, speed: float, seed: int = 5) -> dict:
    from apexflow.pipeline.live import STREAM_DETECTORS
    from apexflow.simulator import SyntheticRace
    from apexflow.simulator.live_stream import openf1_messages
    from apexflow.sources.live.openf1 import IGNORED, TOPICS
    from apexflow.storage.db import connect
    from apexflow_local import live_cli
    from apexflow_local.mosquitto import Broker

    messages = openf1_messages(SyntheticRace(seed=seed, laps=laps, cars=cars))
    folder = Path(tempfile.mkdtemp(prefix="apexflow-live-lag-"))
    os.environ["APEXFLOW_PGDATA"] = str(folder / "pgdata")
    os.environ.pop("DATABASE_URL", None)
    broker = Broker(folder)
    broker.start()
    broker.subscribe_ahead("apexflow-live", [*TOPICS, *IGNORED])  # the follower, started before the session
    from apexflow.storage.db import database_url

    dsn = database_url()
    published: dict = {}
    result: dict = {}
    spec = {"source": "openf1", "mqtt": f"127.0.0.1:{broker.port}", "idle": 60}
    follower = threading.Thread(target=lambda: result.update(live_cli.run(spec, out=lambda line: None, dsn=dsn)))
    follower.start()
    publish(broker.port, messages, speed, published)
    follower.join()
    broker.stop()
    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT s.start_time, e.meta->>'driver_number', c.t_start, c.t_end, c.processed_at "
                    "FROM telemetry_chunks c JOIN entities e USING (session_id, entity_id) "
                    "JOIN sessions s USING (session_id)")
        chunks = [(start.timestamp(), d, t0, t1, at.timestamp()) for start, d, t0, t1, at in cur.fetchall()]
        cur.execute("SELECT d.kind, e.meta->>'driver_number', d.created_at FROM detections d "
                    "JOIN entities e USING (session_id, entity_id) WHERE d.detector = ANY(%s)",
                    (sorted(STREAM_DETECTORS),))
        detections = [(kind, driver, at.timestamp()) for kind, driver, at in cur.fetchall()]
    conn.close()
    oldest_lag = [at - sent_at(published, d, start + t0) for start, d, t0, _, at in chunks]
    newest_lag = [at - sent_at(published, d, start + t1) for start, d, _, t1, at in chunks]
    oldest: dict[tuple, float] = {}
    for start, d, t0, _, at in chunks:
        oldest[(d, at)] = min(oldest.get((d, at), np.inf), sent_at(published, d, start + t0))
    detection_lag = [at - oldest[(d, at)] for _, d, at in detections if (d, at) in oldest]
    return {"laps": laps, "cars": cars, "speed": speed, "messages": len(messages), "summary": result,
            "chunk": np.percentile(oldest_lag, [50, 99]).tolist(), "chunks": len(oldest_lag),
            "pipeline": np.percentile(newest_lag, [50, 99]).tolist(),
            "detection": np.percentile(detection_lag, [50, 99]).tolist() if detection_lag else [None, None],
            "detections": len(detection_lag), "kinds": sorted({k for k, _, _ in detections})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laps", type=int, default=3)
    ap.add_argument("--cars", type=int, default=10)
    ap.add_argument("--speed", type=float, default=1.0, help="1 = live pace")
    ap.add_argument("--no-record", action="store_true", help="do not append to benchmarks/RESULTS.md")
    ap.add_argument("--replay", action="store_true", help="F1 live timing replayed without a broker")
    ap.add_argument("--throughput", action="store_true",
                    help="a FastF1-format recording replayed as fast as it goes (no broker)")
    ap.add_argument("--write", action="store_true",
                    help="with --replay or --throughput: append to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if args.throughput:
        return throughput_main(args)
    if args.replay:
        return replay_main(args)
    r = measure(args.laps, args.cars, args.speed)
    (c50, c99), (d50, d99) = r["chunk"], r["detection"]
    if d99 is None:
        raise SystemExit("no detection from car data: use more laps or cars")
    ok = d99 <= 2.0 and c99 <= 2.0
    report(f"## Live lag, message -> row (OpenF1 via Mosquitto, moto, embedded PostgreSQL) — "
           f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
           f"- command: `.venv/bin/python -m benchmarks.live_lag --laps {r['laps']} --cars {r['cars']} "
           f"--speed {r['speed']:g}`\n"
           f"- machine: {machine()}\n"
           f"- {r['messages']:,} messages at {r['speed']:g} x live pace, latency budget 1 s: "
           f"{r['summary'].get('chunks', 0):,} chunks, {r['summary'].get('samples', 0):,} samples\n"
           f"- chunk rows ({r['chunks']:,}), from the oldest message: p50 **{c50:.2f} s**, p99 **{c99:.2f} s**; "
           f"from the newest: p50 {r['pipeline'][0]:.2f} s, p99 {r['pipeline'][1]:.2f} s\n"
           f"- detection rows ({r['detections']}; {', '.join(r['kinds'])}): p50 **{d50:.2f} s**, "
           f"p99 **{d99:.2f} s** (target p99 <= 2 s: {'met' if ok else 'NOT met'})\n", not args.no_record)
    return 0


def replay_lags(dsn: str, wall_of) -> dict:
    """Chunk and detection rows' lags (seconds) from their samples' wall-clock times (``wall_of(utc)``)."""
    from apexflow.pipeline.live import STREAM_DETECTORS
    from apexflow.storage.db import connect

    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT c.entity_id, extract(epoch FROM s.start_time) + c.t_start, "
                    "extract(epoch FROM c.processed_at) FROM telemetry_chunks c JOIN sessions s USING (session_id)")
        chunks = [(e, float(t0), float(at)) for e, t0, at in cur.fetchall()]
        cur.execute("SELECT kind, entity_id, extract(epoch FROM created_at) FROM detections "
                    "WHERE detector = ANY(%s)", (sorted(STREAM_DETECTORS),))
        detections = [(kind, e, float(at)) for kind, e, at in cur.fetchall()]
    conn.close()
    oldest: dict[tuple, float] = {}
    for e, t0, at in chunks:
        oldest[(e, at)] = min(oldest.get((e, at), np.inf), t0)
    chunk_lag = [at - wall_of(t0) for _, t0, at in chunks]
    detection_lag = [at - wall_of(oldest[(e, at)]) for _, e, at in detections if (e, at) in oldest]
    return {"chunk": chunk_lag, "detection": detection_lag, "kinds": sorted({k for k, _, _ in detections})}


def measure_replay(laps: int, cars: int, speed: float, seed: int = 5) -> dict:
    from unittest import mock

    from apexflow.simulator import SyntheticRace
    from apexflow.simulator.live_stream import f1_lines
    from apexflow.sources.live import feeds
    from apexflow_local import live_cli
    from benchmarks.analyze_batches import scratch_database

    replays, load = [], busy()

    class Recorded(feeds.Replay):  # the replay's pacing: when each message time went out
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            replays.append(self)

    with tempfile.TemporaryDirectory() as folder, scratch_database() as dsn:
        path = Path(folder) / "race.txt"  # as FastF1's recorder writes it (python -m fastf1.livetiming save)
        lines = f1_lines(SyntheticRace(seed=seed, laps=laps, cars=cars))
        path.write_text("".join(line + "\n" for line in lines))
        path_size = path.stat().st_size
        offset = time.time() - time.monotonic()  # the pacer runs on the monotonic clock
        started = time.monotonic()
        with mock.patch.object(feeds, "Replay", Recorded):
            summary = live_cli.run({"source": "f1", "replay": str(path), "speed": speed}, out=lambda line: None,
                                   dsn=dsn)
        seconds = time.monotonic() - started
        lags = {}
        if speed:
            wall0, t0 = replays[0].pacer.origin
            lags = replay_lags(dsn, lambda utc: offset + wall0 + (utc - t0) / speed)
    return {"laps": laps, "cars": cars, "speed": speed, "seconds": seconds, "summary": summary, "busy": load,
            "lines": len(lines), "bytes": path_size, **lags}


def throughput_main(args) -> int:
    r = measure_replay(args.laps, args.cars, None)
    s = r["summary"]
    report(f"## Replay throughput of a FastF1 live-timing recording (as fast as it goes, feed health on) — "
           f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
           f"- command: `.venv/bin/python -m benchmarks.live_lag --throughput --laps {r['laps']} --cars {r['cars']}"
           f"{' --write' if args.write else ''}`\n"
           f"- machine: {machine()}; {r['busy']}\n"
           f"- synthetic race, {r['laps']} laps, {r['cars']} cars, written as FastF1's recorder writes it "
           f"({r['lines']:,} lines, {r['bytes'] / 1e6:.1f} MB), through `apexflow live --replay` (the live stage, S3 "
           f"and Kinesis on moto, analyze draining after every round, a fresh PostgreSQL): **{r['seconds']:.0f} s**, "
           f"{r['lines'] / r['seconds']:,.0f} lines/s, {s.get('samples', 0) / r['seconds']:,.0f} samples/s "
           f"({s.get('samples', 0):,} samples, {s.get('chunks', 0):,} chunks, {len(s.get('feed_gaps', []))} feed gaps, "
           f"damaged lines {s.get('recording', {}).get('bad') or 'none'})\n", args.write)
    return 0


def replay_main(args) -> int:
    r = measure_replay(args.laps, args.cars, args.speed)
    (c50, c99), d = np.percentile(r["chunk"], [50, 99]), r["detection"]
    d50, d99 = np.percentile(d, [50, 99]) if d else (np.nan, np.nan)
    ok = bool(d) and d99 <= 2.0  # the target is on detection rows; chunk rows are reported beside it
    s = r["summary"]
    report(f"## Live lag at {r['speed']:g}x, sample -> row (F1 live timing replayed, moto, embedded PostgreSQL) — "
           f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
           f"- command: `.venv/bin/python -m benchmarks.live_lag --replay --laps {r['laps']} --cars {r['cars']} "
           f"--speed {r['speed']:g}{' --write' if args.write else ''}`\n"
           f"- machine: {machine()}; {r['busy']}\n"
           f"- synthetic race, {r['laps']} laps, {r['cars']} cars, replayed at {r['speed']:g} x live pace in "
           f"{r['seconds']:.0f} s: {s.get('chunks', 0):,} chunks, {s.get('samples', 0):,} samples, latency budget 1 s "
           "of stream time; analyze drains the stream after every round\n"
           f"- chunk rows ({len(r['chunk']):,}), from the chunk's oldest sample: p50 **{c50:.2f} s**, "
           f"p99 **{c99:.2f} s**, max {max(r['chunk']):.2f} s\n"
           f"- detection rows ({len(d)}; {', '.join(r['kinds'])}): p50 **{d50:.2f} s**, p99 **{d99:.2f} s** "
           f"(target p99 <= 2 s: {'met' if ok else 'NOT met'})\n", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
