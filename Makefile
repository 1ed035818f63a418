# pfwdctl: the README's two commands are `make demo` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Debian packages the end-to-end tests drive for real.
# rpm: rpm -qp and rpm --root inspect and install the .rpm; systemd:
# systemd-analyze verify checks the units (neither needs a booted systemd).
TEST_PKGS ?= openssh-server openssh-client ssh-audit tmux ansible-core rpm systemd

.PHONY: all build test test-compat fuzz demo golden lint deps clean man dist

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/pfwdctl ./cmd/pfwdctl

test: deps
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# fuzz runs each fuzz target for FUZZTIME (go test fuzzes one target of
# one package per run): the targets of one package in turn, the packages
# side by side, to stay well under a minute. Their seed corpora are under
# testdata/fuzz/NAME/ and also run as plain tests in go test ./...; a
# crasher the fuzzer finds is written there: check it in with the fix.
# "context deadline exceeded" without a crasher is the fuzz engine's own
# flake (a worker busy when -fuzztime ends, on a loaded 2-core runner):
# that target runs once more; a real crasher fails at once.
FUZZTIME ?= 3s
FUZZ_PKGS := \
	./users/keyline:FuzzSplitLine,FuzzParseOptions,FuzzParseFrom,FuzzParseExpires,FuzzParseExpiryTime \
	./users:FuzzSplitJoin ./internal/target:FuzzParseTarget ./internal/sshdconf:FuzzParse ./verify/fleet:FuzzParse \
	./internal/sshlog:FuzzScanner ./internal/ca:FuzzParseKRL

# test-compat is the OpenSSH release suite (issue 14): it builds each
# release in $(OPENSSH_SRC) once into $(OPENSSH_CACHE) (kept between runs;
# a first build of all takes about 25 minutes on 2 cores, later runs
# none), then runs TestCompat against each and the system's sshd. The
# compiler and headers the builds need are installed like make test's.
# The sources sit in the shared folder next to the checkout; a clone made
# elsewhere (a temp dir) finds them where the project keeps that folder.
OPENSSH_SRC   ?= $(firstword $(wildcard ../shared/openssh /work/shared/openssh))
OPENSSH_CACHE ?= /var/cache/pfwdctl/openssh
test-compat:
	$(MAKE) deps TEST_PKGS="$(TEST_PKGS) gcc make autoconf automake libssl-dev zlib1g-dev"
	./internal/testenv/build-openssh.sh $(OPENSSH_SRC) $(OPENSSH_CACHE)
	@out=$$(mktemp); PFWDCTL_COMPAT=1 PFWDCTL_OPENSSH_CACHE=$(OPENSSH_CACHE) \
	  $(GO) test -count=1 -v -timeout 40m -run '^TestCompat' ./cmd/pfwdctl >$$out 2>&1; rc=$$?; \
	  grep -E '^(compat:|--- FAIL|FAIL|ok|panic)|compat_test.go' $$out; rm -f $$out; exit $$rc

