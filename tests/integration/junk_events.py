#!/usr/bin/env python3
"""junk_events.py - flood a stream with events naming ever new workers (or
error types), pipelined over a socket, for test_cardinality.sh.

    junk_events.py PORT STREAM workers N    one command each from junk-0 .. junk-N-1
    junk_events.py PORT STREAM errors N     one error each, types JunkError0 ..

Prints the number sent.
"""
import socket
import sys


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    port, stream, kind, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(60)
    chunk = 5000
    for start in range(0, n, chunk):
        cmds = []
        for i in range(start, min(n, start + chunk)):
            if kind == "workers":
                cmds.append(resp("XADD", stream, "*", "type", "command", "tx", "junk-tx-%d" % i,
                                 "worker", "junk-%d" % i))
            else:
                cmds.append(resp("XADD", stream, "*", "type", "error", "tx", "junk-etx-%d" % i,
                                 "worker", "junk-errors", "error_type", "JunkError%d" % i,
                                 "error", "JunkError%d: junk" % i))
        s.sendall(b"".join(cmds) + resp("PING"))
        got = b""
        while not got.endswith(b"+PONG\r\n"):
            part = s.recv(1 << 20)
            if not part:
                sys.exit("redis closed the connection")
            got += part
    s.close()
    print(n)


if __name__ == "__main__":
    main()
