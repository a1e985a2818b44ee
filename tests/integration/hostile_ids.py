#!/usr/bin/env python3
"""hostile_ids.py - write events whose ids and names are not text, in the
three encodings and on pub/sub, for test_identities.sh. Bytes go to Redis
as they are (RESP over a socket: redis-cli cannot send a NUL).

    hostile_ids.py PORT STREAM

Prints one JSON object: how many entries and messages were sent of each
kind, and how many of them must be refused as bad_id / not_json.
"""
import json
import socket
import sys


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def mp_str(b):
    n = len(b)
    if n < 32:
        return bytes([0xA0 | n]) + b
    if n < 256:
        return b"\xd9" + bytes([n]) + b
    return b"\xda" + n.to_bytes(2, "big") + b


def mp_map(pairs):
    return bytes([0x80 | len(pairs)]) + b"".join(mp_str(k) + mp_str(v) for k, v in pairs)


def main():
    port, stream = int(sys.argv[1]), sys.argv[2].encode()
    cmds = []
    want = {"bad_id": 0, "not_json": 0, "ok": 0, "pubsub_bad_id": 0}

    def xadd(*fv, expect="bad_id"):
        cmds.append(resp(b"XADD", stream, b"*", *fv))
        want[expect] += 1

    # flat fields: the 51 transactions that once became one trace "nul"
    for i in range(51):
        xadd(b"type", b"command", b"tx", b"nul\x00tx-%d" % i, b"worker", b"w-flat",
             b"id", b"c-%d" % i)
    bad_values = {
        b"worker": [b"nul\x00worker", b"bad\xffworker", b"a\nb", b"x" * 257],
        b"step": [b"st\x00ep", b"\xc0\xafstep"],
        b"id": [b"id\x00"],
        b"type": [b"command\x00x"],
    }
    for key, values in bad_values.items():
        for v in values:
            fv = {b"type": b"command", b"tx": b"tx-flat-ok", b"worker": b"w-flat", key: v}
            xadd(*[x for kv in fv.items() for x in kv])
    xadd(b"type", b"error", b"tx", b"tx-flat-ok", b"worker", b"w-flat",
         b"error_type", b"Net\xffError")
    # msgpack in field m
    for key, v in [(b"tx", b"nul\x00tx"), (b"worker", b"bad\xfe"), (b"worker", b"w\x00"),
                   (b"step", b"s" * 300), (b"id", b"\xed\xa0\x80"), (b"error_type", b"E\x01")]:
        pairs = {b"type": b"error", b"tx": b"tx-mp-ok", b"worker": b"w-mp"}
        pairs[key] = v
        xadd(b"m", mp_map(list(pairs.items())))
    # JSON in field json: \u0000 is JSON, raw invalid UTF-8 is not
    for key in ["tx", "worker", "step", "id"]:
        body = {"type": "command", "tx": "tx-json-ok", "worker": "w-json"}
        body[key] = "nul\u0000" + key
        xadd(b"json", json.dumps(body).encode())
    xadd(b"json", b'{"type":"command","tx":"tx-json-ok","worker":"bad\xff"}', expect="not_json")
    # valid ones beside them: still tracked
    xadd(b"type", b"command", b"tx", b"tx-good", b"worker", b"good-worker", b"id", b"g-1",
         expect="ok")
    xadd(b"type", b"result", b"tx", b"tx-good", b"worker", b"good-worker", b"id", b"g-2",
         b"cmd", b"g-1", b"ok", b"true", expect="ok")
    # pub/sub: channels that are not text, and a body whose worker is not
    body = b'{"type": "command", "tx": "tx-ps", "id": "p-1"}'
    for ch in [b"multiagent:command.nul\x00w", b"multiagent:command.\xff", b"multiagent:x\x01"]:
        cmds.append(resp(b"PUBLISH", ch, body))
        want["pubsub_bad_id"] += 1
    cmds.append(resp(b"PUBLISH", b"multiagent:command.w",
                     b'{"type": "command", "tx": "tx-ps", "worker": "w\\u0000x", "id": "p-2"}'))
    want["pubsub_bad_id"] += 1

    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"".join(cmds) + resp(b"PING"))
    s.settimeout(10)
    got = b""
    while not got.endswith(b"+PONG\r\n"):  # every reply before it is in
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    if b"-ERR" in got:
        sys.exit("redis refused a command: %r" % got[:200])
    want["sent"] = len(cmds)
    print(json.dumps(want))


if __name__ == "__main__":
    main()
