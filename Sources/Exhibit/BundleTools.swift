// The two verifiers a court bundle carries, written into every bundle as they are here. Both are tested in
// `make test` against real bundles and every tampering (CourtBundleTests); the Go one builds offline from
// Debian's golang-go and golang-golang-x-mod-dev.

enum BundleTools {
    /// `verify_bundle.py`: Debian's python3 and python3-cryptography, nothing else.
    static let python = ##"""
#!/usr/bin/env python3
"""Checks an Exhibit court bundle offline, without Exhibit.

    python3 verify_bundle.py BUNDLE [--vkey KEY] [--previous CHECKPOINT] [--witness KEY]...

BUNDLE is the bundle's folder, or the zip as it was made.

KEY is the log's verifier key the force publishes (text, or a file holding it); without it the bundle's own
log.vkey is used, which proves nothing on its own. CHECKPOINT is an earlier signed checkpoint you hold: the
bundle's log must extend it. Needs only Debian's python3 and python3-cryptography. Exit 0 when every check
passes, 1 naming each failure.
"""
import base64, hashlib, json, os, struct, sys, tempfile, zipfile
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Fail(Exception):
    pass


def b64(text):
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise Fail("not base64: %r" % text[:40])


def parse_vkey(text):
    parts = text.strip().split("+", 2)  # the base64 may hold '+': split at the first two only
    if len(parts) != 3 or len(parts[1]) != 8:
        raise Fail("not a verifier key: %r" % text.strip()[:80])
    name, raw = parts[0], b64(parts[2])
    if len(raw) != 33 or raw[0] not in (1, 4):
        raise Fail("not an Ed25519 (1) or cosignature (4) verifier key: %s" % name)
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != parts[1]:
        raise Fail("the verifier key's ID does not match its name and key: %s" % name)
    return {"name": name, "id": key_id, "type": raw[0], "key": Ed25519PublicKey.from_public_bytes(raw[1:]), "vkey": text.strip()}


def parse_note(data):
    text = data.decode("utf-8")
    if not text.endswith("\n") or "\n\n" not in text:
        raise Fail("a signed note is text, a blank line and signature lines")
    split = text.rindex("\n\n")
    body, signatures = text[:split + 1], []
    for line in text[split + 2:].split("\n")[:-1]:
        if not line.startswith("\u2014 ") or line.count(" ") != 2:
            raise Fail("a signature line is '\u2014 <name> <base64>'")
        name, payload = line[2:].split(" ")
        raw = b64(payload)
        signatures.append((name, raw[:4], raw[4:]))
    return body, signatures


def check_signature(body, signatures, key):
    """None when the key did not sign; the time of a cosignature (0 for a log signature); Fail when it does not verify."""
    found = None
    for name, key_id, signature in signatures:
        if name != key["name"] or key_id != key["id"]:
            continue  # unknown keys are ignored
        try:
            if key["type"] == 1:
                key["key"].verify(signature, body.encode())
                found = 0
            else:
                time = struct.unpack(">Q", signature[:8])[0]
                key["key"].verify(signature[8:], ("cosignature/v1\ntime %d\n" % time).encode() + body.encode())
                found = time
        except (InvalidSignature, struct.error):
            raise Fail("the signature of %s (key %s) does not verify: the note was changed or signed by another key" % (key["name"], key["id"].hex()))
    return found


def parse_checkpoint(body):
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "" or not lines[1].isdigit() or str(int(lines[1])) != lines[1]:
        raise Fail("a checkpoint is three lines: origin, tree size, root")
    root = b64(lines[2])
    if len(root) != 32:
        raise Fail("the checkpoint's root is not 32 bytes")
    return lines[0], int(lines[1]), root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):  # RFC 9162, 2.1.3.2
    if index >= size:
        raise Fail("the leaf index %d is not below the tree size %d" % (index, size))
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Fail("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Fail("the inclusion proof does not lead to the signed root")


def verify_consistency(m, n, old, new, proof):  # RFC 9162, 2.1.4.2
    if m == n:
        if proof or old != new:
            raise Fail("two different roots for the same tree size: the log forked")
        return
    if not proof:
        raise Fail("the consistency proof is empty")
    if m & (m - 1) == 0:
        proof = [old] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise Fail("the consistency proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old or sr != new:
        raise Fail("the newer tree does not extend the older one: history was rewritten")


def parse_tlog_proof(data):
    text = data.decode("utf-8")
    split = text.index("\n\n")
    lines = text[:split].split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Fail("not a c2sp.org/tlog-proof@v1")
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest = rest[1:]
    if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
        raise Fail("a tlog proof's second line is 'index <n>'")
    path = [b64(line) for line in rest[1:]]
    if any(len(h) != 32 for h in path):
        raise Fail("a hash of the inclusion path is not 32 bytes")
    return int(rest[0][6:]), path, text[split + 2:].encode()


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    folder, options, extra_witnesses = argv[1], {}, []
    args = argv[2:]
    while args:
        if len(args) < 2 or args[0] not in ("--vkey", "--previous", "--witness"):
            sys.exit(__doc__)
        value = args[1]
        if args[0] == "--witness":
            extra_witnesses.append(value)
        else:
            options[args[0]] = value
        args = args[2:]

    if os.path.isfile(folder) and zipfile.is_zipfile(folder):
        # A zipped bundle: unpacked into a temporary folder (removed at exit), then checked as a folder.
        unpacked = tempfile.TemporaryDirectory()
        try:
            with zipfile.ZipFile(folder) as archive:
                names = archive.namelist()
                if any(name.startswith("/") or ".." in name.split("/") for name in names):
                    sys.exit("FAILED: the zip holds an entry outside its folder")
                archive.extractall(unpacked.name)
        except (zipfile.BadZipFile, OSError) as error:
            print("FAILED: the zip is damaged: %s" % error)
            print("the bundle does NOT verify")
            return 1
        tops = {name.split("/")[0] for name in names}
        folder = os.path.join(unpacked.name, tops.pop()) if len(tops) == 1 else unpacked.name

    def read(path):
        full = os.path.join(folder, path)
        return open(full, "rb").read() if os.path.isfile(full) else None

    def text_or_file(value):
        return open(value).read() if os.path.isfile(value) else value

    proved, problems, notes = [], [], []
    try:
        manifest = json.loads(read("manifest.json") or b"null")
        if not isinstance(manifest, dict) or manifest.get("format") != "exhibit-court-bundle" or manifest.get("version") != 1:
            raise Fail("manifest.json is not an exhibit-court-bundle of version 1")
        bundled = parse_vkey((read("log.vkey") or b"").decode())
        key = parse_vkey(text_or_file(options["--vkey"])) if "--vkey" in options else bundled
        if "--vkey" not in options:
            notes.append("checked against the bundle's own key %s: compare it with the key the force publishes" % bundled["vkey"])
        body, signatures = parse_note(read("checkpoint") or b"")
        origin, size, root = parse_checkpoint(body)
        if origin != key["name"]:
            raise Fail("the checkpoint is of log %s, not of %s" % (origin, key["name"]))
        if check_signature(body, signatures, key) is None:
            raise Fail("the checkpoint is not signed by %s (key %s): it was signed by another key" % (key["name"], key["id"].hex()))
        proved.append("the checkpoint (%d events, root %s...) is signed by the log key %s+%s" % (size, root.hex()[:16], key["name"], key["id"].hex()))

        # The manifest's witnesses count towards its quorum; every witness named with --witness must have cosigned.
        cosigned = []
        for vkey in manifest.get("witnesses", []):
            witness = parse_vkey(vkey)
            if witness["type"] == 4:
                time = check_signature(body, signatures, witness)
                if time is not None and witness["name"] not in [c[0] for c in cosigned]:
                    cosigned.append((witness["name"], time))
        for vkey in extra_witnesses:
            witness = parse_vkey(text_or_file(vkey))
            if witness["type"] != 4 or check_signature(body, signatures, witness) is None:
                problems.append("the witness %s did not cosign the checkpoint" % witness["name"])
        if len(cosigned) < manifest.get("quorum", 0):
            problems.append("the checkpoint carries %d witness cosignature(s); the policy asks for %d" % (len(cosigned), manifest["quorum"]))
        elif cosigned:
            proved.append("witnesses cosigned the checkpoint: " + ", ".join("%s at %d" % c for c in cosigned))

        leaves, events = {}, {}
        for seq in manifest["events"]:
            event_path, proof_path = "events/%08d.json" % seq, "events/%08d.tlog-proof" % seq
            data = read(event_path)
            if data is None:
                problems.append("%s is missing" % event_path)
                continue
            try:
                event = json.loads(data)
                if event.get("seq") != seq:
                    raise Fail("it holds event %s: events were reordered or renamed" % event.get("seq"))
                index, path, note = parse_tlog_proof(read(proof_path) or b"")
                if index != seq - 1:
                    raise Fail("it is the proof of leaf %d, not of event %d" % (index, seq))
                if parse_note(note)[0] != body:
                    raise Fail("its proof leads to another checkpoint, not the bundle's")
                leaf = hashlib.sha256(b"\x00" + data).digest()
                verify_inclusion(seq - 1, size, leaf, path, root)
            except (Fail, ValueError) as error:
                problems.append("event %d (%s): not proven in the signed log: %s" % (seq, event_path, error))
                continue
            leaves[seq], events[seq] = leaf, event

        created = events.get(manifest["bundle_event"])
        if not created or created.get("action") != "bundle.created":
            raise Fail("the bundle's bundle.created event (seq %s) is missing or not proven" % manifest["bundle_event"])
        details = created["details"]
        others = [leaves[s] for s in sorted(leaves) if s != manifest["bundle_event"]]
        digest = hashlib.sha256(b"".join(others)).hexdigest()
        if len(others) != details["events"]["count"] or digest != details["events"]["leaves_sha256"]:
            problems.append("the bundle holds %d proven events of its exhibits; its bundle.created event (in the signed log) says %d: an event was dropped, added or changed" % (len(others), details["events"]["count"]))
        else:
            proved.append("the %d custody event(s) of the bundle's exhibits up to its creation are all present and unchanged, each in the signed log" % len(others))

        paths = {e["id"]: e for e in manifest["exhibits"]}
        for exhibit in details["exhibits"]:
            entry = paths.get(exhibit["id"])
            if entry is None:
                problems.append("exhibit %s is named by the log but not by the manifest" % exhibit["reference"])
                continue
            full = os.path.join(folder, entry["path"])
            if not os.path.isfile(full):
                problems.append("%s (exhibit %s) is missing" % (entry["path"], exhibit["reference"]))
                continue
            hasher, count = hashlib.sha256(), 0
            with open(full, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    hasher.update(block)
                    count += len(block)
            if hasher.hexdigest() != exhibit["sha256"] or count != exhibit["size"]:
                problems.append("%s (exhibit %s): SHA-256 %s is not the %s the signed log records: the footage was changed" % (entry["path"], exhibit["reference"], hasher.hexdigest(), exhibit["sha256"]))
            else:
                proved.append("%s is exhibit %s byte for byte (SHA-256 %s)" % (entry["path"], exhibit["reference"], exhibit["sha256"]))

        if "--previous" in options:
            old_body, old_signatures = parse_note(open(options["--previous"], "rb").read())
            old_origin, old_size, old_root = parse_checkpoint(old_body)
            if old_origin != origin or check_signature(old_body, old_signatures, key) is None:
                raise Fail("the earlier checkpoint is not signed by %s" % key["name"])
            try:
                if old_size > size:
                    raise Fail("it is larger than the bundle's: the bundle is older")
                proof = []
                if 0 < old_size < size:
                    proof = [b64(line) for line in (read("consistency/%d.txt" % old_size) or b"").decode().split("\n")[1:] if line]
                verify_consistency(old_size, size, old_root, root, proof)
                proved.append("the log at the earlier checkpoint (%d events) is a prefix of the bundle's: nothing before it was rewritten" % old_size)
            except Fail as error:
                problems.append("the bundle's log is not an extension of the earlier checkpoint (%d events): %s" % (old_size, error))
    except (Fail, KeyError, TypeError, ValueError, OSError) as error:
        problems.append(str(error))

    for line in notes:
        print("note:", line)
    for line in proved:
        print("proved:", line)
    for line in problems:
        print("FAILED:", line)
    print("ok: the bundle verifies" if not problems else "the bundle does NOT verify")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
"""##

    /// `verify_bundle.go`: the Go team's golang.org/x/mod/sumdb/note and sumdb/tlog.
    static let go = ##"""
// Checks an Exhibit court bundle offline with the Go team's own transparency-log code
// (golang.org/x/mod/sumdb/note and sumdb/tlog, from Debian's golang-golang-x-mod-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run verify_bundle.go BUNDLE [--vkey KEY] [--previous CHECKPOINT]
//
// BUNDLE is the bundle's folder, or the zip as it was made.
// KEY is the log's verifier key the force publishes (text, or a file holding it); without it the bundle's own
// log.vkey is used, which proves nothing on its own. CHECKPOINT is an earlier signed checkpoint you hold.
// Witness cosignatures (type 4) are not checked here (x/mod's note package verifies Ed25519 log signatures
// only): verify_bundle.py checks them. Exit 0 when every check passes, 1 naming each failure.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type manifest struct {
	Format      string  `json:"format"`
	Version     int     `json:"version"`
	BundleEvent int64   `json:"bundle_event"`
	Events      []int64 `json:"events"`
	Exhibits    []struct {
		ID   string `json:"id"`
		Path string `json:"path"`
	} `json:"exhibits"`
}

type event struct {
	Seq     int64  `json:"seq"`
	Action  string `json:"action"`
	Details struct {
		Exhibits []struct {
			ID        string `json:"id"`
			Reference string `json:"reference"`
			SHA256    string `json:"sha256"`
			Size      int64  `json:"size"`
		} `json:"exhibits"`
		Events struct {
			Count        int    `json:"count"`
			LeavesSHA256 string `json:"leaves_sha256"`
		} `json:"events"`
	} `json:"details"`
}

// checkpoint opens a signed note with the log key and reads its three lines.
func checkpoint(msg []byte, verifier note.Verifier) (string, int64, tlog.Hash, string, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return "", 0, tlog.Hash{}, "", fmt.Errorf("the checkpoint is not signed by %s: %v", verifier.Name(), err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return "", 0, tlog.Hash{}, "", errors.New("a checkpoint is three lines: origin, tree size, root")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	raw, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || err2 != nil || len(raw) != 32 || strconv.FormatInt(size, 10) != lines[1] {
		return "", 0, tlog.Hash{}, "", errors.New("malformed checkpoint")
	}
	var root tlog.Hash
	copy(root[:], raw)
	return lines[0], size, root, n.Text, nil
}

func hashes(lines []string) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, line := range lines {
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != 32 {
			return nil, errors.New("a proof hash is not base64 of 32 bytes")
		}
		var h tlog.Hash
		copy(h[:], raw)
		out = append(out, h)
	}
	return out, nil
}

func textOrFile(value string) string {
	if data, err := os.ReadFile(value); err == nil {
		return strings.TrimSpace(string(data))
	}
	return strings.TrimSpace(value)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run verify_bundle.go BUNDLE [--vkey KEY] [--previous CHECKPOINT]")
		os.Exit(2)
	}
	dir := os.Args[1]
	options := map[string]string{}
	for i := 2; i+1 < len(os.Args); i += 2 {
		options[os.Args[i]] = os.Args[i+1]
	}
	cleanup := func() {}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		unpacked, temp, err := unzip(dir)
		if temp != "" {
			cleanup = func() { os.RemoveAll(temp) }
		}
		if err != nil {
			cleanup()
			fmt.Println("FAILED:", err)
			os.Exit(1)
		}
		dir = unpacked
	}
	read := func(path string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return nil
		}
		return data
	}
	var proved, problems []string
	fail := func(format string, args ...interface{}) { problems = append(problems, fmt.Sprintf(format, args...)) }
	finish := func() {
		cleanup()
		for _, p := range proved {
			fmt.Println("proved:", p)
		}
		for _, p := range problems {
			fmt.Println("FAILED:", p)
		}
		if len(problems) > 0 {
			fmt.Println("the bundle does NOT verify")
			os.Exit(1)
		}
		fmt.Println("ok: the bundle verifies")
	}
	defer finish()

	if _, ok := options["--witness"]; ok {
		fmt.Println("note: witness cosignatures are not checked by this program (x/mod verifies Ed25519 log signatures only): verify_bundle.py checks them")
	}
	var m manifest
	if err := json.Unmarshal(read("manifest.json"), &m); err != nil || m.Format != "exhibit-court-bundle" || m.Version != 1 {
		fail("manifest.json is not an exhibit-court-bundle of version 1")
		return
	}
	vkey := strings.TrimSpace(string(read("log.vkey")))
	if v, ok := options["--vkey"]; ok {
		vkey = textOrFile(v)
	} else {
		fmt.Println("note: checked against the bundle's own key " + vkey + ": compare it with the key the force publishes")
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("the log key: %v", err)
		return
	}
	origin, size, root, text, err := checkpoint(read("checkpoint"), verifier)
	if err != nil {
		fail("%v: it was signed by another key, or changed", err)
		return
	}
	if origin != verifier.Name() {
		fail("the checkpoint is of log %s, not of %s", origin, verifier.Name())
		return
	}
	proved = append(proved, fmt.Sprintf("the checkpoint (%d events) is signed by the log key %s", size, vkey))

	leaves := map[int64]tlog.Hash{}
	var created *event
	for _, seq := range m.Events {
		name := fmt.Sprintf("events/%08d", seq)
		data := read(name + ".json")
		proof := string(read(name + ".tlog-proof"))
		var e event
		if data == nil || json.Unmarshal(data, &e) != nil {
			fail("%s.json is missing or not an event", name)
			continue
		}
		if e.Seq != seq {
			fail("%s.json holds event %d: events were reordered or renamed", name, e.Seq)
			continue
		}
		split := strings.Index(proof, "\n\n")
		if split < 0 {
			fail("event %d: its proof is malformed", seq)
			continue
		}
		lines := strings.Split(proof[:split], "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" {
			fail("event %d: its proof is not a c2sp.org/tlog-proof@v1", seq)
			continue
		}
		lines = lines[1:]
		if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
			lines = lines[1:]
		}
		if len(lines) == 0 || lines[0] != "index "+strconv.FormatInt(seq-1, 10) {
			fail("event %d: its proof is not for leaf %d", seq, seq-1)
			continue
		}
		path, err := hashes(lines[1:])
		if err != nil {
			fail("event %d: %v", seq, err)
			continue
		}
		if _, _, _, proofText, err := checkpoint([]byte(proof[split+2:]), verifier); err != nil || proofText != text {
			fail("event %d: its proof leads to another checkpoint, not the bundle's", seq)
			continue
		}
		leaf := tlog.RecordHash(data)
		if err := tlog.CheckRecord(tlog.RecordProof(path), size, root, seq-1, leaf); err != nil {
			fail("event %d (%s.json): not proven in the signed log: %v", seq, name, err)
			continue
		}
		leaves[seq] = leaf
		if seq == m.BundleEvent {
			e := e
			created = &e
		}
	}
	if created == nil || created.Action != "bundle.created" {
		fail("the bundle's bundle.created event (seq %d) is missing or not proven", m.BundleEvent)
		return
	}
	var seqs []int64
	for seq := range leaves {
		if seq != m.BundleEvent {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	digest := sha256.New()
	for _, seq := range seqs {
		h := leaves[seq]
		digest.Write(h[:])
	}
	if len(seqs) != created.Details.Events.Count || hex.EncodeToString(digest.Sum(nil)) != created.Details.Events.LeavesSHA256 {
		fail("the bundle holds %d proven events of its exhibits; its bundle.created event (in the signed log) says %d: an event was dropped, added or changed", len(seqs), created.Details.Events.Count)
	} else {
		proved = append(proved, fmt.Sprintf("the %d custody event(s) of the bundle's exhibits up to its creation are all present and unchanged, each in the signed log", len(seqs)))
	}

	paths := map[string]string{}
	for _, e := range m.Exhibits {
		paths[e.ID] = e.Path
	}
	for _, x := range created.Details.Exhibits {
		path, ok := paths[x.ID]
		if !ok {
			fail("exhibit %s is named by the log but not by the manifest", x.Reference)
			continue
		}
		f, err := os.Open(filepath.Join(dir, path))
		if err != nil {
			fail("%s (exhibit %s) is missing", path, x.Reference)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		sum := hex.EncodeToString(h.Sum(nil))
		if err != nil || sum != x.SHA256 || n != x.Size {
			fail("%s (exhibit %s): SHA-256 %s is not the %s the signed log records: the footage was changed", path, x.Reference, sum, x.SHA256)
		} else {
			proved = append(proved, fmt.Sprintf("%s is exhibit %s byte for byte (SHA-256 %s)", path, x.Reference, x.SHA256))
		}
	}

	if previous, ok := options["--previous"]; ok {
		data, _ := os.ReadFile(previous)
		_, oldSize, oldRoot, _, err := checkpoint(data, verifier)
		if err != nil {
			fail("the earlier checkpoint: %v", err)
			return
		}
		var proof []tlog.Hash
		if oldSize > 0 && oldSize < size {
			lines := strings.Split(strings.TrimSpace(string(read(fmt.Sprintf("consistency/%d.txt", oldSize)))), "\n")
			if len(lines) > 0 {
				proof, err = hashes(lines[1:])
			}
		}
		switch {
		case oldSize > size:
			fail("the earlier checkpoint (%d events) is larger than the bundle's: the bundle is older", oldSize)
		case oldSize == size && oldRoot != root:
			fail("the bundle's log is not an extension of the earlier checkpoint: two roots for %d events, the log forked", size)
		case oldSize < size && (err != nil || tlog.CheckTree(tlog.TreeProof(proof), size, root, oldSize, oldRoot) != nil):
			fail("the bundle's log is not an extension of the earlier checkpoint (%d events): history was rewritten", oldSize)
		default:
			proved = append(proved, fmt.Sprintf("the log at the earlier checkpoint (%d events) is a prefix of the bundle's", oldSize))
		}
	}
}

// unzip unpacks a zipped bundle into a new temporary folder; returns the bundle's folder in it and the
// temporary folder (to remove when done).
func unzip(path string) (string, string, error) {
	archive, err := zip.OpenReader(path)
	if err != nil {
		return "", "", fmt.Errorf("%s is neither a bundle's folder nor a zip: %v", path, err)
	}
	defer archive.Close()
	temp, err := os.MkdirTemp("", "bundle-")
	if err != nil {
		return "", "", err
	}
	tops := map[string]bool{}
	for _, file := range archive.File {
		if strings.HasPrefix(file.Name, "/") || strings.Contains("/"+file.Name+"/", "/../") {
			return "", temp, fmt.Errorf("the zip holds an entry outside its folder: %s", file.Name)
		}
		tops[strings.SplitN(file.Name, "/", 2)[0]] = true
		target := filepath.Join(temp, file.Name)
		if strings.HasSuffix(file.Name, "/") {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", temp, err
		}
		in, err := file.Open()
		if err != nil {
			return "", temp, err
		}
		out, err := os.Create(target)
		if err == nil {
			_, err = io.Copy(out, in)
			out.Close()
		}
		in.Close()
		if err != nil {
			return "", temp, err
		}
	}
	if len(tops) == 1 {
		for top := range tops {
			return filepath.Join(temp, top), temp, nil
		}
	}
	return temp, temp, nil
}
"""##
}
