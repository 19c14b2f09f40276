"""Query benchmark: the 13 Keen-shaped queries through Switchboard's HTTP query API, next to DuckDB.

Loads the NDJSON files made by the shared generator (gen_events.py) into a fresh
`switchboard serve` through the batch write API (as ingest.py does), waits until compaction has
moved every event into Parquet parts, then asks the query suite of ../shared/bench/queries-keen.md
as Keen v3 requests (`POST /3.0/projects/{id}/queries/{analysis}`, read key in `Authorization`):
first every query once (its first run), then each one `--runs` more times (identical requests,
answered from the per-part aggregate cache). The server is then stopped; all of that is one
round, and `--rounds` rounds each load the data anew into a fresh folder and server. Then the
same files are loaded into a native DuckDB table and the same suite runs as SQL, taken from the
anchors' bench.py (`query_suite`): every query once, then `--runs` warm runs each. Prints per
query the medians (of the rounds' first runs, of all repeated runs) side by side with the
ratios to DuckDB's warm median, and their geometric means; counts that both systems define
alike are compared. A `GET /healthz` on the same connection before each repeated run gives the
HTTP round trip alone, the floor under every repeated answer. See bench/README.md.
"""

import argparse
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types

from ingest import batches, send_all, start_server, wait_compacted


def keen_suite(t30, t90):
    """{query name: run(ask) -> answer}, in the anchors' order; `ask(analysis, parameters)`
    sends one request and returns its `result`.

    q07 is two requests, the alternative queries-keen.md gives: the server ignores `order_by`
    and `limit` in a multi_analysis (as the hosted API did), so the top 10 SKUs by sum come from
    a `sum`, and their averages from an `average` filtered to those SKUs."""

    def single(analysis, collection, timeframe, **parameters):
        body = {"event_collection": collection, "timeframe": timeframe, **parameters}
        return lambda ask: ask(analysis, body)

    def eq(name, value):
        return {"property_name": name, "operator": "eq", "property_value": value}

    def top_skus(ask):
        price = {"event_collection": "purchases", "timeframe": t90, "target_property": "purchase.price",
                 "group_by": "purchase.sku"}
        sums = ask("sum", {**price, "order_by": {"property_name": "result", "direction": "DESC"}, "limit": 10})
        skus = [row["purchase.sku"] for row in sums]
        averages = ask("average", {**price, "filters": [
            {"property_name": "purchase.sku", "operator": "in", "property_value": skus}]})
        return {"sum": sums, "average": averages}

    def funnel_step(collection, *filters):
        return {"event_collection": collection, "actor_property": "user.id", "timeframe": t90,
                "filters": list(filters)}

    return {
        "q01_count_30d": single("count", "pageviews", t30),
        "q02_count_30d_filter_plan": single("count", "pageviews", t30, filters=[eq("user.plan", "pro")]),
        "q03_count_30d_by_country": single("count", "pageviews", t30, group_by="user.country"),
        "q04_count_30d_daily": single("count", "pageviews", t30, interval="daily", timezone="UTC"),
        "q05_count_30d_daily_by_device": single("count", "pageviews", t30, interval="daily", timezone="UTC",
                                                group_by="device.type"),
        "q06_count_unique_users_90d": single("count_unique", "pageviews", t90, target_property="user.id"),
        "q07_sum_avg_price_by_sku_top10": top_skus,
        "q08_median_p95_duration_30d": single("multi_analysis", "pageviews", t30, analyses={
            "median": {"analysis_type": "median", "target_property": "session.duration_ms"},
            "p95": {"analysis_type": "percentile", "target_property": "session.duration_ms", "percentile": 95}}),
        "q09_select_unique_referrer_90d": single("select_unique", "pageviews", t90,
                                                 target_property="referrer.domain"),
        "q10_extraction_latest_1000": single("extraction", "pageviews", t30, filters=[eq("user.country", "DE")],
                                             latest=1000),
        "q11_funnel_3_steps_90d": lambda ask: ask("funnel", {"steps": [
            funnel_step("signups"), funnel_step("pageviews", eq("page.url", "/pricing")),
            funnel_step("purchases")]}),
        "q12_dau_by_plan_30d": single("count_unique", "pageviews", t30, target_property="user.id",
                                      interval="daily", timezone="UTC", group_by="user.plan"),
        "q13_min_max_price_gt100_by_country": single("multi_analysis", "purchases", t90, analyses={
            "mn": {"analysis_type": "minimum", "target_property": "purchase.price"},
            "mx": {"analysis_type": "maximum", "target_property": "purchase.price"},
            "c": {"analysis_type": "count"}},
            filters=[{"property_name": "purchase.price", "operator": "gt", "property_value": 100}],
            group_by="user.country"),
    }


