"""Ingest benchmark: Keen-shaped events through Switchboard's HTTP batch API, next to DuckDB.

Sends the NDJSON files made by the shared generator (gen_events.py) to a fresh
`switchboard serve` as batch POSTs (durability on: every answer follows an fsync), and
measures sustained events per second and the event store's bytes on disk per event. In the
same run, loads the same files into a DuckDB table (read_ndjson_auto, then CHECKPOINT) and
measures the same two figures, then prints both with their ratio. See bench/README.md.
"""

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time


def start_server(binary, data_dir):
    """Starts `switchboard serve` on a free port; returns (process, address, project, key).

    The tail is compacted every 2 seconds (instead of every 10 minutes) so that the last events
    reach the Parquet parts soon after the last acknowledgement."""
    proc = subprocess.Popen(
        [binary, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--log", "warn",
         "--events-tail-seconds", "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    banner = ""
    for line in proc.stdout:
        banner += line
        if line.startswith("Switchboard is serving at http://"):
            break
    address = re.search(r"serving at http://([^/]+)/", banner).group(1)
    project = re.search(r"Workspace:\s+.*\(([0-9a-f]{24})\)", banner).group(1)
    key = re.search(r"Write key:\s+(\S+)", banner).group(1)
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, address, project, key


def batches(data, batch_size):
    """Request bodies `{"collection": [events…]}` built from the NDJSON lines, in file order."""
    bodies = []
    for name in sorted(os.listdir(data)):
        if not name.endswith(".ndjson"):
            continue
        collection = name[: -len(".ndjson")].encode()
        with open(os.path.join(data, name), "rb") as f:
            lines = [line.rstrip(b"\n") for line in f if line.strip()]
        for i in range(0, len(lines), batch_size):
            chunk = lines[i : i + batch_size]
            bodies.append((len(chunk), b'{"' + collection + b'":[' + b",".join(chunk) + b"]}"))
    return bodies


def send_all(address, project, key, bodies, connections):
    """Posts every body over `connections` keep-alive connections; returns elapsed seconds."""
    work = queue.Queue()
    for body in bodies:
        work.put(body)
    failures = []
    host, port = address.split(":")

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        while True:
            try:
                _, body = work.get_nowait()
            except queue.Empty:
                return
            conn.request("POST", f"/3.0/projects/{project}/events", body=body,
                         headers={"Authorization": key, "Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200 or b'"success":false' in answer:
                failures.append((response.status, answer[:300]))

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, first: {failures[0]}")
    return elapsed


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def wait_compacted(events_dir, timeout=600):
    """Waits until the log is empty (every event in a part) and the parts stop changing
    (merges done); returns the seconds waited."""
    start = time.perf_counter()
    last = None
    while time.perf_counter() - start < timeout:
        logs = [f for f in os.listdir(events_dir) if f.startswith("wal-")]
        log_bytes = sum(os.path.getsize(os.path.join(events_dir, f)) for f in logs)
        parts = sorted(os.listdir(os.path.join(events_dir, "parts")))
        state = (log_bytes, tuple(parts))
        if log_bytes == 0 and len(logs) == 1 and state == last:
            return time.perf_counter() - start
        last = state
        time.sleep(1.0)
    raise SystemExit("the event store did not finish compacting")


def duckdb_load(data):
    """Loads every NDJSON file into its own DuckDB table; returns (seconds, bytes on disk)."""
    import duckdb

    work = tempfile.mkdtemp(prefix="duckdb-ingest-")
    path = os.path.join(work, "events.duckdb")
    try:
        start = time.perf_counter()
        con = duckdb.connect(path)
        for name in sorted(os.listdir(data)):
            if name.endswith(".ndjson"):
                table = name[: -len(".ndjson")]
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_ndjson_auto(?, sample_size = -1)",
                            [os.path.join(data, name)])
        con.execute("CHECKPOINT")
        con.close()
        elapsed = time.perf_counter() - start
        return elapsed, os.path.getsize(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="a release build of switchboard")
    parser.add_argument("--data", required=True, help="a gen_events.py output folder (NDJSON files)")
    parser.add_argument("--batch", type=int, default=5000, help="events per request (default 5000)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB side")
    args = parser.parse_args()

    bodies = batches(args.data, args.batch)
    events = sum(n for n, _ in bodies)
    data_dir = tempfile.mkdtemp(prefix="switchboard-ingest-")
    proc, address, project, key = start_server(args.binary, data_dir)
    events_dir = os.path.join(data_dir, "workspaces", project, "events")
    try:
        elapsed = send_all(address, project, key, bodies, args.connections)
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1))
        at_last_ack = folder_bytes(events_dir)
        settle = wait_compacted(events_dir)
        parts = len(os.listdir(os.path.join(events_dir, "parts")))
        settled_rss_kb = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1))
    finally:
        proc.terminate()
        proc.wait()
    stored = folder_bytes(events_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"switchboard: last acknowledgement after {elapsed:.1f} s ({at_last_ack / events:.1f} bytes/event on"
          f" disk then); every event in parts {settle:.1f} s later ({parts} parts, server RSS"
          f" {settled_rss_kb / 1024:.0f} MiB)")

    rows = [("switchboard (HTTP batches, fsync'd WAL, compacted to Parquet)", events / elapsed, stored / events, elapsed)]
    if not args.no_duckdb:
        duck_seconds, duck_bytes = duckdb_load(args.data)
        rows.append(("duckdb (read_ndjson_auto over the whole file + CHECKPOINT)", events / duck_seconds, duck_bytes / events, duck_seconds))

    print(f"\n{events:,} events from {args.data}, batches of {args.batch}, {args.connections} connections;"
          f" server RSS at the end {rss_kb / 1024:.0f} MiB\n")
    print("| system | events/s | bytes on disk/event | seconds |")
    print("|---|---:|---:|---:|")
    for name, rate, per_event, seconds in rows:
        print(f"| {name} | {rate:,.0f} | {per_event:,.1f} | {seconds:.1f} |")
    if len(rows) == 2:
        print(f"\nratio switchboard/duckdb: events/s {rows[0][1] / rows[1][1]:.2f},"
              f" bytes/event {rows[0][2] / rows[1][2]:.2f}")
    print(json.dumps({"events": events, "rows": rows}))


if __name__ == "__main__":
    main()
