#!/usr/bin/env python3
"""A ground-truth business metric workload for test_metrics.sh.

Writes redis-cli commands (one per line) on stdout and the exact figures it
expects, as JSON, to the file named by argv[1]:

  order_value   histogram, tags customer_tier (premium|basic) and user_id
                (denied by the test's config), 600 values, in the three
                encodings (flat fields, JSON, msgpack is the json2msgpack
                driver's job: here flat and JSON)
  logins        counter, 50 increments of 2
  queue_depth   gauge, tag queue=mail, 40 levels with rising ts: last = the newest
  spend         histogram, tag sku=0..29: 30 series against metrics.max_series
  bad events    no name, a value that is not a number, NaN, an unknown kind
"""
import json
import math
import random
import sys

random.seed(17)
out = []
truth = {"order_value": {}, "logins": {}, "queue_depth": {}, "bad": 4}


def q(vals, p):
    s = sorted(vals)
    r = max(1, math.ceil(p * len(s)))
    return s[r - 1]


vals = {"premium": [], "basic": []}
for i in range(600):
    tier = "premium" if i % 3 == 0 else "basic"
    v = round(random.uniform(5, 500) if tier == "premium" else random.uniform(1, 80), 2)
    vals[tier].append(v)
    if i % 2:
        out.append("XADD busmon:events * type metric name order_value value %r tag.customer_tier %s tag.user_id u%d" % (v, tier, i))
    else:
        body = {"type": "metric", "name": "order_value", "value": v,
                "tags": {"customer_tier": tier, "user_id": "u%d" % i}}
        out.append("XADD busmon:events * json '%s'" % json.dumps(body))
for tier, vs in vals.items():
    truth["order_value"][tier] = {"count": len(vs), "sum": sum(vs), "min": min(vs), "max": max(vs),
                                  "p95": q(vs, 0.95)}
for i in range(50):
    out.append("XADD busmon:events * type metric name logins value 2 kind counter")
truth["logins"] = {"count": 50, "sum": 100}
for i in range(40):
    out.append("XADD busmon:events * type metric name queue_depth value %d kind gauge tag.queue mail ts %d" % (100 - i, 1700000000000 + i))
truth["queue_depth"] = {"last": 61, "min": 61, "max": 100}
for i in range(30):
    out.append("XADD busmon:events * type metric name spend value 1 tag.sku %d" % i)
# bad ones
out.append("XADD busmon:events * type metric value 3")
out.append("XADD busmon:events * type metric name order_value value lots")
out.append("XADD busmon:events * type metric name order_value value NaN")
out.append("XADD busmon:events * type metric name order_value value 1 kind summary")
with open(sys.argv[1], "w") as f:
    json.dump(truth, f)
print("\n".join(out))
