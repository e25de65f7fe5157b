#!/usr/bin/env python3
"""Slow and stalled HTTP clients against one server, to check it cuts them off.

usage: slow_clients.py HOST PORT TOKEN UPLOAD_PATH PER_KIND DEADLINE_SECONDS

Opens PER_KIND connections of each kind and keeps each as slow as its kind says until the server closes it
or DEADLINE_SECONDS pass:
  idle     connects and sends nothing
  headers  sends a request line and then its headers one byte every half second, never finishing them
  stall    sends an upload's headers (Content-Length 50 MB) and 200 KB of body, then nothing
  trickle  sends an upload's headers and then 10 bytes of body every half second
Prints one JSON object: for each kind, how many connections were opened, how many the server cut off and the
longest time to the cut (seconds from the connection's first byte or connect).
"""
import json
import select
import socket
import sys
import threading
import time

host, port, token, upload_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
per_kind, deadline_seconds = int(sys.argv[5]), float(sys.argv[6])
deadline = time.monotonic() + deadline_seconds
results = {kind: {"opened": 0, "cut": 0, "longest": 0.0} for kind in ["idle", "headers", "stall", "trickle"]}
lock = threading.Lock()

upload_head = (
    f"POST {upload_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
    "Content-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n"
).encode()


def closed(sock):
    """True when the server has closed the connection (readable with no data, or reset)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(65536) == b""
    except OSError:
        return True


def run(kind):
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError:
        return
    started = time.monotonic()
    with lock:
        results[kind]["opened"] += 1
    cut = False
    try:
        if kind == "headers":
            sock.sendall(f"GET /v1/cases HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
        elif kind in ("stall", "trickle"):
            sock.sendall(upload_head)
            if kind == "stall":
                sock.sendall(b"\0" * 200_000)
        while time.monotonic() < deadline:
            if closed(sock):
                cut = True
                break
            if kind == "headers":
                sock.sendall(b"a")
            elif kind == "trickle":
                sock.sendall(b"\0" * 10)
            time.sleep(0.5)
    except OSError:
        cut = True
    finally:
        sock.close()
    if cut:
        with lock:
            results[kind]["cut"] += 1
            results[kind]["longest"] = max(results[kind]["longest"], round(time.monotonic() - started, 2))


threads = [threading.Thread(target=run, args=(kind,)) for kind in results for _ in range(per_kind)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
