"""The live stage: chunks within the latency budget, a restart resumed without loss or duplicates, the close."""
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg2

from apexflow import chunk as chunks
from apexflow.pipeline.live import RESEND, RUN_ID, LiveIngest, follow
from apexflow.pipeline.replay import Pacer
from apexflow.simulator.live_stream import read
from apexflow.sources.live.feeds import Replay
from apexflow.sources.live.openf1 import OpenF1, utc_seconds
from apexflow.storage.db import transaction
from apexflow_aws.config import client, connection
from apexflow_aws.mapping import ANALYZE
from apexflow_aws.raw_store import LiveRawStore
from apexflow_aws.stream import KinesisStream
from apexflow_local.cli import main
from apexflow_local.esm import EventSourceMapping, LambdaContext
from apexflow_local.handlers import load
from apexflow_local.http_api import api_event
from apexflow_local.stack import BUCKET, STREAM

MESSAGES = read(Path(__file__).parent / "data" / "live" / "openf1.jsonl.gz")
SAMPLES = {}
for _topic, _doc in MESSAGES:
    if _topic == "v1/car_data":
        SAMPLES[_doc["driver_number"]] = SAMPLES.get(_doc["driver_number"], 0) + 1


class Clock:
    """Wall time that passes only when slept (a live-pace replay that takes no time)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Recorder:
    """The real stream, noting when each record was put."""

    def __init__(self, clock):
        self.inner, self.clock, self.puts = KinesisStream(client("kinesis"), STREAM), clock, []

    def put(self, records):
        self.inner.put(records)
        self.puts += [(self.clock(), chunks.decode(data)) for _, data in records]


def stage(stream, clock=None, latency=1.0, **kwargs):
    return LiveIngest(LiveRawStore(client("s3"), BUCKET), stream, lambda: transaction(connection()),
                      latency=latency, **({"wall": clock} if clock else {}), **kwargs)


def handle(adapter):
    return lambda m: adapter.handle(m[0], m[1])


def test_every_car_sends_a_chunk_within_the_latency_budget(local):
    clock = Clock()
    stream = Recorder(clock)
    pacer = Pacer(1.0, clock, clock.sleep)
    live = stage(stream, clock, latency=1.0)
    follow(Replay(MESSAGES[:4000], "openf1", pacer=pacer), handle(OpenF1()), live)
    wall0, utc0 = pacer.origin
    start = live.session.start_time.timestamp()
    lags = [put - (wall0 + start + c.t[0] - utc0) for put, c in stream.puts[:-4]]  # the close flushes the rest
    assert len(stream.puts) > 100
    assert max(lags) <= 1.0 + 0.3  # the oldest sample of a chunk waited at most the budget and one message
    assert np.median(lags) >= 0.9  # and was not cut short either: chunks of about a second


def analyzed(dsn):
    EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler,
                       replace(ANALYZE, batch_size=500)).drain()
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT e.meta->>'driver_number', c.seq, c.t_start, c.t_end, c.n_samples FROM telemetry_chunks c "
                    "JOIN entities e USING (session_id, entity_id) ORDER BY 1, 2")
        out = cur.fetchall()
    conn.close()
    return out


def test_a_restarted_follower_resumes_without_loss_or_duplicates(local):
    first = stage(KinesisStream(client("kinesis"), STREAM))
    follow(Replay(MESSAGES[:5000], "openf1", batch=200), handle(OpenF1()), first)  # ...then it dies, unclosed
    first.ended = None
    cut = {e: c.seq for e, c in first.cars.items()}
    second = stage(KinesisStream(client("kinesis"), STREAM))
    summary = follow(Replay(MESSAGES, "openf1", batch=200), handle(OpenF1()), second)  # everything again
    assert summary["resent"] == RESEND * len(cut)
    assert summary["duplicate_samples"] > 0
    rows = analyzed(local)
    for number, n in SAMPLES.items():
        mine = [r for r in rows if r[0] == str(number)]
        assert [r[1] for r in mine] == list(range(len(mine)))  # sequence numbers continue across the restart
        assert all(a[3] < b[2] for a, b in zip(mine, mine[1:]))  # no sample twice
        assert sum(r[4] for r in mine) == n  # none lost
    objects = LiveRawStore(client("s3"), BUCKET).run_objects(second.session, RUN_ID)
    manifest = json.loads(client("s3").get_object(
        Bucket=BUCKET, Key=f"raw/openf1/{second.session.session_id}/manifest.json")["Body"].read())
    assert manifest["run_id"] == RUN_ID and set(manifest["checksums"]) == set(objects)
    assert manifest["counts"]["chunks"] == len(objects)


def test_messages_before_the_session_is_known_wait_for_it(local):
    late = [m for m in MESSAGES if m[0] != "v1/sessions"]
    sessions = [m for m in MESSAGES if m[0] == "v1/sessions"]
    live = stage(KinesisStream(client("kinesis"), STREAM))
    adapter = OpenF1(session_key=sessions[0][1]["session_key"])
    for m in late[:600]:
        live.feed(adapter.handle(*m))
    assert live.session is None and live.early
    live.feed(adapter.handle(*sessions[0]))
    live.pump(final=True)
    assert live.counts["samples"] == sum(1 for t, d in late[:600] if t == "v1/car_data")
    assert utc_seconds(sessions[0][1]["date_start"]) == live.session.start_time.timestamp()


def test_one_follower_per_session(dsn):
    from apexflow.storage import locks

    first, second = psycopg2.connect(dsn), psycopg2.connect(dsn)
    with transaction(first) as cur:
        assert locks.try_lock(cur, "live:f1-2025-miami-grand-prix-s")
    with transaction(second) as cur:
        assert not locks.try_lock(cur, "live:f1-2025-miami-grand-prix-s")
        assert locks.try_lock(cur, "live:f1-2025-miami-grand-prix-r")
    first.close()  # the task holding it ended: its backend lets go as it exits
    deadline = time.monotonic() + 10
    while True:
        with transaction(second) as cur:
            if locks.try_lock(cur, "live:f1-2025-miami-grand-prix-s"):
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second.close()



def test_messages_out_of_order_are_kept_exactly_once_and_only_true_duplicates_dropped(local):
    """A reconnect's redelivery in any order: the publisher's backlog overtaken by newer messages is sorted into
    place while the stage settles; a sample later still goes in a chunk of its own; a repeat is dropped."""
    from apexflow.pipeline.live import SETTLE_S

    clock = Clock()
    stream = Recorder(clock)
    live = stage(stream, clock)
    adapter = OpenF1()
    car = [m for m in MESSAGES if m[0] == "v1/car_data" and m[1]["driver_number"] == 1]
    head = [m for m in MESSAGES if m[0] in ("v1/sessions", "v1/meetings", "v1/drivers")]

    def deliver(messages, again=False):  # ``again``: the same samples as new messages (the adapter's keys pass)
        live.feed([e for t, d in messages for e in adapter.take((t, {**d, "_key": d["_key"] + "+"} if again else d))])
        live.pump()

    deliver(head + car[:100])
    clock.sleep(5.0)
    deliver([])  # the outage: the stall sends what was buffered
    live.settle()  # the feed reconnected
    deliver(car[160:400])  # newer messages first...
    clock.sleep(SETTLE_S / 3)
    deliver(car[100:160])  # ...then the backlog of the outage
    deliver(car[:10], again=True)  # and a repeat of samples already sent
    clock.sleep(SETTLE_S)
    deliver(car[400:600])
    deliver(car[600:640:2])
    clock.sleep(SETTLE_S + 1.0)
    deliver([])
    late = car[621:630:2]  # never delivered so far, inside what has been sent: later than their chunk
    deliver(late, again=True)
    live.close("done")
    mine = [c for _, c in stream.puts if c.entity_id == adapter.entity(1)]
    times = np.concatenate([c.t for c in mine])
    start = live.session.start_time.timestamp()
    expected = sorted(utc_seconds(d["date"]) - start for _, d in car[:600] + car[600:640:2] + late)
    assert len(times) == len(set(times.tolist())) == len(expected)  # none doubled, none lost
    assert np.allclose(np.sort(times), expected)
    assert live.counts["duplicate_samples"] == 10 and live.counts["reordered_samples"] >= 60
    assert live.counts["late_samples"] == len(late) and mine[-1].n == len(late)
    assert mine[-1].t[0] < mine[-2].t[-1]  # the late ones, in a chunk of their own
    assert all(a.t[-1] < b.t[0] for a, b in zip(mine[:-1], mine[1:-1]))  # every other chunk in time order


def test_feed_failures_injected_into_a_recorded_stream_are_each_raised_once_and_cleared_once(local, capsys):
    """A source stopping, a source repeating stale data, one car dropping while the others go on, then every
    source silent: each a ``feed_gap`` raised once and cleared once, at its time; nothing else."""
    clock, alerts = Clock(), []
    live = stage(KinesisStream(client("kinesis"), STREAM), clock, on_gap=alerts.append)
    start = utc_seconds(next(d for t, d in MESSAGES if t == "v1/sessions")["date_start"])

    def at(doc):
        return utc_seconds(doc["date"]) - start if doc.get("date") else None

    def within(doc, a, b):
        return at(doc) is not None and a <= at(doc) < b

    stream = []
    for topic, doc in MESSAGES:
        if topic == "v1/location" and within(doc, 60, 90):
            continue  # positions stop for 30 s
        if topic == "v1/car_data" and within(doc, 120, 150):  # car data repeats what it sent 20 s before
            old = next(d for t, d in MESSAGES if t == topic and d["driver_number"] == doc["driver_number"]
                       and at(d) >= at(doc) - 30)
            stream.append((topic, {**old, "_key": old["_key"] + "-again", "_id": doc["_id"]}))
            continue
        if topic in ("v1/car_data", "v1/location") and doc["driver_number"] == 1 and within(doc, 200, 230):
            continue  # one car stops sending
        if within(doc, 260, 290):
            continue  # everything goes silent
        stream.append((topic, doc))
    summary = follow(Replay(stream, "openf1", pacer=Pacer(1.0, clock, clock.sleep)), handle(OpenF1()), live)
    conn = psycopg2.connect(local)
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(entity_id, ''), channel, severity, t_start, t_end, evidence FROM detections "
                    "WHERE kind = 'feed_gap' ORDER BY t_start, channel")
        gaps = cur.fetchall()
        cur.execute("SELECT meta->'feeds' FROM sessions")
        [(feeds,)] = cur.fetchall()
    conn.close()
    car1 = next(e for e in live.entities.values() if e.meta.get("driver_number") == "1")
    windows = {("", "location", "warning", "silent"): [(60, 90), (260, 290)],
               ("", "car_data", "warning", "stale repeats only"): [(120, 150)],
               (car1.entity_id, "car_data", "warning", "silent"): [(200, 230)],
               ("", "car_data", "warning", "silent"): [(260, 290)], ("", "all", "critical", "every source silent"):
               [(260, 290)]}
    for number, entity in ((e.meta["driver_number"], e.entity_id) for e in live.entities.values()):
        times = [at(d) for t, d in MESSAGES if t == "v1/car_data" and d["driver_number"] == int(number)]
        for a, b in zip(times, times[1:]):  # the recording's own: a car's data missing while the others go on
            if b - a > 5:
                windows.setdefault((entity, "car_data", "warning", "silent"), []).append((a, b))
    found = {}
    for e, ch, sev, t0, t1, ev in gaps:
        found.setdefault((e, ch, sev, ev["reason"]), []).append((t0, t1, ev["state"]))
    assert set(found) == set(windows)
    for key, spans in windows.items():
        assert len(found[key]) == len(spans), key  # raised once per failure
        for (t0, t1, state), (a, b) in zip(sorted(found[key]), sorted(spans)):
            assert state == "cleared" and a - 2 <= t0 <= a + 1 and b - 1 <= t1 <= b + 2, (key, t0, t1)
    assert len(summary["feed_gaps"]) == len(gaps) and all(g["to_s"] is not None for g in summary["feed_gaps"])
    assert feeds["sources"]["car_data"]["state"] == "ok" and feeds["sources"]["car_data"]["stale_repeats"] > 0
    assert [(g["from_s"] // 1, g["to_s"] // 1) for g in feeds["cars"][car1.entity_id]["gaps"]] == [(199, 230)]
    assert [(a["channel"], a["severity"], a["t_start"] // 1) for a in alerts] == [("all", "critical", 259)]
    sid = live.session.session_id
    response = load("api").handler(api_event("GET", f"/sessions/{sid}/feeds", [("host", "api.test")], b""),
                                   LambdaContext("apexflow-api-local"))
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and body["live"] == "closed" and len(body["gaps"]) == len(gaps)
    assert {g["state"] for g in body["gaps"]} == {"cleared"} and set(body["sources"]) >= {"car_data", "location"}
    from apexflow.report import render

    with transaction(connection()) as cur:
        page = render(cur, sid)  # the session's report explains its holes
    assert "Live feed gaps: " in page and "every source 4:19.9 for 30 s" in page
    assert main(["feeds", sid]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n  gap ") == len(gaps) and "gap all critical: 259." in printed


def test_a_critical_feed_gap_is_published_to_the_alerts_topic(local, monkeypatch):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from apexflow.sources.live.health import FeedHealth
    from apexflow_aws.live_runner import alert

    sns = client("sns")
    arn = sns.create_topic(Name="apexflow-alerts-test")["TopicArn"]
    feeds = FeedHealth("f1-2025-miami-grand-prix-r", 0.0)
    found = []
    for i in range(40):
        feeds.observe("CarData.z", float(i), True, {"VER": True})
        found += feeds.check(float(i), running=True)
    found += feeds.check(60.0, running=True)  # nothing since 39 s
    [critical] = [d for d in found if d["severity"] == "critical"]
    alert(critical)  # no topic configured: nothing sent, nothing fails
    monkeypatch.setenv("ALERTS_TOPIC_ARN", arn)
    alert(critical)
    [(_, message, subject, *_)] = sns_backends[DEFAULT_ACCOUNT_ID][sns.meta.region_name].topics[arn].sent_notifications
    assert "every live feed of f1-2025-miami-grand-prix-r is silent" in subject
    assert json.loads(message)["evidence"]["reason"] == "every source silent"
