#!/usr/bin/env python3
"""redis_master.py - a tiny fake Redis master for the redis plugin tests.

    redis_master.py --rdb FILE --mode MODE --port-file FILE

Listens on 127.0.0.1 (a free port, written to --port-file) and answers
what the plugin sends: AUTH, PING, INFO (server and keyspace sections),
REPLCONF with +OK, then SYNC with the RDB in FILE, spoiled by MODE:

    good       the RDB as it is, with $<len> framing
    bitflip    one byte in the middle inverted (CRC-64 mismatch)
    truncated  $<len> of the whole file, half of it sent, then closed
    badmagic   "XEDIS" instead of "REDIS"

Standard library only; one thread per connection; runs until killed.
"""
import argparse
import os
import socket
import threading


def rdb_bytes(path, mode):
    data = bytearray(open(path, "rb").read())
    if mode == "bitflip":
        data[len(data) // 2] ^= 0xFF
    elif mode == "badmagic":
        data[0:1] = b"X"
    return bytes(data)


def read_command(f):
    """One command as a list of bytes, RESP array or inline; None at EOF."""
    line = f.readline()
    if not line:
        return None
    line = line.rstrip(b"\r\n")
    if not line.startswith(b"*"):
        return line.split()
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline().rstrip(b"\r\n")[1:])
        args.append(f.read(n + 2)[:-2])
    return args


def serve(conn, rdb, mode):
    f = conn.makefile("rb")
    info = (b"# Server\r\nredis_version:7.0.99\r\n\r\n"
            b"# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n")
    try:
        while True:
            cmd = read_command(f)
            if cmd is None or not cmd:
                return
            name = cmd[0].upper()
            if name == b"PING":
                conn.sendall(b"+PONG\r\n")
            elif name == b"INFO":
                conn.sendall(b"$%d\r\n%s\r\n" % (len(info), info))
            elif name in (b"AUTH", b"REPLCONF"):
                conn.sendall(b"+OK\r\n")
            elif name == b"SYNC":
                conn.sendall(b"\n\n$%d\r\n" % len(rdb))
                if mode == "truncated":
                    conn.sendall(rdb[: len(rdb) // 2])
                else:
                    conn.sendall(rdb)
                return
            else:
                conn.sendall(b"-ERR unknown command\r\n")
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rdb", required=True)
    ap.add_argument("--mode", default="good",
                    choices=["good", "bitflip", "truncated", "badmagic"])
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    rdb = rdb_bytes(a.rdb, a.mode)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as pf:
        pf.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, a.port_file)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, rdb, a.mode),
                         daemon=True).start()


if __name__ == "__main__":
    main()
