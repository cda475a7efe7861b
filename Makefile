# ACMS execution layer: one plain Makefile.
#   make            all binaries into bin/
#   make deps       install the Debian packages the build, tests and demo need (only the missing ones),
#                   and create the step user (STEP_USER, default acms-step)
#   make kafka      the pinned Apache Kafka broker (tools/kafka/pom.xml) into .cache/kafka, checked;
#                   needs Maven and a JDK 17 (KAFKA_DEB_PACKAGES), only when Kafka is wanted (docs/bus.md)
#   make test       deps (checked once: a stamp) + build + unit tests + integration tests
#   make test-doc   README's walkthrough run as written from a fresh copy of the repository
#   make check-docs the documented variables, Redis keys and links against the code (tools/check_docs.py)
#   make check-shape no function over 80 lines in services/ and common/, every main.c under 200 (tools/check_shape.py)
#   make demo       deps + build + stack up + one pipeline run for dev + stack down
#   make up/down    local stack (redis-server, acms-devbroker or with ACMS_BUS=kafka Apache Kafka, the
#                   five services, the web console) under run/; its data (run/data) survives down/up; make clean-data
#                   (or make down WIPE=1) wipes it
#   make test-asan  the unit and integration suites built with ASan and UBSan (zero findings)
#   make bench      speed against baselines (bench/README.md); BENCH_BUS=kafka on Apache Kafka
#   make bench-check bench/run.sh's medians, ratios and goals on fixed inputs, and the shape of
#                   bench/results/bench*.json (deterministic: no timing, no bus)
#   make bench-soak retention under load: SOAK_RUNS small runs, Redis memory/RSS/lag over time (bench/)
#   make test-valgrind  every unit test under valgrind memcheck (-O1 build in build-valgrind/; no leaks)
#   make k8s-testenv  build the control plane + kwok for test_exec_kubernetes (git-ignored cache)
#   make fuzz       libFuzzer targets tests/fuzz/fuzz_*.c (clang, ASan+UBSan) for FUZZ_SECONDS each (60)
#   make clean

CC      ?= cc
SAN     ?=
FUZZ    ?=
VG      ?=
FUZZ_BUILD ?= build-fuzz
VG_BUILD   ?= build-valgrind
BUILD   ?= build
BIN     ?= bin
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
NPROC   := $(shell nproc 2>/dev/null || echo 2)

# CFLAGS is the user's (make CFLAGS=-O0 keeps everything else); ALL_CFLAGS is what compiles
CFLAGS  ?= -O2 -g
STD     := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Wvla
INC      = -I$(BUILD)/gen -Icommon -Iservices
DEFS    := -DACMS_VERSION='"$(VERSION)"'
MODE_CFLAGS :=
ALL_CFLAGS = $(CFLAGS) $(MODE_CFLAGS) $(STD) $(WARN) -MMD -MP $(INC) $(DEFS)
LDLIBS  := -lrdkafka -lprotobuf-c -lhiredis -lcurl -lyaml -lcjson -lmicrohttpd -luuid -lcrypto -lm -lpthread

ifeq ($(SAN),1)
BUILD   := build-asan
BIN     := build-asan/bin
MODE_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# libFuzzer build: the library and tests/fuzz/fuzz_*.c with clang, coverage and ASan/UBSan
ifeq ($(FUZZ),1)
CC      := clang
BUILD   := $(FUZZ_BUILD)
BIN     := $(FUZZ_BUILD)/bin
MODE_CFLAGS += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# valgrind build: no sanitizers, little optimisation (precise memcheck reports)
ifeq ($(VG),1)
BUILD   := $(VG_BUILD)
BIN     := $(VG_BUILD)/bin
MODE_CFLAGS += -O1
endif

# Sanitizer run-time options for test-asan: any finding aborts (unit tests fail, integration tests
# fail through tests/lib/stack.sh's log check); LeakSanitizer suppressions only for third-party
# libraries' process-lifetime allocations (tests/lsan.supp).
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
VALGRIND := valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --child-silent-after-fork=yes

