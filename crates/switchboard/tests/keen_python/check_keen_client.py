"""Drives the official Keen Python client (PyPI `keen`) against a live Switchboard.

Run by tests/cli/keen_python.rs with SWITCHBOARD_URL, PROJECT_ID, WRITE_KEY, READ_KEY and
MASTER_KEY set.
Exits non-zero, with the failed assertion, if the client and the server disagree.
"""

import datetime
import os

import keen
from keen import scoped_keys
from keen.client import KeenClient

client = KeenClient(
    project_id=os.environ["PROJECT_ID"],
    write_key=os.environ["WRITE_KEY"],
    read_key=os.environ["READ_KEY"],
    base_url=os.environ["SWITCHBOARD_URL"],
)

# Single events, one with a naive microsecond timestamp as Python's isoformat() writes it.
client.add_event("signups", {"plan": "pro", "user": {"id": 1, "tags": ["a", "b"]}})
client.add_event("signups", {"plan": "free", "keen": {"timestamp": datetime.datetime.utcnow().isoformat()}})

# A batch across two collections: one result per event, in order.
result = client.add_events({"signups": [{"plan": "pro"}, {"plan": "team"}], "pageviews": [{"path": "/"}]})
assert result == {"signups": [{"success": True}, {"success": True}], "pageviews": [{"success": True}]}, result

# Read-your-writes through the client's GET queries.
assert client.count("signups") == 4, client.count("signups")
assert client.count("pageviews") == 1
pro = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]
assert client.count("signups", filters=pro) == 2
assert client.count("signups", timeframe="this_1_days") == 4
assert client.count("signups", timeframe="previous_1_days") == 0

# Analyses through the client's helpers.
client.add_events({"purchases": [{"price": 10, "plan": "pro"}, {"price": 20, "plan": "free"}]})
assert client.sum("purchases", target_property="price") == 30
assert client.median("purchases", target_property="price") == 10
assert client.percentile("purchases", target_property="price", percentile=100) == 20
assert client.count_unique("purchases", target_property="plan") == 2
assert client.minimum("purchases", target_property="price") == 10
assert client.maximum("purchases", target_property="price") == 20
assert client.average("purchases", target_property="price") == 15
# The client has no helper for standard_deviation; its generic query call sends the same GET.
deviation = client.api.query("standard_deviation", {"event_collection": "purchases", "target_property": "price"})
assert deviation == 5, deviation
series = client.count("signups", timeframe="this_1_days", interval="hourly")
assert sum(bucket["value"] for bucket in series) == 4, series
assert sorted(client.select_unique("purchases", target_property="plan")) == ["free", "pro"]
grouped = client.count("signups", group_by="plan")
assert sorted((g["plan"], g["result"]) for g in grouped) == [("free", 1), ("pro", 2), ("team", 1)], grouped

latest = client.extraction("purchases", latest=1, property_names=["price"])
assert latest == [{"price": 20}], latest
both = client.multi_analysis(
    "purchases",
    analyses={"total": {"analysis_type": "sum", "target_property": "price"}, "n": {"analysis_type": "count"}},
)
assert both == {"total": 30, "n": 2}, both

funnel = client.funnel([
    {"event_collection": "purchases", "actor_property": "plan"},
    {"event_collection": "signups", "actor_property": "plan"},
])
assert funnel == [2, 2], funnel

# A bad event is refused with Keen's error, and the client raises.
try:
    client.add_event("signups", {"bad.name": 1})
except keen.exceptions.KeenApiError as error:
    assert "InvalidPropertyNameError" in str(error), str(error)
else:
    raise AssertionError("a property name with a dot was accepted")
assert client.count("signups") == 4

# Scoped keys made by the client from the master key: their filters are forced onto queries,
# and their allowed_operations gate reads and writes.
master = os.environ["MASTER_KEY"]
pro_reader = scoped_keys.encrypt(master, {"allowed_operations": ["read"], "filters": pro})
scoped = KeenClient(project_id=os.environ["PROJECT_ID"], read_key=pro_reader, base_url=os.environ["SWITCHBOARD_URL"])
assert scoped.count("signups") == 2, scoped.count("signups")
assert scoped.count("signups", filters=[{"property_name": "plan", "operator": "eq", "property_value": "free"}]) == 0
writer_key = scoped_keys.encrypt(master, {"allowed_operations": ["write"]})
writer = KeenClient(project_id=os.environ["PROJECT_ID"], write_key=writer_key, read_key=writer_key,
                    base_url=os.environ["SWITCHBOARD_URL"])
writer.add_event("signups", {"plan": "enterprise"})
assert client.count("signups") == 5
try:
    writer.count("signups")
except keen.exceptions.KeenApiError as error:
    assert "InvalidApiKeyError" in str(error), str(error)
else:
    raise AssertionError("a write-only scoped key ran a query")

# Saved queries through the client's saved_queries interface: the master key for definitions,
# the read key for results.
saved_client = KeenClient(
    project_id=os.environ["PROJECT_ID"],
    read_key=os.environ["READ_KEY"],
    master_key=master,
    base_url=os.environ["SWITCHBOARD_URL"],
)
saved = saved_client.saved_queries
definition = saved.create("total-price", {
    "refresh_rate": 0,
    "query": {"analysis_type": "sum", "event_collection": "purchases", "target_property": "price"},
    "metadata": {"display_name": "Total price"},
})
assert definition["query_name"] == "total-price", definition
assert definition["query"]["target_property"] == "price", definition
assert [q["query_name"] for q in saved.all()] == ["total-price"], saved.all()
assert saved.get("total-price")["metadata"] == {"display_name": "Total price"}
assert saved.results("total-price")["result"] == 30
# update() fetches the definition and PUTs it back with the changes merged in.
updated = saved.update("total-price", {"query": {"group_by": "plan"}, "refresh_rate": 14400})
assert updated["refresh_rate"] == 14400 and updated["query"]["group_by"] == "plan", updated
grouped = saved.results("total-price")["result"]
assert sorted((g["plan"], g["result"]) for g in grouped) == [("free", 20), ("pro", 10)], grouped
try:
    saved.create("never", {"query": {"analysis_type": "sum", "event_collection": "purchases"}})
except keen.exceptions.KeenApiError as error:
    assert "MissingRequiredPropertyError" in str(error), str(error)
else:
    raise AssertionError("a saved query without its target_property was stored")
assert saved.delete("total-price") is True
assert saved.all() == []
try:
    saved.get("total-price")
except keen.exceptions.KeenApiError as error:
    assert "ResourceNotFoundError" in str(error), str(error)
else:
    raise AssertionError("a deleted saved query was found")

print("keen client: ok")
