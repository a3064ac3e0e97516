# k3s-sandbox: the one entry point. `make help` lists the targets.
#
# The init is one binary, build/k3s-init, made from every init/*.c.
# Where static libmnl and jansson exist (Alpine: libmnl-static, jansson-static)
# it is a static musl binary. On Debian, which ships libmnl only as a shared
# library, it is linked dynamically for the tests, and every source is also
# compiled (not linked) with musl-gcc so that glibc-only code fails the build.

CC      ?= cc
BUILD   := build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)$(shell git describe --always --dirty 2>/dev/null | sed 's/^/+g/')

SRCS    := $(sort $(wildcard init/*.c))
HDRS    := $(wildcard init/*.h)

WARN    := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wvla \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
HARDEN  := -fstack-protector-strong -fstack-clash-protection -D_FORTIFY_SOURCE=2 \
           -fno-strict-overflow -fno-delete-null-pointer-checks
DEFS    := -D_GNU_SOURCE -DK3S_INIT_VERSION='"$(VERSION)"'
CFLAGS  ?= -O2 -g
LIBS    := -lmnl -ljansson

# A static build is possible when a program calling both libraries links
# with -static. Asking `$(CC) -print-file-name=libmnl.a` is not enough: it
# ignores -L in LDFLAGS, and musl-gcc answers with glibc's archives from
# /usr/lib/<multiarch>. Libraries in another prefix: CPPFLAGS=-I<dir>/include
# LDFLAGS=-L<dir>/lib.
STATIC_PROBE := \#include <libmnl/libmnl.h>\n\#include <jansson.h>\n\
int main(void) { return mnl_socket_open(0) != 0 && json_object() != 0; }\n
HAVE_STATIC := $(shell printf '$(STATIC_PROBE)' | $(CC) $(CPPFLAGS) $(LDFLAGS) -static -x c - \
                 -o /dev/null $(LIBS) >/dev/null 2>&1 && echo yes || echo no)

MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)

# How build/k3s-init is linked, and the version it embeds, recorded so that a
# change (static libraries appearing, another CC or LDFLAGS, a new commit)
# relinks it although no source changed: else --version names an older commit.
LINK_MODE := $(if $(filter yes,$(HAVE_STATIC)),static,dynamic) $(CC) $(CPPFLAGS) $(LDFLAGS) $(VERSION)
$(BUILD)/link-mode: FORCE
	@mkdir -p $(@D)
	@echo '$(LINK_MODE)' | cmp -s - $@ || echo '$(LINK_MODE)' >$@
FORCE:

.PHONY: all build static musl-check sanitize FORCE test test-init test-cni test-images \
        test-sanitize lint bench soak fuzz e2e up down doctor images release-images arm64 clean help deps
.DEFAULT_GOAL := build

all: build

ifeq ($(HAVE_STATIC),yes)
build: $(BUILD)/k3s-init
$(BUILD)/k3s-init: $(SRCS) $(HDRS) $(BUILD)/link-mode
	@mkdir -p $(@D)
	@echo "k3s-init: static build ($(CC))"
	$(CC) $(WARN) $(HARDEN) $(DEFS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -static -o $@ $(SRCS) $(LIBS)
static: build
else
build: $(BUILD)/k3s-init musl-check
$(BUILD)/k3s-init: $(SRCS) $(HDRS) $(BUILD)/link-mode
	@mkdir -p $(@D)
	@echo "k3s-init: no static libmnl/jansson for $(CC): dynamic build for tests (make static needs libmnl-static and jansson-static)"
	$(CC) $(WARN) $(HARDEN) $(DEFS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -fPIE -pie -Wl,-z,relro,-z,now -o $@ $(SRCS) $(LIBS)
static:
	@echo "make static: $(CC) cannot link libmnl and jansson statically (no libmnl.a/libjansson.a built for it)." >&2
	@echo "Install them (Alpine: apk add libmnl-static jansson-static), or name their prefix with CPPFLAGS=-I<dir>/include LDFLAGS=-L<dir>/lib, or build in the images' toolchain stage." >&2
	@exit 2
endif

# Compile every source with musl (no link: there is no musl libmnl here).
# musl-gcc's specs hide /usr/include, so only the kernel and library headers
# the init needs are exposed through a private include directory.
MUSL_INC := $(BUILD)/musl-include
musl-check:
ifeq ($(MUSL_GCC),)
	@echo "musl-check: musl-gcc not found (apt-get install musl-tools)" >&2; exit 2
else
	@mkdir -p $(MUSL_INC) $(BUILD)/musl-obj
	@for h in linux asm-generic libmnl jansson.h jansson_config.h; do \
	  [ -e /usr/include/$$h ] && ln -sfn /usr/include/$$h $(MUSL_INC)/$$h; done; \
	 ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(MUSL_INC)/asm
	@for s in $(SRCS); do \
	  $(MUSL_GCC) $(WARN) $(HARDEN) $(DEFS) $(CFLAGS) -isystem $(MUSL_INC) -c -o $(BUILD)/musl-obj/$$(basename $$s .c).o $$s || exit 1; \
	done
	@echo "musl-check: every init source compiles with musl"
endif

# ASan/UBSan build of the same sources; the init's suites run against it.
sanitize: $(BUILD)/asan/k3s-init
$(BUILD)/asan/k3s-init: $(SRCS) $(HDRS)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) $(DEFS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -o $@ $(SRCS) $(LIBS)

# The test command. On a fresh Debian machine (root) it installs what it needs,
# starts the engines, builds local base images and runs every suite.
test:
	tests/run

test-init test-cni test-images:
	tests/run $(@:test-%=%)

test-sanitize:
	tests/run --sanitize init cni

deps:
	tests/lib/setup-host.sh

lint:
	tests/run lint

# The figures are of the build the suites test (static where
# tests/lib/build-tools.sh has put a static libmnl, as the product is).
bench:
	tests/lib/build-init-under-test.sh
	tests/bench/run

soak:
	tests/soak/run

fuzz:
	tests/fuzz/run $(FUZZ_SECONDS)

e2e:
	tests/e2e/run

images:
	tests/lib/build-images.sh

# The release images (tags, labels, platforms from the Dockerfiles' ARGs); the
# release workflow runs the same script with PUSH=1. Locally, offline:
# LOCAL_BASES=1 REPOSITORY=owner/name make release-images
release-images:
	tests/lib/release-images.sh

up:
	docker compose up -d control-plane

down:
	docker compose down

doctor: build
	$(BUILD)/k3s-init doctor

# The init cross-built for linux/arm64 (static, glibc) in build/arm64/; the
# lint suite runs it under qemu-user (tests/lint/arm64.bats).
arm64:
	tests/lib/build-init-arm64.sh

clean:
	rm -rf $(BUILD)

help:
	@echo "make            build build/k3s-init"
	@echo "make static     static musl build (needs libmnl-static, jansson-static)"
	@echo "make test       install test dependencies (root, Debian) and run every suite"
	@echo "make test-init|test-cni|test-images|test-sanitize|lint   one part"
	@echo "make bench      print size, speed and memory figures"
	@echo "make soak       a gVisor worker held Ready for SOAK_SECONDS (600), no process restarted"
	@echo "make fuzz       run the fuzzers (FUZZ_SECONDS=N each)"
	@echo "make e2e        end-to-end compose flows: the pinned rancher/k3s with a registry, else real Kubernetes parts"
	@echo "make release-images   the release images, not pushed (REPOSITORY=owner/name; LOCAL_BASES=1 offline)"
	@echo "make arm64      the init cross-built for linux/arm64 in build/arm64 (run it with qemu-aarch64-static)"
	@echo "make up|down    docker compose up -d control-plane / down"
	@echo "make doctor     what k3s-init would repair here, changing nothing"
