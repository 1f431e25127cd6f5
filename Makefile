# flowcam build, run and test entry points. `make help` lists them.
# Every target installs what it needs first (.ci/deps), so a fresh Debian 12
# machine needs nothing by hand.

SHELL       := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
RTSP_ADDR   ?= :8554
RTSP_PORT    = $(lastword $(subst :, ,$(RTSP_ADDR)))
FUZZTIME    ?= 30s
# Unit tests run with the race detector; integration tests drive the real binary.
UNIT_PKGS   := ./capture/... ./stream/... ./platform/... ./cmd/... ./internal/...

.DEFAULT_GOAL := help
.PHONY: help deps build run test test-unit test-integration test-netns test-v4l2 bench fuzz lint clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

deps: ## install build dependencies (gcc, libjpeg-turbo, Go) if missing
	@.ci/deps build

build: deps ## build bin/flowcamd and bin/flowcam
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/flowcamd ./cmd/flowcamd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/flowcam ./cmd/flowcam

run: build ## serve the built-in test pattern on rtsp://localhost:8554/cam
	@echo "play it with:  ffplay rtsp://127.0.0.1:$(RTSP_PORT)/cam"
	@echo "           or: gst-launch-1.0 rtspsrc location=rtsp://127.0.0.1:$(RTSP_PORT)/cam ! rtpjpegdepay ! jpegdec ! autovideosink"
	./bin/flowcamd --source pattern --rtsp-addr $(RTSP_ADDR)

test: ## run every test: vet, unit (race), the daemon against ffmpeg/GStreamer/gortsplib, multi-flow in network namespaces, a V4L2 camera in a VM
	@.ci/deps test
	$(MAKE) --no-print-directory lint build
	$(MAKE) --no-print-directory test-unit test-integration test-netns test-v4l2

test-unit: ## unit tests with the race detector
	$(GO) test -race -count=1 $(UNIT_PKGS)

test-integration: build ## the real daemon against real clients
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM=$(CURDIR)/bin/flowcam $(GO) test -count=1 -timeout 10m ./test/daemon/ ./test/files/

test-netns: build ## multi-flow scenarios over two impaired paths in network namespaces (needs root)
	@.ci/deps test
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM=$(CURDIR)/bin/flowcam $(GO) test -count=1 -v -timeout 20m ./test/netns/

test-v4l2: ## flowcamd on the kernel's virtual camera (vivid) in a qemu guest: play, unplug, replug
	@.ci/deps test
	$(GO) test -count=1 -v -timeout 10m ./test/v4l2/

bench: build ## benchmarks: encoder, packetizer, serving cost, against tjbench, ffmpeg and GStreamer
	@.ci/deps test
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./capture/... ./stream/...
	FLOWCAMD=$(CURDIR)/bin/flowcamd FLOWCAM_BENCH=1 $(GO) test -count=1 -v -run TestReport -timeout 20m ./test/bench/

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

clean: ## remove build output
	rm -rf bin
