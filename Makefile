# flowcam build, run and test entry points. `make help` lists them.
# Every target installs what it needs first (.ci/deps), so a fresh Debian 12
# machine needs nothing by hand.

SHELL       := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X flowcam/internal/buildinfo.version=$(VERSION) -X flowcam/internal/buildinfo.commit=$(COMMIT)
RTSP_ADDR   ?= :8554
RTSP_PORT    = $(lastword $(subst :, ,$(RTSP_ADDR)))
FUZZTIME    ?= 10s
# Fuzz workers per target; 1 leaves the other cores to whoever shares the machine.
FUZZPARALLEL ?= 1
# Unit tests run with the race detector; integration tests drive the real binary.
UNIT_PKGS   := ./capture/... ./stream/... ./platform/... ./cmd/... ./internal/...

# Release binaries: static, cgo with libjpeg-turbo linked in, netgo/osusergo
# so nothing reaches for glibc's NSS at run time. -linkmode external makes the
# C linker do the final link, which is what -static applies to.
STATIC_TAGS   := netgo,osusergo
STATIC_FLAGS  := -trimpath -tags $(STATIC_TAGS) -ldflags '$(LDFLAGS) -linkmode external -extldflags "-static"'
# Cross compilers per target: Debian's gcc-aarch64-linux-gnu and
# gcc-arm-linux-gnueabihf; the foreign libjpeg sits in a sysroot (.ci/sysroot).
CROSS_arm64   := GOARCH=arm64 CC=aarch64-linux-gnu-gcc
CROSS_armv7   := GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc
TRIPLET_arm64 := aarch64-linux-gnu
TRIPLET_armv7 := arm-linux-gnueabihf
DEBARCH_arm64 := arm64
DEBARCH_armv7 := armhf

.DEFAULT_GOAL := help
.PHONY: help deps build amd64 arm64 armv7 cross nocgo run test test-unit test-integration test-hostile soak test-netns test-v4l2 test-boards test-web bench fuzz lint clean deb deb-amd64 deb-arm64 deb-armhf test-packaging

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

deps: ## install build dependencies (gcc, libjpeg-turbo, Go) if missing
	@.ci/deps build

build: deps ## build bin/flowcamd and bin/flowcam
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/flowcamd ./cmd/flowcamd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/flowcam ./cmd/flowcam

amd64: deps ## static bin/linux-amd64/{flowcamd,flowcam}
	@mkdir -p bin/linux-amd64
	CGO_ENABLED=1 $(GO) build $(STATIC_FLAGS) -o bin/linux-amd64/flowcamd ./cmd/flowcamd
	CGO_ENABLED=1 $(GO) build $(STATIC_FLAGS) -o bin/linux-amd64/flowcam ./cmd/flowcam

arm64 armv7: deps ## static ARM binaries in bin/linux-arm64, bin/linux-armv7 (cross-compiled)
	@.ci/deps cross
	@mkdir -p bin/linux-$@
	sr=$$(.ci/sysroot $(DEBARCH_$@)) && for cmd in flowcamd flowcam; do \
	  CGO_ENABLED=1 $(CROSS_$@) CGO_CFLAGS="-O2 -I$$sr/usr/include -I$$sr/usr/include/$(TRIPLET_$@)" \
	    CGO_LDFLAGS="-L$$sr/usr/lib/$(TRIPLET_$@)" \
	    $(GO) build $(STATIC_FLAGS) -o bin/linux-$@/$$cmd ./cmd/$$cmd || exit 1; \
	done

cross: amd64 arm64 armv7 ## all three static targets

nocgo: ## CGO_ENABLED=0 build: pure-Go JPEG encoder, no V4L2 cameras (bin/nocgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nocgo/flowcamd ./cmd/flowcamd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nocgo/flowcam ./cmd/flowcam

run: build ## serve the built-in test pattern on rtsp://localhost:8554/cam
	@echo "play it with:  ffplay rtsp://127.0.0.1:$(RTSP_PORT)/cam"
	@echo "           or: gst-launch-1.0 rtspsrc location=rtsp://127.0.0.1:$(RTSP_PORT)/cam ! rtpjpegdepay ! jpegdec ! autovideosink"
	@echo "   or browse:  http://127.0.0.1:8080/  (status page, live MJPEG, metrics)"
	./bin/flowcamd --source pattern --rtsp-addr $(RTSP_ADDR)

test: ## run every test: vet, unit (race), the daemon against ffmpeg/GStreamer/gortsplib, multi-flow in network namespaces, a V4L2 camera in a VM
	@.ci/deps test
	$(MAKE) --no-print-directory lint build
	$(MAKE) --no-print-directory test-unit test-integration test-hostile test-web test-netns test-v4l2 test-boards test-packaging

test-unit: ## unit tests with the race detector, then the allocation checks without it (it makes sync.Pool drop items)
	$(GO) test -race -count=1 $(UNIT_PKGS)
	$(GO) test -count=1 -run 'AllocatesNothing' $(UNIT_PKGS)

test-integration: build ## the real daemon against real clients
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM=$(CURDIR)/bin/flowcam $(GO) test -count=1 -timeout 15m ./test/daemon/ ./test/files/ ./test/pipes/ ./test/h264/
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM=$(CURDIR)/bin/flowcam $(GO) test -count=1 -parallel 4 -timeout 10m ./test/record/ ./test/relay/ ./test/nvr/

test-hostile: build ## hostile clients (10 000 fuzzed requests, slowloris, floods, spoofed RTCP) while ffmpeg watches
	@.ci/deps test
	FLOWCAMD=$(CURDIR)/bin/flowcamd $(GO) test -count=1 -v -timeout 3m ./test/hostile/

