"""Where live messages come from: OpenF1's MQTT broker, F1's SignalR stream, or a recorded stream replayed.

Every feed has ``get(timeout) -> list | None``: the messages that arrived (``[]`` when none came within
``timeout`` seconds, ``None`` once the feed is finished) and ``stop()``. A message is ``(topic, document)``
(the document as the broker's JSON text) for OpenF1 and ``[topic, data, utc]`` for F1 live timing, as the
adapters' ``take`` reads them.

- ``MqttFeed`` (paho-mqtt): QoS 1 on a persistent session (fixed client id, ``clean_session=False``), so a
  broker that keeps sessions (OpenF1's; Mosquitto with persistence) holds what was published while the
  connection was down and delivers it on reconnecting; paho reconnects by itself (0.1 s, doubling to 2 s).
  Duplicates this may bring are the adapter's to drop (by OpenF1's ``_key`` / ``_id``); ``connects`` counts
  connections, so the live stage knows to let a redelivery (in any order) settle.
- ``SignalRFeed``: the connection FastF1's ``livetiming`` client makes (same hub, topics and negotiation),
  with the F1 TV token as bearer when there is one, reconnecting by itself; on (re)subscribing F1 sends the
  current state of every topic, which the adapter and the live stage take as re-delivery.
- ``Replay``: recorded messages at ``speed`` x their own pace (``None``: as fast as possible).
"""
from __future__ import annotations

import json
import queue
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from apexflow.errors import BadMessage
from apexflow.pipeline.replay import Pacer
from apexflow.sources.live import f1, openf1
from apexflow.sources.live.recording import Recording

OPENF1_HOST, OPENF1_PORT = "mqtt.openf1.org", 8883
OPENF1_API = "https://api.openf1.org"


class Feed(Protocol):
    """What every feed has (the module's docstring says what it returns)."""

    def get(self, timeout: float) -> list | None: ...

    def stop(self) -> None: ...


class _Queued:
    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.done = False

    def get(self, timeout: float) -> list | None:
        if self.done and self.queue.empty():
            return None
        try:
            out = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


class MqttFeed(_Queued):
    def __init__(self, host: str, port: int, topics: Iterable[str], *, client_id: str = "apexflow-live",
                 username: str | None = None, password: Callable[[], str] | None = None, tls: bool = False):
        import paho.mqtt.client as mqtt

        super().__init__()
        self.topics = list(topics)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.password, self.username = password, username
        if password is not None:
            self.client.username_pw_set(username or "apexflow", password())
        if tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)  # type: ignore[arg-type]  # paho hints int; a float works
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda client, userdata, msg: self.queue.put((msg.topic, msg.payload))
        self.connects = 0
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties):
        if not reason.is_failure:
            self.connects += 1
            client.subscribe([(t, 1) for t in self.topics])

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        if self.password is not None:  # tokens expire: the next connection asks for a fresh one
            client.username_pw_set(self.username or "apexflow", self.password())

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.done = True


def openf1_token(username: str, password: str) -> str:
    """An OpenF1 OAuth2 access token (valid for an hour) for a paid account's credentials."""
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{OPENF1_API}/token", data=body), timeout=10) as r:
        return json.loads(r.read())["access_token"]


def openf1_current(token: str) -> list[tuple[str, dict]]:
    """The current session, its meeting and drivers from OpenF1's REST API, as messages: what a follower
    started mid-session has not seen on the broker."""
    out = []
    for topic, query in (("v1/meetings", "meeting_key=latest"), ("v1/sessions", "session_key=latest"),
                         ("v1/drivers", "session_key=latest")):
        req = urllib.request.Request(f"{OPENF1_API}/{topic}?{query}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            out += [(topic, doc) for doc in json.loads(r.read())]
    return out


class SignalRFeed(_Queued):
    URL = "wss://livetiming.formula1.com/signalrcore"
    NEGOTIATE = "https://livetiming.formula1.com/signalrcore/negotiate"

    def __init__(self, token: str | None):
        import requests
        from signalrcore.hub_connection_builder import HubConnectionBuilder

        super().__init__()
        cookie = requests.options(self.NEGOTIATE, timeout=10).cookies.get("AWSALBCORS", "")
        options = {"verify_ssl": True, "headers": {"Cookie": f"AWSALBCORS={cookie}"},
                   "access_token_factory": (lambda: token) if token else None}
        self.connection = (HubConnectionBuilder().with_url(self.URL, options=options)
                           .with_automatic_reconnect({"type": "raw", "keep_alive_interval": 10,
                                                      "reconnect_interval": 2, "max_attempts": None}).build())
        self.connects = 0
        self.connection.on("feed", lambda msg: self.queue.put(list(msg)))
        self.connection.on_open(self._subscribe)
        self.connection.on_reconnect(self._subscribe)
        self.connection.start()

    def _subscribe(self):
        self.connects += 1
        self.connection.send("Subscribe", [list(f1.SUBSCRIBE)], on_invocation=self._snapshot)

    def _snapshot(self, completion):
        for topic, data in (completion.result or {}).items():
            self.queue.put([topic, data, ""])

    def stop(self) -> None:
        self.connection.stop()
        self.done = True


class Replay:
    """Recorded messages (F1 ``[topic, data, utc]``, or recorded lines ``f1.parse_line`` reads; OpenF1
    ``(topic, doc)``) at ``speed`` x their own pace (their time stamps); ``recording``: the file read, when
    replayed from one (its damaged lines, by kind)."""

    def __init__(self, messages: list, source: str, speed: float | None = None, batch: int = 50, pacer=None):
        self.items: list[Sequence[Any]]  # F1 [topic, data, utc] lists, OpenF1 (topic, doc) pairs
        if source == "f1":
            self.items = [f1.parse_line(m) if isinstance(m, str) else list(m) for m in messages]
        else:
            self.items = [tuple(m) for m in messages]
        self.source, self.batch, self.i = source, batch, 0
        self.pacer = pacer or Pacer(speed)
        self.last = -float("inf")
        self.recording: Recording | None = None

    def time_of(self, item) -> float:
        try:
            if self.source == "f1":
                self.last = f1.utc_seconds(item[2]) if item[2] else self.last
            elif item[1].get("date"):
                self.last = openf1.utc_seconds(item[1]["date"])
        except (BadMessage, AttributeError, IndexError, TypeError):
            pass  # the adapter skips and counts it
        return self.last

    def get(self, timeout: float) -> list | None:
        if self.i >= len(self.items):
            return None
        out: list = []
        while self.i < len(self.items) and len(out) < self.batch:
            t = self.time_of(self.items[self.i])
            wait = self.pacer.delay(t) if t > -float("inf") else 0.0
            if wait > 0:
                if out:
                    break
                self.pacer.sleep(min(wait, timeout))
                if wait > timeout:
                    return out
            out.append(self.items[self.i])
            self.i += 1
        return out

    def stop(self) -> None:
        self.i = len(self.items)
