#!/usr/bin/env python3
"""Run a command on a pseudo-terminal of a given size, as a person's terminal
would: its stdin and stdout are the pty, the pty is its controlling terminal.

usage: pty_run.py --size ROWSxCOLS [--at SECONDS ACTION]... --for SECONDS
                  [--out FILE] [--last-frame FILE] -- CMD [ARG]...

  --at S size=RxC   at S seconds, resize the terminal (the command gets SIGWINCH)
  --at S keys=TEXT  at S seconds, type TEXT
  --at S signal=N   at S seconds, send signal N to the command
  --for S           stop waiting after S seconds (SIGTERM, then SIGKILL)
  --out FILE        everything the command wrote, raw
  --last-frame FILE what the screen holds after the last clear (ESC[H ESC[2J),
                    colour codes taken out: the last frame a live view drew

Prints the terminal's modes after the command ended (`stty -g`-like: the
lflag as a number) on stdout as `lflag=N before=M`, and exits with the
command's exit code (124 when it had to be stopped, 128+N for a signal).
"""
import argparse
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def parse_size(s):
    rows, cols = s.lower().split("x")
    return int(rows), int(cols)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", required=True)
    ap.add_argument("--at", nargs=2, action="append", default=[], metavar=("S", "ACTION"))
    ap.add_argument("--for", dest="limit", type=float, required=True)
    ap.add_argument("--out")
    ap.add_argument("--last-frame")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    rows, cols = parse_size(a.size)
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    set_size(master, rows, cols)
    lflag_before = termios.tcgetattr(master)[3]
    actions = sorted((float(s), act) for s, act in a.at)
    out = bytearray()
    start = time.monotonic()
    status = None
    stopped = False
    eof = False
    while status is None:
        now = time.monotonic() - start
        while actions and actions[0][0] <= now:
            _, act = actions.pop(0)
            kind, _, val = act.partition("=")
            if kind == "size":
                set_size(master, *parse_size(val))
            elif kind == "keys":
                os.write(master, val.encode())
            elif kind == "signal":
                os.kill(pid, int(val))
        if now >= a.limit and not stopped:
            os.kill(pid, signal.SIGTERM)
            stopped = True
        if stopped and now >= a.limit + 3:
            os.kill(pid, signal.SIGKILL)
        if not eof and select.select([master], [], [], 0.05)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command's side is closed
                data = b""
            if data:
                out += data
                continue
            eof = True
        elif eof:
            time.sleep(0.05)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    lflag_after = termios.tcgetattr(master)[3]
    os.close(master)
    if a.out:
        with open(a.out, "wb") as f:
            f.write(out)
    if a.last_frame:
        text = out.decode("utf-8", "replace")
        frame = text.split("\x1b[H\x1b[2J")[-1]
        frame = re.sub(r"\x1b\[[0-9;]*m", "", frame).replace("\r", "")
        with open(a.last_frame, "w") as f:
            f.write(frame)
    print(f"lflag={lflag_after} before={lflag_before}")
    if stopped:
        sys.exit(124)
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
