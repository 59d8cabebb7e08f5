"""A live session followed end to end: a feed and its adapter -> ``apexflow.pipeline.live`` -> S3, Kinesis, PostgreSQL.

``run(spec, stream)`` serves the live task in AWS and ``apexflow live`` alike. ``spec``: ``source``
(``f1`` | ``openf1``), ``session`` (``current``, or an OpenF1 session key), and for local use ``replay``
(a recording: FastF1's recorder's format or ours, ``apexflow.sources.live.recording``) with ``speed``, or
``mqtt`` (``host:port`` of a broker without TLS or login). Credentials come from Secrets Manager: the F1 TV
subscription token (``F1_TOKEN_SECRET_ARN``, the token as the secret string) and OpenF1's account
(``OPENF1_SECRET_ARN``, ``{"username": ..., "password": ...}``). A critical feed gap (every source silent) is
published to ``ALERTS_TOPIC_ARN`` when set.
"""
from __future__ import annotations

import json
from pathlib import Path

from apexflow.errors import ContractError
from apexflow.pipeline.live import LiveIngest, follow
from apexflow.settings import settings
from apexflow.sources.live import f1, feeds, openf1, recording
from apexflow.storage.db import transaction
from apexflow_aws.config import client, connection
from apexflow_aws.insights_starter import start_when_complete
from apexflow_aws.raw_store import LiveRawStore

SOURCES = ("f1", "openf1")


def secret(arn: str | None) -> str | None:
    """The secret string the ARN names; None when no ARN is set or the secret is empty."""
    if not arn:
        return None
    return client("secretsmanager").get_secret_value(SecretId=arn).get("SecretString") or None


def feed_for(spec: dict) -> tuple[feeds.Feed, f1.F1LiveTiming | openf1.OpenF1]:
    """(feed, adapter) for a request; ``adapter.take(message)`` maps a message of the feed. A replayed
    recording's feed has ``recording`` (its damaged lines, by kind)."""
    source, session = spec.get("source"), str(spec.get("session") or "current")
    if source not in SOURCES:
        raise ContractError(f"unknown live source {source!r}; known: {', '.join(SOURCES)}")
    if source == "f1" and session != "current":
        raise ContractError("F1 live timing streams only the session running now: use --session current")
    if source == "openf1" and session != "current" and not session.isdigit():
        raise ContractError(f"--session takes 'current' or an OpenF1 session key, got {session!r}")
    adapter: f1.F1LiveTiming | openf1.OpenF1
    if source == "f1":
        token = None if spec.get("replay") else secret(settings().f1_token_secret_arn)
        adapter = f1.F1LiveTiming(token=bool(token or spec.get("replay")))
    else:
        adapter = openf1.OpenF1(None if session == "current" else int(session))
    if spec.get("replay"):
        path = Path(spec["replay"])
        if not path.is_file():
            raise ContractError(f"no recorded stream at {path}")
        recorded = recording.read(path, source)
        replay = feeds.Replay(recorded.messages, source, spec.get("speed"))
        replay.recording = recorded
        return replay, adapter
    if spec.get("mqtt"):
        host, _, port = spec["mqtt"].rpartition(":")
        return feeds.MqttFeed(host, int(port), [*openf1.TOPICS, *openf1.IGNORED],
                              client_id=spec.get("client_id", "apexflow-live")), adapter
    if source == "f1":
        return feeds.SignalRFeed(token), adapter
    creds = json.loads(secret(settings().openf1_secret_arn) or "{}")
    if not creds.get("username") or not creds.get("password"):
        raise ContractError("OpenF1's real-time data needs a paid account: store {\"username\", \"password\"} "
                            "in the secret named by OPENF1_SECRET_ARN")
    login = lambda: feeds.openf1_token(creds["username"], creds["password"])  # noqa: E731
    mqtt = feeds.MqttFeed(feeds.OPENF1_HOST, feeds.OPENF1_PORT, [*openf1.TOPICS, *openf1.IGNORED],
                          username=creds["username"], password=login, tls=True)
    if session == "current":
        for message in feeds.openf1_current(login()):
            mqtt.queue.put(message)
    return mqtt, adapter


def alert(detection: dict) -> None:
    """A critical feed gap (every source silent) to the alerts topic (``ALERTS_TOPIC_ARN``; unset: none)."""
    arn = settings().alerts_topic_arn
    if not arn:
        return
    client("sns").publish(
        TopicArn=arn, Subject=f"ApexFlow: every live feed of {detection['session_id']} is silent"[:100],
        Message=json.dumps({"session_id": detection["session_id"], "kind": detection["kind"],
                            "severity": detection["severity"], "since_s": detection["t_start"],
                            "evidence": detection["evidence"]}, default=str))


def run(spec: dict, stream, on_pump=lambda stage: None, idle: float | None = None) -> dict:
    """Follow one session until it ends; the closing summary (session, counts, where the run is)."""
    feed, adapter = feed_for(spec)
    stage = LiveIngest(LiveRawStore(client("s3"), settings().need("raw_bucket")), stream,
                       lambda: transaction(connection()), latency=float(spec.get("latency", 1.0)),
                       stall_is_silence=not (spec.get("replay") and not spec.get("speed")), on_gap=alert,
                       on_close=lambda session_id: start_when_complete(connection(), [session_id]))
    summary = follow(feed, adapter.take, stage, idle=idle if idle is not None else spec.get("idle"), on_pump=on_pump)
    recorded = getattr(feed, "recording", None)
    return {**summary, "connects": getattr(feed, "connects", None), "dropped": getattr(adapter, "dropped", None),
            **({"recording": recorded.summary()} if recorded else {})}


def record(spec: dict, path: Path, idle: float | None = None) -> dict:
    """Write every message of the session ``spec`` follows to ``path`` in FastF1's recorder format
    (``apexflow.sources.live.recording``; gzip for a ``.gz`` name) until the session ends, the feed is finished
    or nothing came for ``idle`` seconds; what it wrote. Damaged messages are written as they came (the
    recording is the raw truth) and counted."""
    import time

    from apexflow.errors import BadMessage
    from apexflow.sources.live import events as ev

    feed, adapter = feed_for(spec)
    source: str = spec["source"]  # one of SOURCES: feed_for checked it
    written, ended, heard = 0, None, time.monotonic()
    bad: dict[str, int] = {}
    idle = idle if idle is not None else spec.get("idle")
    try:
        with recording.opened(path) as out:
            while ended is None:
                messages = feed.get(0.2)
                if messages is None:
                    break
                if messages:
                    heard = time.monotonic()
                elif idle is not None and time.monotonic() - heard > idle:
                    break
                for m in messages:
                    out.write(recording.line_of(m, source) + "\n")
                    written += 1
                    try:
                        ended = next((e for e in adapter.take(m) if isinstance(e, ev.Ended)), None) or ended
                    except BadMessage as e:
                        bad[e.kind] = bad.get(e.kind, 0) + 1
                out.flush()
    finally:
        feed.stop()
    recorded = getattr(feed, "recording", None)
    return {"path": str(path), "messages": written, "bad_messages": bad,
            "reason": ended.reason if ended else "stream ended",
            **({"recording": recorded.summary()} if recorded else {})}
