"""Every Grafana panel, variable and annotation query of the provisioned dashboards, with Grafana's macros and
variables expanded as Grafana expands them, runs on the demo's database as the read-only login and returns rows
of the shape its panel draws: no broken panel ships."""
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from apexflow.sources.live.health import FeedHealth
from apexflow.storage import chunk_store, registry
from apexflow.storage.db import transaction

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "dashboards" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(interval: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)", interval.strip("'\" ")).groups()
    return int(number) * _UNITS[unit]


def interpolate(sql: str, variables: dict, interval: str) -> str:
    """Template variables as Grafana formats them for SQL: a multi-value one as quoted, comma-separated values,
    a single value as it is; ``$__interval`` as Grafana's interval."""
    def value(m):
        name = m.group(1) or m.group(2)
        if name == "__interval":
            return interval
        v = variables[name]
        return ",".join("'" + x.replace("'", "''") + "'" for x in v) if isinstance(v, list) else v
    return re.sub(r"\$\{(\w+)\}|\$(?!__\w+\()(\w+)", value, sql)


def macros(sql: str, start: datetime, end: datetime) -> str:
    """The PostgreSQL data source's macros, expanded as its backend does."""
    iso = {"from": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "to": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}

    def expand(m):
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        if name == "timeFilter":
            return f"{args[0]} BETWEEN '{iso['from']}' AND '{iso['to']}'"
        if name in ("timeFrom", "timeTo"):
            return f"'{iso[name[4:].lower()]}'"
        if name in ("timeGroup", "timeGroupAlias"):
            step = f"{seconds(args[1]):g}"
            group = f"floor(extract(epoch from {args[0]})/{step})*{step}"
            return group + (' AS "time"' if name == "timeGroupAlias" else "")
        if name == "time":
            return f'{args[0]} AS "time"'
        raise AssertionError(f"macro $__{name} is not one this test expands")
    return re.sub(r"\$__(\w+)\(([^()]*)\)", expand, sql)


def numeric(v) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def check_shape(kind: str, fmt: str, columns: list[str], rows: list[tuple], title: str) -> None:
    assert rows, f"{title}: no rows"
    cols = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    if fmt == "time_series" or kind == "state-timeline":
        assert "time" in cols, f"{title}: no time column in {columns}"
        times = [t for t in cols["time"]]
        assert all(isinstance(t, (datetime, int, float, Decimal)) for t in times), title
        assert times == sorted(times), f"{title}: not ordered by time"
        values = [c for c in columns if c not in ("time", "metric")]
        assert values, f"{title}: no value column"
        if fmt == "time_series":
            assert all(numeric(v) or v is None for c in values for v in cols[c]), f"{title}: non-numeric values"
            assert all(isinstance(v, str) for v in cols.get("metric", [""])), f"{title}: metric is not text"
    elif kind == "stat":
        assert len(rows) == 1 and all(numeric(v) for v in rows[0]), title
    elif kind == "barchart":
        assert any(all(isinstance(v, str) for v in vs) for vs in cols.values()), f"{title}: no label column"
        assert any(all(numeric(v) for v in vs) for vs in cols.values()), f"{title}: no numeric column"
    elif kind == "xychart":
        assert sum(all(numeric(v) for v in vs) for vs in cols.values()) >= 2, f"{title}: needs numeric x and y"
    else:
        assert kind == "table", f"{title}: panel type {kind} has no shape check"


