#!/usr/bin/python3
"""smtp_receiver.py - a local SMTP server for the notification tests.

aiosmtpd (Debian python3-aiosmtpd) on 127.0.0.1 (port 0: a free one,
written to --port-file); each message is appended to --out as one JSON
line: {"from": ..., "to": [...], "data": ...}.  Exits 3 when aiosmtpd is
missing: the test fails (it does not skip).
"""
import argparse
import json
import os
import socket
import sys
import time

try:
    from aiosmtpd.controller import Controller
except ImportError:
    sys.stderr.write("smtp_receiver: python3-aiosmtpd is not installed\n")
    sys.exit(3)


class Handler:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        rec = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
               "data": envelope.content.decode("utf-8", "replace")}
        with open(self.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 Message accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ctl = Controller(Handler(args.out), hostname="127.0.0.1", port=port)
    ctl.start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
