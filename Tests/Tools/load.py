#!/usr/bin/env python3
"""`make load`: one real server on loopback under 32 concurrent uploaders and 64 concurrent share-link
downloaders for a bounded time; then every uploaded exhibit and the custody ledger must verify.

usage: load.py EXHIBIT_BINARY POLICIES_DIR [--seconds 60] [--uploaders 32] [--downloaders 64] [--max-rss-mib 1024]

Every request is made by curl (a real, independent client); latencies are curl's time_total. Exits 1 on any
failed request, a failed verification, or a server whose resident memory went past --max-rss-mib.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("exhibit")
parser.add_argument("policies")
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--uploaders", type=int, default=32)
parser.add_argument("--downloaders", type=int, default=64)
parser.add_argument("--upload-size", type=int, default=4 << 20)
parser.add_argument("--max-rss-mib", type=int, default=1024)
parser.add_argument("--seed", type=int, default=int(os.environ.get("EXHIBIT_TEST_SEED", "0") or 0) or random.randint(1, 999_999))
args = parser.parse_args()
rng = random.Random(args.seed)
work = tempfile.mkdtemp(prefix="exhibit-load-")
storage = os.path.join(work, "Storage")
print(f"load: {args.uploaders} uploaders and {args.downloaders} link downloaders for {args.seconds:.0f} s, seed {args.seed}, in {work}", flush=True)


def curl(*arguments, body_file=None):
    """Runs curl; returns (http status, seconds, body bytes)."""
    command = ["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code} %{time_total}", *arguments]
    if body_file:
        command += ["--data-binary", "@" + body_file]
    result = subprocess.run(command, capture_output=True)
    out = result.stdout
    tail = out.rsplit(b"\n", 1)[-1].decode() if b"\n" in out else "0 0"
    status, seconds = tail.split(" ") if " " in tail else ("0", "0")
    body = out[: out.rfind(b"\n")] if b"\n" in out else b""
    return int(status or 0), float(seconds or 0), body


# The policies as given, but with a playback budget a load test does not exhaust (every streamer plays one of four
# links over and over: far past the watching-through-a-few-times a real link is allowed).
policies = os.path.join(work, "Policies")
shutil.copytree(args.policies, policies)
sharing = open(os.path.join(policies, "sharing.yaml")).read()
if "playback_budget:" not in sharing:
    sys.exit("load: Policies/sharing.yaml has no playback_budget to raise")
open(os.path.join(policies, "sharing.yaml"), "w").write(re.sub(r"playback_budget: *\d+", "playback_budget: 1000", sharing))
server = subprocess.Popen(
    [args.exhibit, "serve", "--storage", storage, "--policies", policies, "--port", "0"],
    stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.err"), "wb"), env={**os.environ, "LOG_LEVEL": "error"})
text = ""
while "listening on" not in text or "first-admin-token" not in text:
    line = server.stdout.readline().decode()
    if not line:
        sys.exit("load: the server did not start: " + open(os.path.join(work, "server.err")).read())
    text += line
url = re.search(r"http://127\.0\.0\.1:[0-9]+", text).group(0)
# Not a terminal: the first admin's token is in a file of mode 0600 (never in the server's output).
admin = open(os.path.join(storage, "first-admin-token")).read().strip()
failures = []
try:
    def api(method, path, token, payload=None):
        arguments = ["-X", method, "-H", f"Authorization: Bearer {token}", url + path]
        if payload is not None:
            arguments += ["-H", "Content-Type: application/json", "--data", json.dumps(payload)]
        status, _, body = curl(*arguments)
        if status >= 300:
            sys.exit(f"load: setup {method} {path} answered {status}: {body[:300]!r}")
        return json.loads(body or b"{}")

    token = api("POST", "/v1/users", admin, {"name": "loader", "role": "investigator", "full_name": "Load Test"})["token"]
    api("POST", "/v1/cases", token, {"reference": "LOAD/1"})
    # Footage the links serve: four 2 MiB exhibits, each shared once.
    links = []
    for index in range(4):
        path = os.path.join(work, f"shared{index}.bin")
        with open(path, "wb") as file:
            file.write(rng.randbytes(2 << 20))
        status, _, body = curl("-H", f"Authorization: Bearer {token}", url + f"/v1/cases/LOAD%2F1/exhibits?filename=shared{index}.bin", body_file=path)
        if status != 201:
            sys.exit(f"load: setup upload answered {status}")
        exhibit = json.loads(body)["id"]
        links.append(api("POST", f"/v1/exhibits/{exhibit}/shares", token, {"expires_in": "24h", "recipient": "CPS"})["url"])
    base = rng.randbytes(args.upload_size)

    stop = time.monotonic() + args.seconds
    lock = threading.Lock()
    uploads, downloads = [], []  # (seconds, bytes)
    uploaded = []  # (exhibit id, sha256 of the file)
    peak_rss = [0]

    def uploader(number):
        count = 0
        path = os.path.join(work, f"upload-{number}.bin")
        local = random.Random(args.seed * 1000 + number)
        while time.monotonic() < stop:
            # Each upload is new footage: a unique head on shared bytes (its first chunk is new, the rest dedupes).
            head = local.randbytes(1 << 16)
            with open(path, "wb") as file:
                file.write(head)
                file.write(base)
            status, seconds, body = curl("-H", f"Authorization: Bearer {token}",
                                         url + f"/v1/cases/LOAD%2F1/exhibits?filename=u{number}-{count}.bin", body_file=path)
            count += 1
            with lock:
                if status != 201:
                    failures.append(f"upload answered {status}: {body[:200]!r}")
                    continue
                reply = json.loads(body)
                uploads.append((seconds, len(head) + len(base)))
                uploaded.append((reply["id"], reply["sha256"]))

    def downloader(number):
        local = random.Random(args.seed * 2000 + number)
        while time.monotonic() < stop:
            link = local.choice(links)
            # What a browser's player does with a link: the whole stream, or ranged reads of it, under a view id
            # (one share.accessed event per view; downloads with ?download= are capped per share by policy).
            stream = f"{link}?play=master&view=load{number}x{local.randrange(8)}"
            if local.random() < 0.5:
                # A player asks for the whole stream as a range from the start (playback is served in ranges only).
                status, seconds, body = curl("-H", "Range: bytes=0-", stream)
                ok = status == 206 and len(body) == 2 << 20
            else:
                start = local.randrange(0, (2 << 20) - 65536)
                status, seconds, body = curl("-H", f"Range: bytes={start}-{start + 65535}", stream)
                ok = status == 206 and len(body) == 65536
            with lock:
                if not ok:
                    failures.append(f"link answered {status} ({len(body)} bytes)")
                else:
                    downloads.append((seconds, len(body)))

    def sampler():
        while time.monotonic() < stop + 5 and server.poll() is None:
            try:
                with open(f"/proc/{server.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            peak_rss[0] = max(peak_rss[0], int(line.split()[1]) * 1024)
            except OSError:
                pass
            time.sleep(0.25)

    threads = [threading.Thread(target=uploader, args=(n,)) for n in range(args.uploaders)]
    threads += [threading.Thread(target=downloader, args=(n,)) for n in range(args.downloaders)]
    threads.append(threading.Thread(target=sampler))
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    def p(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0

    up_seconds = [s for s, _ in uploads]
    down_seconds = [s for s, _ in downloads]
    print(f"load: uploads   {len(uploads)} in {elapsed:.0f} s = {len(uploads) / elapsed:.1f}/s, "
          f"{sum(b for _, b in uploads) / elapsed / (1 << 20):.1f} MiB/s, p50 {p(up_seconds, 0.5) * 1000:.0f} ms, p99 {p(up_seconds, 0.99) * 1000:.0f} ms")
    print(f"load: downloads {len(downloads)} in {elapsed:.0f} s = {len(downloads) / elapsed:.1f}/s, "
          f"{sum(b for _, b in downloads) / elapsed / (1 << 20):.1f} MiB/s, p50 {p(down_seconds, 0.5) * 1000:.0f} ms, p99 {p(down_seconds, 0.99) * 1000:.0f} ms")
    print(f"load: server peak RSS {peak_rss[0] / (1 << 20):.0f} MiB (bound {args.max_rss_mib} MiB); errors {len(failures)}")
    for failure in failures[:10]:
        print("load: FAILED " + failure)
    if server.poll() is not None:
        failures.append("the server died")

    # Afterwards: every uploaded exhibit is whole (the store re-hashed) and the ledger verifies.
    common = ["--storage", storage, "--policies", args.policies]
    verify = subprocess.run([args.exhibit, "verify", *common], capture_output=True, text=True)
    print("load: exhibit verify: " + (verify.stdout.strip().splitlines() or ["?"])[-1])
    custody = subprocess.run([args.exhibit, "custody", "verify", *common], capture_output=True, text=True)
    print("load: exhibit custody verify: " + (custody.stdout.strip() or custody.stderr.strip()))
    stored = subprocess.run(["sqlite3", os.path.join(storage, "exhibit.sqlite"), "SELECT id, blob FROM exhibits"], capture_output=True, text=True).stdout
    rows = dict(line.split("|") for line in stored.splitlines() if "|" in line)
    missing = [id for id, sha in uploaded if rows.get(id) != sha]
    if verify.returncode != 0:
        failures.append("exhibit verify failed: " + verify.stdout[-500:])
    if custody.returncode != 0:
        failures.append("custody verify failed: " + custody.stdout[-500:] + custody.stderr[-500:])
    if missing:
        failures.append(f"{len(missing)} acknowledged uploads are not stored as acknowledged")
    if not uploads or not downloads:
        failures.append("no upload or no download completed")
    if peak_rss[0] > args.max_rss_mib << 20:
        failures.append(f"server RSS {peak_rss[0] >> 20} MiB is past the bound")
finally:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    if not failures:
        shutil.rmtree(work, ignore_errors=True)

if failures:
    print(f"load: FAILED ({len(failures)} problems; the store is kept in {work})")
    sys.exit(1)
print("load: ok: zero errors, every uploaded exhibit verifies, the ledger verifies")