soak: build ## 50 gortsplib viewers for 60 s: frames per viewer, fd and goroutine growth, CPU, RSS (not in make test)
	@.ci/deps test
	FLOWCAMD=$(CURDIR)/bin/flowcamd $(GO) test -count=1 -v -timeout 10m ./test/soak/

test-web: build ## the status page and /stream.mjpg in headless Chromium; screenshot to FLOWCAM_SCREENSHOT
	@.ci/deps test
	FLOWCAMD=$(CURDIR)/bin/flowcamd $(GO) test -count=1 -v -timeout 2m ./test/web/

test-netns: build ## multi-flow scenarios over two impaired paths in network namespaces (needs root)
	@.ci/deps test
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM=$(CURDIR)/bin/flowcam $(GO) test -count=1 -v -timeout 20m ./test/netns/

test-v4l2: ## flowcamd on the kernel's virtual camera (vivid) in a qemu guest: play, unplug, replug
	@.ci/deps test
	$(GO) test -count=1 -v -timeout 10m ./test/v4l2/

test-boards: arm64 armv7 ## the static ARM builds under qemu-user play in ffmpeg; the CGO_ENABLED=0 build serves
	FLOWCAM_BIN_ROOT=$(CURDIR)/bin $(GO) test -count=1 -v -timeout 10m ./test/boards/

bench: build amd64 arm64 ## benchmarks: encoder, packetizer, serving cost, against tjbench, ffmpeg and GStreamer; release builds' size, start, memory
	@.ci/deps test
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./capture/... ./stream/...
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM_BIN_ROOT=$(CURDIR)/bin FLOWCAM_BENCH=1 $(GO) test -count=1 -v -run TestReport -timeout 20m ./test/bench/

fuzz: ## run every fuzz target for FUZZTIME (default 10s) each, then a summary line per target
	@fail=0; summary=; \
	for pkg in $$(grep -rlE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' capture stream platform cmd internal | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -hoE '^func Fuzz[A-Za-z0-9_]*' $$pkg/*_test.go | sed 's/^func //' | sort); do \
	    start=$$(date +%s); echo "== ./$$pkg $$f"; \
	    if out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) ./$$pkg 2>&1); then res=ok; \
	    else res=FAIL; fail=1; echo "$$out" | tail -25; fi; \
	    line=$$(printf '%-4s %-26s %-24s %4ss  %s' $$res ./$$pkg $$f $$(( $$(date +%s) - start )) \
	      "$$(echo "$$out" | grep -oE 'execs: [0-9]+|new interesting: [0-9]+ \(total: [0-9]+\)' | tail -2 | paste -sd' ')"); \
	    summary="$$summary$$line"$$'\n'; \
	  done; \
	done; \
	echo "== fuzz summary (FUZZTIME=$(FUZZTIME) per target)"; printf '%s' "$$summary"; exit $$fail

lint: ## gofmt, go vet, and no production function over 80 lines
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) run ./internal/funclen -max 80 $$(git ls-files -co --exclude-standard '*.go' | grep -v '_test\.go$$')

# --- Debian packages ----------------------------------------------------------
# nfpm runs as a build tool at a pinned version, never linked into the
# daemon; the module proxy refuses version lists, so name the exact version.
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_DIR     ?= bin/deb
# git describe made into a Debian version (a tag has a dot: v1.2.3 or 1.2;
# a bare commit id that starts with a digit is not one): v1.2.3 -> 1.2.3; v1.2.3-rc1 ->
# 1.2.3~rc1 (sorts before 1.2.3); v1.2.3-4-gabc1234 -> 1.2.3+4.gabc1234;
# untagged abc1234 -> 0.0.0~git20250101.abc1234 (commit date, so later
# commits sort higher); -dirty -> +dirty or .dirty.
# (case patterns carry their optional opening parenthesis so that make's
# $(shell) sees balanced parentheses.)
DEB_VERSION ?= $(shell d=$$(git describe --tags --always --dirty 2>/dev/null || echo unknown); \
  dirty=; case $$d in (*-dirty) dirty=dirty; d=$${d%-dirty};; esac; \
  case $$d in \
    (v[0-9]*.* | [0-9]*.*) v=$$(echo "$${d#v}" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$$/+\1.g\2/; s/-/~/g') ;; \
    (*) v=0.0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$$d ;; \
  esac; \
  case $$v in (*+*) sep=. ;; (*) sep=+ ;; esac; \
  echo "$$v$${dirty:+$$sep$$dirty}")
# $(call nfpm_deb,DEBIAN_ARCH,BIN_SUFFIX): one .deb from bin/linux-BIN_SUFFIX.
# SOURCE_DATE_EPOCH (the commit time) keeps rebuilds of a commit identical.
define nfpm_deb
	@mkdir -p $(DEB_DIR)
	DEB_ARCH=$(1) DEB_VERSION='$(DEB_VERSION)' FLOWCAM_BIN=bin/linux-$(2) \
	  SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	  $(NFPM) pkg --packager deb --config configs/nfpm.yaml --target $(DEB_DIR)/
endef

deb: deb-amd64 deb-arm64 deb-armhf ## Debian packages for amd64, arm64 and armhf in bin/deb/

deb-amd64: amd64
	$(call nfpm_deb,amd64,amd64)

deb-arm64: arm64
	$(call nfpm_deb,arm64,arm64)

deb-armhf: armv7
	$(call nfpm_deb,armhf,armv7)

test-packaging: deb-amd64 ## the amd64 .deb: layout, conffile, binaries run, systemd-analyze verify and security (exposure <= 2.0)
	FLOWCAM_DEB=$(CURDIR)/$(DEB_DIR)/flowcam_$(DEB_VERSION)_amd64.deb $(GO) test -count=1 -v ./test/packaging/

clean: ## remove build output
	rm -rf bin
