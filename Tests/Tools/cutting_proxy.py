#!/usr/bin/env python3
"""A TCP proxy for tests: forwards 127.0.0.1:<listen> to 127.0.0.1:<port in TARGET_FILE> (read per connection,
so the server behind it can restart on a new port), counts the bytes clients send (written to STATS_FILE), and
cuts a connection once it has forwarded the number of bytes written in CUT_FILE (then removes that file).

usage: cutting_proxy.py LISTEN_PORT_FILE TARGET_FILE STATS_FILE CUT_FILE
"""
import os
import socket
import sys
import threading

port_file, target_file, stats_file, cut_file = sys.argv[1:5]
lock = threading.Lock()
upstream_total = 0


def add(count):
    global upstream_total
    with lock:
        upstream_total += count
        with open(stats_file + ".tmp", "w") as f:
            f.write(str(upstream_total))
        os.replace(stats_file + ".tmp", stats_file)


def cut_limit():
    try:
        with open(cut_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def pump(source, sink, upstream, state):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if upstream:
                limit = cut_limit()
                if limit is not None and state["sent"] + len(data) >= limit:
                    keep = max(0, limit - state["sent"])
                    if keep:
                        sink.sendall(data[:keep])
                        add(keep)
                    try:
                        os.remove(cut_file)
                    except OSError:
                        pass
                    break
                state["sent"] += len(data)
                add(len(data))
            sink.sendall(data)
    except OSError:
        pass
    for s in (source, sink):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def handle(client):
    with open(target_file) as f:
        port = int(f.read().strip())
    try:
        server = socket.create_connection(("127.0.0.1", port))
    except OSError:
        client.close()
        return
    state = {"sent": 0}
    threading.Thread(target=pump, args=(client, server, True, state), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, False, state), daemon=True).start()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
with open(port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.replace(port_file + ".tmp", port_file)
while True:
    connection, _ = listener.accept()
    handle(connection)