DEB_PACKAGES := build-essential pkg-config librdkafka-dev libprotobuf-c-dev protobuf-c-compiler \
  libhiredis-dev libcurl4-openssl-dev libcmocka-dev redis-server libyaml-dev libcjson-dev \
  libmicrohttpd-dev uuid-dev libssl-dev kcat python3 curl libjsmn-dev \
  python3-yaml python3-confluent-kafka python3-protobuf python3-kubernetes etcd-server openssl protobuf-compiler yamllint docker-compose shellcheck \
  clang-format cppcheck \
  valgrind clang libclang-rt-14-dev chromium python3-websocket fonts-dejavu-core
# commands whose Debian package is installed only when the command is missing (COMMAND:PACKAGE): npm
# (make proto-check's buf, make bench's ajv) may come with another Node.js build that conflicts with
# Debian's npm package
DEB_COMMANDS := npm:npm

# Apache Kafka for ACMS_BUS=kafka (make kafka): a JDK (the tests' ACL helper runs from Java source)
# and Maven, installed only by that target
KAFKA_DEB_PACKAGES := openjdk-17-jdk-headless maven

# the unprivileged user and group the coordinator runs local steps as (ACMS_STEP_USER), created by deps
STEP_USER ?= acms-step
# only for the plots of make bench-learning and make bench-soak (make deps-bench): not needed to build, test or run
BENCH_DEB_PACKAGES := python3-matplotlib

SERVICES := adapter validator coordinator monitor feedback console
TOOLS    := acmsctl devbroker stepload

