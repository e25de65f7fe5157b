# Exhibit — a digital evidence store for CCTV footage.
#
#   make run     install what is missing, build (release) and start Exhibit on ./Storage
#   make test    install what is missing and run the whole test suite
#   make bench   release build and the benchmarks, each beside a reference tool in the same run
#
# Everything installs from Debian's packages (apt-get, with sudo when not root) and does nothing when present.

SWIFT      ?= swift
STORAGE    ?= Storage
POLICIES   ?= Policies
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET    := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600

# Build and test dependencies: the C libraries Exhibit links, ffmpeg for test videos.
DEPS       := libssl-dev libsqlite3-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
              pkg-config ffmpeg sqlite3 python3 util-linux openssl
# Reference tools the benchmarks compare against.
BENCH_DEPS := borgbackup restic

.PHONY: all deps bench-deps build release test run bench fixtures clean

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

bench-deps: deps
	$(call apt_install,$(BENCH_DEPS))

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product exhibit

test: deps
	$(SWIFT) test

EXHIBIT    := .build/release/exhibit
WHERE      := --storage $(STORAGE) --policies $(POLICIES)

# Until the HTTP server lands, `run` stores a short demo video as an exhibit and verifies the store and ledger.
run: release
	@mkdir -p .build/demo
	@[ -f .build/demo/demo.mp4 ] || ffmpeg -nostdin -v error -y -f lavfi -i testsrc=duration=5:size=640x360:rate=25 \
	  -c:v libx264 -pix_fmt yuv420p -metadata creation_time=2024-03-01T14:00:00Z .build/demo/demo.mp4
	@$(EXHIBIT) case list --as demo $(WHERE) >/dev/null 2>&1 || $(EXHIBIT) user add demo --role investigator --full-name "Demo User" $(WHERE)
	@$(EXHIBIT) case show DEMO/1 --as demo $(WHERE) >/dev/null 2>&1 || $(EXHIBIT) case create DEMO/1 --title "Demo case" --as demo $(WHERE)
	$(EXHIBIT) ingest --case DEMO/1 --as demo $(WHERE) .build/demo/demo.mp4
	$(EXHIBIT) verify $(WHERE)
	$(EXHIBIT) custody verify $(WHERE)

bench: bench-deps
	$(SWIFT) build -c release --product exhibit
	$(SWIFT) build -c release --product exhibit-bench
	.build/release/exhibit-bench

fixtures: deps
	Tests/Fixtures/make-fixtures.sh

clean:
	$(SWIFT) package clean
	rm -rf .build/bench .build/demo
