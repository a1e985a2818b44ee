#!/usr/bin/python3
"""smtp_receiver.py - an SMTP server on 127.0.0.1 for the e-mail sink's test.

Debian's python3-aiosmtpd (run with /usr/bin/python3). Every message it
accepts is one JSON line in --out: {"from", "to", "user", "data"} (data: the
message as received, headers and body). With --user and --password it
offers AUTH (PLAIN, LOGIN) without TLS and refuses any other login; with
--reject-rcpt ADDR it answers 550 to that recipient; with --tls-cert and
--tls-key it offers STARTTLS and requires it before AUTH and MAIL (each
record then says "tls": true); with --no-quit-reply it never answers QUIT
(the connection stays open, silent). It writes its port to --port-file and exits
by itself after --max-seconds.
"""
import argparse
import asyncio
import json
import socket
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out, reject):
        self.out = out
        self.reject = reject

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        ad = session.auth_data
        user = ad.login.decode() if isinstance(ad, LoginPassword) else None
        rec = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "user": user,
               "tls": session.ssl is not None,
               "data": envelope.content.decode("utf-8", "replace")}
        with open(self.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 Message accepted"


class SilentQuit(Handler):
    async def handle_QUIT(self, server, session, envelope):
        await asyncio.sleep(3600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--reject-rcpt")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--no-quit-reply", action="store_true")
    a = ap.parse_args()

    def auth(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == a.user
              and data.password.decode() == a.password)
        return AuthResult(success=ok, auth_data=data if ok else None)

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kw = {}
    if a.user:
        kw = dict(authenticator=auth, auth_require_tls=bool(a.tls_cert), auth_required=True)
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw.update(tls_context=ctx, require_starttls=True)
    handler = (SilentQuit if a.no_quit_reply else Handler)(a.out, a.reject_rcpt)
    ctl = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        time.sleep(a.max_seconds)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
