# Exhibit — a digital evidence store for CCTV footage.
#
#   make run     install what is missing, build (release) and start Exhibit on ./Storage
#   make test    install what is missing and run the whole test suite
#   make load    60 s of 32 uploaders and 64 link downloaders against one server, then everything verifies
#   make bench   release build and the benchmarks, each beside a reference tool in the same run
#
# Everything installs from Debian's packages (apt-get, with sudo when not root) and does nothing when present.

SWIFT      ?= swift
STORAGE    ?= Storage
POLICIES   ?= Policies
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET    := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600

# Build and test dependencies: the C libraries Exhibit links, ffmpeg for test videos, Ceph (a single-node cluster
# with the RADOS Gateway: the real S3 store the object-storage tests run against), PostgreSQL (the catalog of a
# deployment at scale), nginx (the load balancer of the several-servers test), and the two independent checkers of
# a court bundle: Debian's python3-cryptography, and Go with the Go team's golang.org/x/mod (built offline).
DEPS       := libssl-dev libsqlite3-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
              pkg-config ffmpeg sqlite3 python3 python3-venv util-linux openssl curl chromium chromium-driver \
              ceph-mon ceph-osd radosgw ceph-common postgresql nginx-light \
              python3-cryptography golang-go golang-golang-x-mod-dev
# Python packages the tests drive real clients with (from PyPI; Debian's packages as a fallback).
PIP_DEPS   := selenium
# Reference tools the benchmarks compare against.
BENCH_DEPS := borgbackup restic nginx-light curl wrk

.PHONY: all deps bench-deps build release test load run bench fixtures clean

all: build

# Installs the Debian packages in $(1) that are not installed yet; nothing when all are there.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(DEPS))
	@for p in $(PIP_DEPS); do \
	  python3 -c "import $$p" 2>/dev/null && continue; \
	  echo "installing python package: $$p"; \
	  python3 -m pip install -q $$p 2>/dev/null || python3 -m pip install -q --break-system-packages $$p 2>/dev/null \
	    || $(APT_GET) install -y -q python3-$$p; \
	done
	@# tuspy (the Python tus client the upload tests interoperate with) and schemathesis (the API fuzzer the
	@# OpenAPI test runs), in a virtualenv of their own.
	@[ -x .build/py-venv/bin/python ] || /usr/bin/python3 -m venv .build/py-venv
	@.build/py-venv/bin/python -c "import tusclient" 2>/dev/null || { \
	  echo "installing tuspy into .build/py-venv"; .build/py-venv/bin/pip install -q tuspy; }
	@.build/py-venv/bin/python -c "import schemathesis" 2>/dev/null || { \
	  echo "installing schemathesis into .build/py-venv"; .build/py-venv/bin/pip install -q schemathesis; }
	@# markdown-it-py: the CommonMark parser the README test renders the README with.
	@.build/py-venv/bin/python -c "import markdown_it" 2>/dev/null || { \
	  echo "installing markdown-it-py into .build/py-venv"; .build/py-venv/bin/pip install -q markdown-it-py; }

