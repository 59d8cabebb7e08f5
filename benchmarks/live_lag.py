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

Target: p99 <= 2 s. Needs Debian's ``mosquitto``.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks import machine, report


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
    from apexflow.live import STREAM_DETECTORS
    from apexflow.simulator import SyntheticRace
    from apexflow.simulator.live_stream import openf1_messages
    from apexflow.sources.live.openf1 import IGNORED, TOPICS
    from apexflow.storage.db import connect
    from apexflow_aws.local import live_cli
    from apexflow_aws.local.mosquitto import Broker

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
    args = ap.parse_args(argv)
    r = measure(args.laps, args.cars, args.speed)
    (c50, c99), (d50, d99) = r["chunk"], r["detection"]
    if d99 is None:
        raise SystemExit("no detection from car data: use more laps or cars")
    ok = d99 <= 2.0 and c99 <= 2.0
    report(f"## Live lag, message -> row (OpenF1 via Mosquitto, moto, embedded PostgreSQL) — "
           f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
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


if __name__ == "__main__":
    raise SystemExit(main())