@pytest.fixture(scope="module")
def grafana_db(demo_dsn):
    """The demo's database with one rejected record, so the failed-records panels have something to show."""
    import psycopg2

    conn = psycopg2.connect(demo_dsn)
    with transaction(conn) as cur:
        chunk_store.write_rejections(cur, [("4960001", "sim-s7-l6/VER", "malformed chunk: test", None)])
        feeds = FeedHealth("sim-s7-l6", 0.0)  # the demo session as if followed live, a car's data stopping once
        for i in range(60):
            feeds.observe("CarData.z", float(i), True, {"VER": i < 20 or i > 40, "HAM": True})
            feeds.check(float(i), running=True)
        registry.update_session_meta(cur, "sim-s7-l6", {"feeds": feeds.state(60.0)})
        cur.execute('SELECT min("Start Time"), max("Lap End") FROM reporting.dim_session JOIN reporting.fact_laps '
                    'USING ("Session Key")')
        span = cur.fetchone()
        cur.execute('SELECT min("Processed At"), max("Last Seen") FROM reporting.pipeline_chunks, '
                    "reporting.pipeline_failed_records")
        pipeline = cur.fetchone()
    conn.close()
    return demo_dsn, span, pipeline


def queries(board: dict):
    for var in board["templating"]["list"]:
        yield "variable " + var["name"], "variable", "table", var["query"]
    for ann in board["annotations"]["list"]:
        if "target" in ann:
            yield "annotation " + ann["name"], "annotation", "table", ann["target"]["rawSql"]
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield panel["title"], panel["type"], target["format"], target["rawSql"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_every_query_runs_as_the_read_only_login_and_fits_its_panel(path, grafana_db, login):
    dsn, span, pipeline = grafana_db
    board = json.loads(path.read_text())
    bi = login(dsn, "readonly")
    margin = timedelta(minutes=1)
    start, end = (pipeline if board["uid"] == "apexflow-pipeline" else span)
    start, end = start - margin, end + margin
    interval = f"{max(1, int((end - start).total_seconds() / 1000))}s"  # ~1000 points, as a wide panel asks
    variables: dict = {}
    ran = 0
    with bi.cursor() as cur:
        for title, kind, fmt, sql in queries(board):
            cur.execute(macros(interpolate(sql, variables, interval), start, end))
            rows = cur.fetchall()
            columns = [d.name for d in cur.description]
            if kind == "variable":
                assert rows, f"{title}: no values"
                name = title.split()[1]
                values = [r[0] for r in rows]
                variables[name] = values if name == "driver" else values[0]
            elif kind == "annotation":
                assert rows and {"time", "text"} <= set(columns), f"{title}: {columns}"
            else:
                check_shape(kind, fmt, columns, rows, f"{path.stem}: {title}")
            ran += 1
    assert ran == sum(1 for _ in queries(board))


def test_provisioning_names_the_datasource_every_panel_uses_and_the_dashboards_folder():
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "apexflow.yaml").read_text())
    [source] = datasources["datasources"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "apexflow.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "${APEXFLOW_GRAFANA_DASHBOARDS}"
    assert {p.stem for p in DASHBOARDS} == {"telemetry", "detections", "laps", "tyres", "pipeline"}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        refs = [p["datasource"] for p in board["panels"]] + [t["datasource"] for p in board["panels"]
                                                              for t in p["targets"]]
        assert all(r == {"type": source["type"], "uid": source["uid"]} for r in refs), path.name
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_the_grafana_command_points_at_the_provisioning_folder_and_the_database(monkeypatch, capsys):
    from apexflow_local.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://apexflow_bi:s3cret@db.internal:5433/apexflow?sslmode=require")
    assert main(["grafana"]) == 0
    out = capsys.readouterr().out
    assert f"GF_PATHS_PROVISIONING={GRAFANA / 'provisioning'}" in out
    assert f"APEXFLOW_GRAFANA_DASHBOARDS={GRAFANA / 'dashboards'}" in out
    assert "APEXFLOW_PG_HOST=db.internal:5433" in out and "APEXFLOW_PG_USER=apexflow_bi" in out
    assert "APEXFLOW_PG_SSLMODE=require" in out and "s3cret" not in out
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:@/postgres?host=/tmp/pgdata")
    assert main(["grafana"]) == 0
    assert "APEXFLOW_PG_HOST=/tmp/pgdata" in capsys.readouterr().out  # the embedded server's socket folder