class QueryError(Exception):
    """A query answered with an error status."""


class Client:
    """Keen queries over one keep-alive HTTP/1.1 connection; `elapsed` sums the seconds spent
    from sending each request to reading its whole answer (decoding the JSON is not counted).

    The request is written and the answer framed (by its `Content-Length`) on a plain socket:
    Python's http.client parses each answer's headers with the email package, which took about
    0.09 ms a request on the 2-core machine, as long as the server takes to answer a repeated
    query from its cache."""

    def __init__(self, address, project, key):
        host, port = address.split(":")
        self.address = address
        self.sock = socket.create_connection((host, int(port)), timeout=3600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = (f"POST /3.0/projects/{project}/queries/{{analysis}} HTTP/1.1\r\nHost: {address}\r\n"
                     f"Authorization: {key}\r\nContent-Type: application/json\r\n"
                     "Content-Length: {length}\r\n\r\n")
        self.unread = b""
        self.elapsed = 0.0

    def receive(self, into):
        """Fills `into` (a memoryview) from the connection."""
        while len(into):
            got = self.sock.recv_into(into)
            if not got:
                raise QueryError("the server closed the connection")
            into = into[got:]

    def exchange(self, request, what):
        """Sends `request` (bytes) and reads its answer; returns (status, answer bytes) and adds
        the seconds between to `elapsed`."""
        start = time.perf_counter()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.unread:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise QueryError("the server closed the connection")
            self.unread += chunk
        head, self.unread = self.unread.split(b"\r\n\r\n", 1)
        length = re.search(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$", head)
        if length is None:
            raise QueryError(f"{what}: an answer without Content-Length: {head[:500]!r}")
        length = int(length.group(1))
        # The answer's bytes past those already read go straight into their place.
        answer = bytearray(length)
        have = min(length, len(self.unread))
        answer[:have], self.unread = self.unread[:have], self.unread[have:]
        self.receive(memoryview(answer)[have:])
        self.elapsed += time.perf_counter() - start
        return int(head.split(b" ", 2)[1]), answer

    def ask(self, analysis, parameters):
        body = json.dumps(parameters).encode()
        request = self.head.format(analysis=analysis, length=len(body)).encode() + body
        status, answer = self.exchange(request, analysis)
        if status != 200:
            raise QueryError(f"{analysis}: HTTP {status}: {answer[:500].decode(errors='replace')}")
        return json.loads(answer)["result"]

    def round_trip(self):
        """The seconds of one `GET /healthz` on the same connection: the round trip of a request
        that asks nothing of the server, which a repeated query's answer cannot beat."""
        self.elapsed = 0.0
        status, answer = self.exchange(f"GET /healthz HTTP/1.1\r\nHost: {self.address}\r\n\r\n".encode(),
                                       "healthz")
        if status != 200:
            raise QueryError(f"healthz: HTTP {status}: {answer[:500].decode(errors='replace')}")
        return self.elapsed

    def timed(self, run):
        """Runs one query (one or more requests); returns (seconds, answer)."""
        self.elapsed = 0.0
        answer = run(self.ask)
        return self.elapsed, answer


def read_key(binary, data_dir, project):
    """Creates a read key with the CLI (which works on the data folder of a running server):
    the banner's read key is not among what ingest.start_server returns."""
    created = subprocess.run(
        [binary, "key", "create", "--data-dir", data_dir, "--workspace", project, "--kind", "read",
         "--name", "query benchmark", "--json"],
        check=True, capture_output=True, text=True)
    return json.loads(created.stdout)["key"]


def run_switchboard(args, data_dir, suite):
    """Loads the data, then runs the suite; returns ({name: {"first", "repeated", "answer",
    "changed"}} ("changed": the repeated runs whose answer differed from the first run's) or
    {name: {"error"}}, the round trips of `GET /healthz` timed one before each repeated run),
    and prints the load figures on stderr."""
    bodies = batches(args.data, 5000)
    events = sum(n for n, _ in bodies)
    proc, address, project, write_key = start_server(args.binary, data_dir)
    try:
        seconds = send_all(address, project, write_key, bodies, 4)
        del bodies
        events_dir = os.path.join(data_dir, "workspaces", project, "events")
        settle = wait_compacted(events_dir)
        print(f"switchboard: {events:,} events loaded in {seconds:.1f} s, all in parts {settle:.1f} s later",
              file=sys.stderr, flush=True)
        with open(os.path.join(events_dir, "manifest.json")) as f:
            collections = json.load(f)["collections"]
        for name, collection in sorted(collections.items()):
            rows = ", ".join(f"{part['rows']:,}" for part in collection["parts"])
            print(f"switchboard: {name} in parts of {rows} events", file=sys.stderr, flush=True)
        client = Client(address, project, read_key(args.binary, data_dir, project))
        # The server looks a key up the first time it sees it (0.3-0.7 ms on the 2-core
        # machine): a count over a day without events, before the first runs, pays for that.
        client.ask("count", {"event_collection": "signups",
                             "timeframe": {"start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"}})
        results, round_trips = {}, []
        for name, run in suite.items():
            try:
                first, answer = client.timed(run)
                results[name] = {"first": first, "answer": answer}
            except QueryError as error:
                results[name] = {"error": str(error)}
                print(f"ERROR {name}: {error}", file=sys.stderr, flush=True)
        for name, run in suite.items():
            result = results[name]
            if "error" in result:
                continue
            result["repeated"], result["changed"] = [], []
            try:
                for i in range(args.runs):
                    round_trips.append(client.round_trip())
                    seconds, answer = client.timed(run)
                    result["repeated"].append(seconds)
                    if answer != result["answer"]:
                        result["changed"].append(i + 1)
            except QueryError as error:
                results[name] = {"error": f"repeated run {len(result['repeated']) + 1}: {error}"}
                print(f"ERROR {name}: {results[name]['error']}", file=sys.stderr, flush=True)
        return results, round_trips
    finally:
        proc.terminate()
        proc.wait()


def loaded_alike(answer):
    """`answer` without what each load gives events anew (`keen.id`, `keen.created_at`), so
    that extractions from two rounds compare."""
    if isinstance(answer, list):
        return [loaded_alike(item) for item in answer]
    if isinstance(answer, dict):
        return {key: ({k: v for k, v in value.items() if k not in ("id", "created_at")}
                      if key == "keen" and isinstance(value, dict) else loaded_alike(value))
                for key, value in answer.items()}
    return answer


def differs(first, other, where="result"):
    """Where `other` differs from `first` (as a path), or None. The parts a load cuts the events
    into depend on timing (the batches arrive over four connections, not always in the order
    they were sent), so two loads' answers may differ in what follows the order the parts are
    read in: numbers that are not integers in their last digits (a sum adds its parts' sums in
    another order), and groups in their order (groups come in the order of their first events
    as read), so lists of objects are compared in the order of their members other than such
    numbers (a group's key and its counts)."""
    if isinstance(first, float) or isinstance(other, float):
        if isinstance(first, (int, float)) and isinstance(other, (int, float)) \
                and math.isclose(first, other, rel_tol=1e-9, abs_tol=1e-9):
            return None
        return f"{where}: {first!r} then {other!r}"
    if isinstance(first, list) and isinstance(other, list) and len(first) == len(other):
        if all(isinstance(item, dict) for item in first + other):
            def group(item):
                return json.dumps({k: v for k, v in item.items() if not isinstance(v, float)}, sort_keys=True)
            first, other = sorted(first, key=group), sorted(other, key=group)
        return next(filter(None, (differs(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(first, other)))), None)
    if isinstance(first, dict) and isinstance(other, dict) and first.keys() == other.keys():
        return next(filter(None, (differs(first[k], other[k], f"{where}.{k}") for k in first)), None)
    return None if first == other else f"{where}: {str(first)[:200]} then {str(other)[:200]}"


def run_rounds(args, work, suite):
    """`args.rounds` rounds of `run_switchboard`, each on a fresh folder; returns ({name:
    {"firsts", "repeated", "answer", "changed"}} or {name: {"error"}}: the first run of every
    round, every round's repeated runs, the first round's first answer, and the runs (named
    "round R" or "round R, repeated run N") whose answer differed from it; every round's
    `GET /healthz` round trips)."""
    rounds, round_trips = [], []
    for number in range(1, args.rounds + 1):
        data_dir = os.path.join(work, "switchboard")
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"switchboard: round {number} of {args.rounds}", file=sys.stderr, flush=True)
        results, trips = run_switchboard(args, data_dir, suite)
        rounds.append(results)
        round_trips += trips
        shutil.rmtree(data_dir, ignore_errors=True)
    results = {}
    for name in suite:
        each = [round_[name] for round_ in rounds]
        failed = [f"round {number}: {result['error']}" for number, result in enumerate(each, 1) if "error" in result]
        if failed:
            results[name] = {"error": "; ".join(failed)}
            continue
        answer = each[0]["answer"]
        changed = [f"round {number}, repeated run {run}" for number, result in enumerate(each, 1)
                   for run in result["changed"]]
        changed += [f"round {number} ({difference})" for number, result in enumerate(each, 1)
                    if (difference := differs(loaded_alike(answer), loaded_alike(result["answer"])))]
        results[name] = {"firsts": [result["first"] for result in each], "answer": answer, "changed": changed,
                         "repeated": [seconds for result in each for seconds in result["repeated"]]}
    return results, round_trips


def run_duckdb(args, work, anchors, windows):
    """Loads the data into a native DuckDB table as bench.py does, then runs the same SQL;
    returns {name: {"first", "warm", "rows"}}."""
    options = types.SimpleNamespace(data=args.data, work=work, threads=0)
    load = anchors.Duck.load(options)
    print(f"duckdb {load['version']}: loaded in {load['total_s']:.1f} s", file=sys.stderr, flush=True)
    duck = anchors.Duck(options, "native")
    suite = anchors.query_suite("duckdb", windows)
    results = {}
    for name, _, sql in suite:
        start = time.perf_counter()
        table = duck.run(sql)
        results[name] = {"first": time.perf_counter() - start, "rows": table.to_pylist()}
    for name, _, sql in suite:
        warm = []
        for _ in range(args.runs):
            start = time.perf_counter()
            duck.run(sql)
            warm.append(time.perf_counter() - start)
        results[name]["warm"] = warm
    duck.con.close()
    return results


def comparable(name, answer, rows):
    """(Switchboard's figure, DuckDB's) for the queries both define alike, else None: counts and
    the exact count_unique. Median and percentile are not compared (Keen ranks, the SQL
    interpolates)."""
    if name in ("q01_count_30d", "q02_count_30d_filter_plan", "q06_count_unique_users_90d"):
        return answer, next(iter(rows[0].values()))
    if name == "q03_count_30d_by_country":
        return ({group["user.country"]: group["result"] for group in answer},
                {row["user_country"]: row["c"] for row in rows})
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="a release build of switchboard")
    parser.add_argument("--data", required=True, help="a gen_events.py output folder (NDJSON files)")
    parser.add_argument("--runs", type=int, default=5, help="repeated runs per query (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="loads into a fresh server, each followed by every query's first run and"
                             " its repeated runs (default 3)")
    parser.add_argument("--work", help="scratch folder for both systems' data (default: a temporary one,"
                                       " deleted at the end)")
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "bench"),
                        help="the anchors' folder holding bench.py (default ../../shared/bench)")
    parser.add_argument("--query-timeout", type=int, default=600,
                        help="the server's --query-timeout in seconds (default 600)")
    parser.add_argument("--out", help="also write the raw numbers to this JSON file")
    args = parser.parse_args()

    sys.path.insert(0, os.path.abspath(args.shared))
    import bench as anchors

    windows = anchors.windows(anchors.read_manifest(args.data))
    iso = {key: value.replace(" ", "T") + "Z" for key, value in windows.items()}
    suite = keen_suite({"start": iso["s30"], "end": iso["end"]}, {"start": iso["s90"], "end": iso["end"]})
    names = [name for name, _, _ in anchors.query_suite("duckdb", windows)]
    assert list(suite) == names, "the Keen suite must name the anchors' queries in their order"

    os.environ["SWITCHBOARD_QUERY_TIMEOUT"] = str(args.query_timeout)
    work = args.work or tempfile.mkdtemp(prefix="switchboard-query-")
    try:
        switchboard, round_trips = run_rounds(args, work, suite)
        duckdb = run_duckdb(args, work, anchors, windows)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    def ms(seconds):
        return f"{seconds * 1000:.2f}" if seconds < 0.01 else f"{seconds * 1000:.1f}"

    rows, notes = [], []
    print(f"\n{args.data}, {args.rounds} rounds of a first run and {args.runs} repeated runs per query;"
          " ratios are to DuckDB's warm median\n")
    print("| query | Switchboard first ms (median of rounds) | first ms, each round |"
          " Switchboard repeated ms (median) | DuckDB warm ms (median) | DuckDB first ms | ratio first/DuckDB |"
          " ratio repeated/DuckDB | first/repeated speedup |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        ours, theirs = switchboard[name], duckdb[name]
        row = {"query": name, "duckdb_first_s": theirs["first"], "duckdb_warm_s": theirs["warm"],
               "duckdb_warm_median_s": statistics.median(theirs["warm"])}
        duck_ms = f"{ms(row['duckdb_warm_median_s'])} | {ms(theirs['first'])}"
        if "error" in ours:
            row["error"] = ours["error"]
            notes.append(f"ERROR {name}: {ours['error']}")
            print(f"| {name} | error | error | error | {duck_ms} | | | |")
        else:
            row.update(switchboard_firsts_s=ours["firsts"], switchboard_first_median_s=statistics.median(ours["firsts"]),
                       switchboard_repeated_s=ours["repeated"],
                       switchboard_repeated_median_s=statistics.median(ours["repeated"]))
            row.update(ratio_first=row["switchboard_first_median_s"] / row["duckdb_warm_median_s"],
                       ratio_repeated=row["switchboard_repeated_median_s"] / row["duckdb_warm_median_s"],
                       speedup=row["switchboard_first_median_s"] / row["switchboard_repeated_median_s"])
            each = ", ".join(ms(seconds) for seconds in ours["firsts"])
            print(f"| {name} | {ms(row['switchboard_first_median_s'])} | {each} |"
                  f" {ms(row['switchboard_repeated_median_s'])} | {duck_ms} |"
                  f" {row['ratio_first']:.2f} | {row['ratio_repeated']:.2f} | {row['speedup']:.1f} |")
            if ours["changed"]:
                notes.append(f"MISMATCH {name}: {', '.join(ours['changed'])} answered differently from round 1's"
                             " first run")
            pair = comparable(name, ours["answer"], theirs["rows"])
            if pair and pair[0] != pair[1]:
                notes.append(f"MISMATCH {name}: switchboard {pair[0]!r}, duckdb {pair[1]!r}")
        rows.append(row)

    measured = [row for row in rows if "error" not in row]
    summary = {key: statistics.geometric_mean([row[key] for row in measured]) if measured else math.nan
               for key in ("ratio_first", "ratio_repeated", "speedup")}
    print(f"\ngeometric means over {len(measured)} queries: ratio first/DuckDB {summary['ratio_first']:.2f},"
          f" ratio repeated/DuckDB {summary['ratio_repeated']:.2f},"
          f" first/repeated speedup {summary['speedup']:.1f}")
    if measured:
        print(f"worst: ratio first/DuckDB {max(row['ratio_first'] for row in measured):.2f},"
              f" ratio repeated/DuckDB {max(row['ratio_repeated'] for row in measured):.2f},"
              f" speedup {min(row['speedup'] for row in measured):.1f}"
              " (goals at 10M: ratios at most 1.5, geometric mean at most 1.0, speedup at least 10)")
    if round_trips:
        print(f"the HTTP round trip alone (GET /healthz on the same connection, once before each repeated run):"
              f" median {ms(statistics.median(round_trips))} ms over {len(round_trips)} requests; a repeated"
              " answer cannot come sooner, so a first run under 10 times that cannot show a speedup of 10")
    for line in notes:
        print(line)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"data": args.data, "rounds": args.rounds, "runs": args.runs, "queries": rows, "geometric_means": summary,
                       "healthz_round_trips_s": round_trips, "notes": notes}, f, indent=1)


if __name__ == "__main__":
    main()