bench-deps: deps
	$(call apt_install,$(BENCH_DEPS))
	@# boto3: the S3 client the object-storage rows compare against.
	@.build/py-venv/bin/python -c "import boto3" 2>/dev/null || { \
	  echo "installing boto3 into .build/py-venv"; .build/py-venv/bin/pip install -q boto3; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product exhibit

# The whole suite (local chunks + SQLite), then every test that opens a store again on the deployment at scale:
# chunks in S3 (a single-node Ceph cluster with the RADOS Gateway, Tests/Tools/ceph-rgw.sh) and the catalog in
# PostgreSQL (Tests/Tools/postgres.sh), both started and stopped by the tests. Skipped there (CI time): the suites
# that start engines of their own (they run in the first pass), the 300 MB resumable uploads from curl and from
# Chromium (the resumable path on S3 + PostgreSQL is covered by TusServerTests, MultiServerTests and the crash
# rounds), and the suites whose subject does not depend on where chunks and catalog live (slow clients, the
# OpenAPI fuzzing, Chromium playing working copies, the first pages' keyboard walk), and the CLI-ingest crash
# rounds (the server crash rounds, the long pole, do run there), and the two tests that fork a custody log by
# copying a storage root (a root on PostgreSQL shares its catalog with its copy, so there is nothing to fork;
# the witness and bundle code they test is the same on both). The web app's holds, statuses and users do run
# there: they are catalog writes; so do the backups (into a second bucket) and the scheduled scrub (repairing
# from it).
#
# Every wait in the tests is off Swift's cooperative pool, so tests run side by side: TEST_WIDTH of them at once
# (Swift Testing's SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH; unset it runs all at once, which on 2 cores
# starts ~150 servers and curl processes together). Each pass prints its time, and the total at the end.
TEST_WIDTH ?= 4
test: deps
	$(SWIFT) build --build-tests
	@start=$$(date +%s); \
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --skip-build || exit 1; \
	local=$$(( $$(date +%s) - start )); \
	echo "== pass 1 (local chunks + SQLite): $$local s =="; \
	if [ -x /usr/bin/radosgw ] && ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then \
	  echo "== the store, catalog and ledger tests again, on S3 (Ceph RGW) + PostgreSQL =="; \
	  second=$$(date +%s); \
	  EXHIBIT_TEST_CHUNKS=s3 EXHIBIT_TEST_CATALOG=postgres SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) \
	    $(SWIFT) test --skip-build --filter 'ExhibitCLITests|ExhibitServerTests' \
	    --skip 'ObjectStoreFaultTests|MultiServerTests|aLargeUploadSurvivesFiveInterruptions|SlowClientTests|OpenAPIFuzzTests|WorkingCopyServerTests|theCLIIngestKilled|aLargeBrowserUploadSurvives|theFirstPagesWorkInChromium|anOwnerAnswersARequestInChromium|aBundleFromAForkedLogFailsAgainstACheckpointOfTheOriginal|theWitnessCosignsOneHistoryAndRefusesAFork' || exit 1; \
	  echo "== pass 2 (S3 + PostgreSQL): $$(( $$(date +%s) - second )) s =="; \
	else \
	  echo "!!!! SKIPPED: the S3 + PostgreSQL run of the suite: Ceph or PostgreSQL is not installed and could not be (make deps) !!!!"; \
	fi; \
	echo "== make test: $$(( $$(date +%s) - start )) s in all (the goal: under 600 s on 2 cores) =="

# Load: one server on loopback under 32 concurrent uploaders and 64 concurrent share-link streamers for
# LOAD_SECONDS, from one Swift client process (exhibit-bench --load, Sources/ExhibitBench/LoadBench.swift), then
# every uploaded exhibit and the ledger must verify. CI runs it on the debug build it already has;
# `make load LOAD_BUILD=release` gives the README's figures.
LOAD_SECONDS ?= 60
LOAD_BUILD   ?= debug
load: deps
	$(SWIFT) build -c $(LOAD_BUILD) --product exhibit
	$(SWIFT) build -c $(LOAD_BUILD) --product exhibit-bench
	.build/$(LOAD_BUILD)/exhibit-bench --load .build/$(LOAD_BUILD)/exhibit $(POLICIES) --seconds $(LOAD_SECONDS)

EXHIBIT    := .build/release/exhibit
HOST       ?= 127.0.0.1
PORT       ?= 8080

# Starts the server on ./Storage; the first start creates the user `admin` and prints its token once.
run: release
	$(EXHIBIT) serve --storage $(STORAGE) --policies $(POLICIES) --host $(HOST) --port $(PORT)

bench: bench-deps
	$(SWIFT) build -c release --product exhibit
	$(SWIFT) build -c release --product exhibit-bench
	.build/release/exhibit-bench

fixtures: deps
	Tests/Fixtures/make-fixtures.sh

clean:
	$(SWIFT) package clean
	rm -rf .build/bench .build/demo