fuzz:
	@tmp=$$(mktemp -d); pids=""; \
	for t in $(FUZZ_PKGS); do \
	  pkg=$${t%%:*}; names=$${t##*:}; log=$$tmp/$$(echo $$pkg | tr ./ __).log; \
	  ( for name in $$(echo $$names | tr , ' '); do \
	      echo "fuzz: $$pkg $$name ($(FUZZTIME))"; \
	      out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || \
	      case "$$out" in *"Failing input written"*) echo "$$out"; exit 1;; \
	        *"context deadline exceeded"*) echo "fuzz: $$name: the engine's deadline hit a slow run (no crasher); once more"; \
	          out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; };; \
	        *) echo "$$out"; exit 1;; esac; \
	      case "$$out" in *"no fuzz tests"*) echo "fuzz: no $$name in $$pkg"; exit 1;; esac; \
	    done ) >$$log 2>&1 & pids="$$pids $$!:$$log"; \
	done; \
	rc=0; for p in $$pids; do wait $${p%%:*} || { cat $${p#*:}; rc=1; }; done; \
	grep -h '^fuzz: [./]' $$tmp/*.log; rm -rf $$tmp; exit $$rc

demo: deps build
	./bin/pfwdctl lab

# golden rewrites golden/ through -update, given only to the test packages
# that define it (those importing internal/golden or teatest): no other
# package has to know the flag.
GOLDEN_PKGS = $(shell $(GO) list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... | \
	awk '{for (i = 2; i <= NF; i++) if ($$i ~ /pfwdctl\/internal\/golden$$|x\/exp\/teatest$$/) { print $$1; break }}')

golden:
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

# man regenerates docs/man/ from the command tree (TestManPages fails when
# the checked-in pages are stale).
man:
	$(GO) test ./cmd/pfwdctl -run '^TestManPages$$' -count=1 -update

# dist builds static (CGO_ENABLED=0) linux binaries for DIST_ARCHES with the
# version and commit stamped, then a .deb and an .rpm per architecture from
# one description (internal/release/mkpkg with nfpm: no dpkg-deb or
# rpmbuild needed, no maintainer scripts, so installing changes nothing).
# The completions come from the build machine's own binary.
# SOURCE_DATE_EPOCH (the commit's time) dates the files in the packages,
# so the same commit makes the same packages. Then TestPackages inspects
# every package just built (DIST_CHECK=no skips that: the test's own
# make dist).
DIST        ?= dist
DIST_ARCHES ?= amd64 arm64
HOSTARCH    := $(shell $(GO) env GOARCH)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DIST_CHECK  ?= yes

dist:
	rm -rf $(DIST) && mkdir -p $(DIST)/completions
	for a in $(sort $(HOSTARCH) $(DIST_ARCHES)); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/pfwdctl_linux_$$a ./cmd/pfwdctl || exit 1; \
	done
	$(DIST)/pfwdctl_linux_$(HOSTARCH) completion bash > $(DIST)/completions/pfwdctl.bash
	$(DIST)/pfwdctl_linux_$(HOSTARCH) completion zsh > $(DIST)/completions/_pfwdctl
	$(DIST)/pfwdctl_linux_$(HOSTARCH) completion fish > $(DIST)/completions/pfwdctl.fish
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./internal/release/mkpkg -dist $(DIST) -version '$(VERSION)' $(DIST_ARCHES)
	cd $(DIST) && sha256sum pfwdctl_linux_* *.deb *.rpm > SHA256SUMS
	@cat $(DIST)/SHA256SUMS
	@if [ "$(DIST_CHECK)" != no ]; then \
	  echo "dist: checking the packages (TestPackages)"; \
	  PFWDCTL_DIST=$(abspath $(DIST)) PFWDCTL_DIST_VERSION='$(VERSION)' PFWDCTL_DIST_COMMIT='$(COMMIT)' PFWDCTL_DIST_ARCHES='$(DIST_ARCHES)' \
	    $(GO) test -count=1 -run '^TestPackages$$' ./internal/release; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# deps installs what the tests drive for real, when missing. As root it uses
# apt-get with a temporary policy-rc.d so no sshd is started, and writes
# Debian's /etc/ssh/sshd_not_to_be_run so none starts at boot either.
deps:
	@missing=""; \
	for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "deps: installing$$missing (no sshd will be started or enabled)"; \
	    had_ssh=$$(dpkg -s openssh-server >/dev/null 2>&1 && echo yes); \
	    [ -e /usr/sbin/policy-rc.d ] && { echo "deps: /usr/sbin/policy-rc.d exists; leaving it"; own=""; } || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own=yes; }; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing >/tmp/pfwdctl-deps.log 2>&1) || { tail -20 /tmp/pfwdctl-deps.log; [ -n "$$own" ] && rm -f /usr/sbin/policy-rc.d; exit 1; }; \
	    [ -n "$$own" ] && rm -f /usr/sbin/policy-rc.d; \
	    if [ -z "$$had_ssh" ]; then touch /etc/ssh/sshd_not_to_be_run; echo "deps: wrote /etc/ssh/sshd_not_to_be_run so the new sshd never starts on port 22"; fi; \
	  else \
	    echo "deps: missing$$missing; install them with: sudo apt-get install$$missing"; \
	    echo "deps: tests that need them are skipped (they fail when CI=true)"; \
	  fi; \
	fi; \
	if [ "$$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then install -d -m 0755 /run/sshd && echo "deps: created /run/sshd (sshd's privilege separation directory)"; fi

clean:
	rm -rf bin dist
