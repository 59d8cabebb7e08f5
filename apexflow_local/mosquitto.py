"""A real Mosquitto broker on 127.0.0.1 (Debian's ``mosquitto``) for the MQTT tests and the live-lag
benchmark, standing in for OpenF1's broker: it keeps sessions and
queued messages on disk across a restart, as a broker that loses nothing does. Started as root it keeps
root's rights (``user root``), so it can write its folder."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from apexflow.settings import settings

BINARY = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, folder: Path | None = None):
        """``folder``: its configuration and store (default ``mosquitto`` in the state folder)."""
        folder = Path(folder or settings().home / "mosquitto")
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        (folder / "data").mkdir(exist_ok=True)
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                               f"persistence_location {folder / 'data'}/\nmax_queued_messages 0\n"
                               f"max_inflight_messages 100\nlog_dest none\n"
                               + ("user root\n" if os.geteuid() == 0 else ""))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if BINARY is None:
            raise FileNotFoundError("no mosquitto binary: install Debian's mosquitto (apt-get install mosquitto)")
        self.process = subprocess.Popen([BINARY, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        """Stop the broker as a restart does (it writes its sessions and queues to disk)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def subscribe_ahead(self, client_id: str, topics) -> None:
        """Open ``client_id``'s persistent session, subscribed to ``topics`` (QoS 1), before the publishing
        starts, as a follower started ahead of the session would: the broker keeps what arrives for it."""
        import threading

        import paho.mqtt.client as mqtt

        done = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.on_subscribe = lambda *args: done.set()
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        client.subscribe([(t, 1) for t in topics])
        if not done.wait(10):
            raise RuntimeError("mosquitto did not acknowledge the subscription")
        client.disconnect()
        client.loop_stop()
