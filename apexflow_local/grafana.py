"""Where the dashboards live in the repository, and how to point a Grafana at them (``apexflow grafana``)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

GRAFANA = Path(__file__).resolve().parents[1] / "dashboards" / "grafana"


def datasource_env(dsn: str) -> dict[str, str]:
    """The provisioned datasource's variables for a database URL (the password left for the reader to fill)."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = query.get("port", [str(parts.port or 5432)])[0]
    return {"APEXFLOW_PG_HOST": host if host.startswith("/") else f"{host}:{port}",
            "APEXFLOW_PG_DATABASE": parts.path.lstrip("/") or "postgres",
            "APEXFLOW_PG_USER": unquote(parts.username or "postgres"),
            "APEXFLOW_PG_PASSWORD": "<password>" if parts.password else "",
            "APEXFLOW_PG_SSLMODE": query.get("sslmode", ["disable"])[0]}


def grafana_instructions(dsn: str) -> str:
    provisioning, boards = GRAFANA / "provisioning", GRAFANA / "dashboards"
    env = {"GF_PATHS_PROVISIONING": str(provisioning), "APEXFLOW_GRAFANA_DASHBOARDS": str(boards),
           **datasource_env(dsn)}
    docker = {**env, "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning",
              "APEXFLOW_GRAFANA_DASHBOARDS": "/var/lib/apexflow/dashboards"}
    lines = [f"ApexFlow's Grafana provisioning: {provisioning}",
             f"  the datasource (PostgreSQL, uid apexflow) and 5 dashboards from {boards}", "",
             "Grafana 10.3 or later, installed:",
             "  " + " \\\n  ".join(f"{k}={v}" for k, v in env.items()) + " \\\n  grafana server", "",
             "or in Docker:",
             f"  docker run -p 3000:3000 -v {provisioning}:/etc/grafana/provisioning:ro "
             f"-v {boards}:/var/lib/apexflow/dashboards:ro \\\n  "
             + " ".join(f"-e {k}={v}" for k, v in docker.items() if k != "GF_PATHS_PROVISIONING")
             + " grafana/grafana", "",
             "then open http://localhost:3000 (folder ApexFlow)."]
    if env["APEXFLOW_PG_HOST"].startswith("/"):
        lines += ["", f"The database is the embedded server, on a Unix socket in {env['APEXFLOW_PG_HOST']} while an "
                      "apexflow command runs: a Grafana on this machine can use that folder as the host; otherwise "
                      "set DATABASE_URL to a PostgreSQL server Grafana can reach and run the demo again."]
    lines += ["", "In AWS, log Grafana in as the read-only login (the ReadOnlySecret output, sslmode=require): it "
                  "sees the reporting schema, which is all the dashboards read."]
    return "\n".join(lines)