PROTOS   := $(wildcard proto/acms/v1/*.proto)
PB_C     := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PB_H     := $(PB_C:.c=.h)

COMMON_SRC := $(wildcard common/*.c)
LOGIC_SRC  := $(filter-out %/main.c,$(foreach s,$(SERVICES),$(wildcard services/$(s)/*.c)))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(PB_C:$(BUILD)/%=%) $(COMMON_SRC) $(LOGIC_SRC))
LIB        := $(BUILD)/libacms.a

SERVICE_BINS := $(foreach s,$(SERVICES),$(BIN)/acms-$(s))
TOOL_BINS    := $(BIN)/acmsctl $(BIN)/acms-devbroker $(BIN)/acms-stepload
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: k8s-testenv all deps deps-bench kafka test test-doc test-unit test-integration test-asan test-faults test-valgrind fuzz fuzz-bins fuzz-seeds demo up down clean-data clean \
        install bench bench-check bench-learning bench-soak lint fmt fmt-check proto-check check-docs check-shape

all: $(SERVICE_BINS) $(TOOL_BINS)

# generated sources and objects are kept between builds
.SECONDARY:

# --- dependencies -------------------------------------------------------------------------
# make deps checks every package (dpkg, no apt when all are there) and the step user, then leaves a
# stamp; make test and the other targets that need them depend on the stamp, so they check once,
# and again only when this Makefile (DEB_PACKAGES) changed or after make clean.
DEPS_STAMP := build/.deps-ok
$(DEPS_STAMP): Makefile
	@$(MAKE) --no-print-directory deps

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	for c in $(DEB_COMMANDS); do command -v $${c%%:*} >/dev/null 2>&1 || missing="$$missing $${c#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi
	@if ! id -u $(STEP_USER) >/dev/null 2>&1; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "deps: creating the unprivileged user local steps run as: $(STEP_USER)"; \
	  $$SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $(STEP_USER); \
	fi
	@mkdir -p $(dir $(DEPS_STAMP)) && touch $(DEPS_STAMP)

deps-bench:
	@missing=""; for p in $(BENCH_DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps-bench: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps-bench: all Debian packages present"; fi

# Apache Kafka (docs/bus.md): the Debian JRE and Maven when missing, then the pinned broker jars
kafka:
	@missing=""; for p in $(KAFKA_DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ] && ! { command -v javac >/dev/null && command -v mvn >/dev/null; }; then \
	  echo "kafka: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@tools/kafka/fetch.sh >/dev/null

# --- generated protobuf code (built, not committed) -----------------------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c | $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes -c $< -o $@

# the repository's own path: where a binary built here finds run/stack.env and examples/ (common/locate.h)
$(BUILD)/obj/common/locate.o: DEFS += -DACMS_SOURCE_DIR='"$(CURDIR)"'

$(BUILD)/obj/%.o: %.c | $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --- binaries ---------------------------------------------------------------------------------
$(BIN)/acms-%: $(BUILD)/obj/services/%/main.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

tool_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c))

$(BIN)/acmsctl: $(call tool_objs,acmsctl) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $(call tool_objs,acmsctl) $(LIB) $(LDLIBS)

$(BIN)/acms-devbroker: $(call tool_objs,devbroker) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $(call tool_objs,devbroker) $(LIB) $(LDLIBS)

# the workload program is built without sanitizers: steps run under address-space limits
$(BIN)/acms-stepload: tools/stepload/main.c
	@mkdir -p $(BIN)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -DACMS_VERSION='"$(VERSION)"' -o $@ $<

# --- tests ------------------------------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

test: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(MAKE) --no-print-directory test-unit test-integration

# README's walkthrough, run as written from a fresh copy of the repository (tests/doc/)
test-doc: $(DEPS_STAMP)
	@tests/doc/test_readme_walkthrough.sh

test-unit: $(UNIT_BINS)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run-unit.sh $(UNIT_BINS)

# ACMS_BUS=kafka: on Apache Kafka (make kafka first); ACMS_BUS=external with ACMS_KAFKA_BROKERS
test-integration: all
	@if [ "$${ACMS_BUS:-}" = kafka ]; then $(MAKE) --no-print-directory kafka; fi
	@BIN=$(BIN) BUILD=$(BUILD) tests/run-integration.sh

test-asan: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory SAN=1 all
	@$(SAN_ENV) $(MAKE) --no-print-directory SAN=1 test-unit test-integration

# fault scenarios on the real stack, >= 200 runs each (docs/reliability.md); FAULTS_TESTS picks some;
# ACMS_BUS=kafka runs them on Apache Kafka (the kafka scenario on three KRaft nodes)
test-faults: $(DEPS_STAMP)
	@if [ "$${ACMS_BUS:-}" = kafka ]; then $(MAKE) --no-print-directory kafka; fi
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) tests/faults/run.sh

test-valgrind: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory VG=1 BUILD=$(VG_BUILD) BIN=$(VG_BUILD)/bin \
	  $(patsubst tests/unit/%.c,$(VG_BUILD)/tests/%,$(UNIT_SRC))
	@VALGRIND="$(VALGRIND)" tests/run-valgrind.sh $(patsubst tests/unit/%.c,$(VG_BUILD)/tests/%,$(UNIT_SRC))

# --- fuzzing (tests/fuzz/README.md) ----------------------------------------------------------------
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

# the packed-message seeds of fuzz_messages (tests/fuzz/corpus/fuzz_messages/), from real adapter and
# validator output: regenerate after a schema change
$(BUILD)/fuzz-seedgen: $(BUILD)/obj/tests/fuzz/seedgen.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz-seedgen
	@mkdir -p tests/fuzz/corpus/fuzz_messages
	$(BUILD)/fuzz-seedgen tests/fuzz/corpus/fuzz_messages

fuzz: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory FUZZ=1 BUILD=$(FUZZ_BUILD) BIN=$(FUZZ_BUILD)/bin fuzz-bins
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/run.sh

# --- local stack ------------------------------------------------------------------------------
# state (Redis AOF under run/data, step work dirs, logs) survives down/up; secrets come from
# run/secrets.env (docs/local-stack.md)
up: all
	@if [ "$${ACMS_BUS:-}" = kafka ]; then $(MAKE) --no-print-directory kafka; fi
	@BIN=$(BIN) REPLICAS=$(or $(REPLICAS),1) tools/stack.sh up

down:
	@WIPE=$(or $(WIPE),0) tools/stack.sh down

clean-data:
	@tools/stack.sh wipe

demo: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) tools/demo.sh

# --- benchmarks (bench/README.md) -----------------------------------------------------
# bench/*.c -> $(BIN)/acms-bench-*, each linked with bench/benchlib.c and the library.
BENCH_SRC  := $(filter-out bench/benchlib.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BIN)/acms-bench-%,$(BENCH_SRC))

$(BIN)/acms-bench-%: $(BUILD)/obj/bench/%.o $(BUILD)/obj/bench/benchlib.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/bench/benchlib.o $(LIB) $(LDLIBS)

# BENCH_BUS=kafka: the throughput, latency, dag and hops figures on Apache Kafka (bench/README.md)
bench: $(DEPS_STAMP)
	@if [ "$${BENCH_BUS:-}" = kafka ]; then $(MAKE) --no-print-directory kafka; fi
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BENCH_BINS)
	@BIN=$(BIN) BUILD=$(BUILD) bench/run.sh

# Deterministic: bench/lib.sh's helpers on fixed inputs and the committed results files' shape
bench-check:
	@bash bench/check.sh bench/results/bench.json bench/results/bench-kafka.json

# The learning loop, measured (docs/learning.md, bench/README.md): a stationary workload learning on
# and off, and a non-stationary one beside two offline baselines, through the real stack; writes
# bench/results/learning.json and learning.png.
bench-learning: $(DEPS_STAMP) deps-bench
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) bench/learning/run.sh

# Retention under load (bench/README.md, "Soak"): SOAK_RUNS (9000) small runs at SOAK_RATE (30/s, about
# 7 minutes in all; SOAK_RUNS=20000 or more for a longer soak) with a SOAK_RETENTION_S (30) retention;
# Redis memory, RSS and lag over time into bench/results/soak.{json,csv,png}
bench-soak: $(DEPS_STAMP) deps-bench
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BIN)/acms-bench-soak
	@BIN=$(BIN) bench/soak/run.sh

# --- install ----------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/acms $(DESTDIR)$(PREFIX)/share/acms/console
	install -m 0755 $(SERVICE_BINS) $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 services/console/web/* $(DESTDIR)$(PREFIX)/share/acms/console/
	cp -r examples $(DESTDIR)$(PREFIX)/share/acms/
	cp -r proto $(DESTDIR)$(PREFIX)/share/acms/

# --- the kubernetes executor's real-server test environment (docs/kubernetes.md) -------------------
# kube-apiserver, kube-scheduler, kube-controller-manager, kwok and metrics-server from the Go module
# proxy into .cache/k8s-testenv/<versions>/ (one go build; figures in docs/kubernetes.md)
k8s-testenv:
	@tools/k8s-testenv.sh

# docs/configuration.md and docs/redis-keys.md against the code, both ways; links of README and docs/
check-docs:
	@python3 tools/check_docs.py

check-shape:
	@tests/static/test_check_shape.sh >/dev/null || tests/static/test_check_shape.sh
	@python3 tools/check_shape.py

# --- checks of the public contract (proto/): buf lint + breaking against proto/schema-v1.binpb ---
proto-check:
	@tools/buf/check.sh

clean:
	rm -rf build build-asan build-fuzz build-valgrind bin

# --- static analysis: cppcheck 2.10 (Debian 12) over common/ services/ tools/ ----------------------
# Its warning, portability and performance checks; any finding not in tests/static/cppcheck.supp
# (each there with its reason) fails. tests/static/cppcheck-defs.h stands in for the system headers.
CPPCHECK := cppcheck --quiet --std=c11 -D_GNU_SOURCE --enable=warning,portability,performance \
            --include=tests/static/cppcheck-defs.h --suppressions-list=tests/static/cppcheck.supp \
            --inline-suppr --error-exitcode=1 -j$(NPROC) -I$(BUILD)/gen -Icommon -Iservices \
            --template='{file}:{line}: {severity}: {message} [{id}]'

lint: $(PB_H)
	@$(CPPCHECK) common services tools && echo "lint: cppcheck found nothing new"

# --- style (.clang-format, clang-format 14 from Debian) -------------------------------------------
FMT_SRC = $(wildcard common/*.[ch] services/*/*.[ch] tools/*/*.[ch])

# reformat the C sources in place
fmt:
	@clang-format -i $(FMT_SRC)

# fails, naming the files, when a C source differs from what make fmt would write
fmt-check:
	@if clang-format --dry-run --Werror --ferror-limit=1 $(FMT_SRC) >/dev/null 2>&1; then \
	  echo "fmt-check: $(words $(FMT_SRC)) files formatted"; \
	else \
	  clang-format --dry-run --ferror-limit=1 $(FMT_SRC) 2>&1 | sed -n 's/^\([^:]*\.[ch]\):[0-9].*/\1/p' | sort -u | \
	    sed '1i fmt-check: not formatted as make fmt writes them (or clang-format missing: make deps):'; \
	  exit 1; \
	fi

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
