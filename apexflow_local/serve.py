"""``apexflow serve``: the API function on a local HTTP server, inside the local stack."""
from __future__ import annotations

import sys

from apexflow_local import handlers, ingest_cli
from apexflow_local.http_api import make_server
from apexflow_local.ingest_cli import redact
from apexflow_local.stack import local_stack


def run(port: int = 8000, demo_laps: int | None = None) -> None:
    """Serve until interrupted; with ``demo_laps`` a synthetic race is ingested first (its chunks then in S3)."""
    with local_stack(persist=True) as dsn:
        if demo_laps:
            from apexflow_local import demo

            print(demo.report(demo.trip(7, demo_laps, dsn)), file=sys.stderr)
        server = make_server(handlers.load("api").handler, port)
        print(f"ApexFlow API on http://127.0.0.1:{server.server_port} (OpenAPI page: /docs), database "
              f"{redact(dsn)}; Ctrl-C stops it", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping: waiting for queued ingestions", file=sys.stderr)
        finally:
            server.server_close()
            ingest_cli.idle()
