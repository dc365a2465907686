# Makefile - builds proxy_fcgi and dashboard_fcgi, runs the service and the tests.
#
#   make run     install missing packages (as root), build, start everything
#   make test    the same set-up, then every test (unit, integration, browser)
#   make bench   the benchmark against nginx, lighttpd mod_proxy and mitmproxy

CC       ?= cc
BUILD    ?= build
PKGS     := json-c libcurl libpq
WARN     := -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
            -Wvla -Wwrite-strings -Wshadow -Werror
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Icommon \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += -lfcgi $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

COMMON_SRCS := $(wildcard common/*.c)
PROXY_SRCS  := $(wildcard proxy_fcgi/*.c)
DASH_SRCS   := $(wildcard dashboard_fcgi/*.c)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)

COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
PROXY_OBJS  := $(PROXY_SRCS:%.c=$(BUILD)/obj/%.o)
DASH_OBJS   := $(DASH_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

PROGS := $(BUILD)/proxy_fcgi $(if $(DASH_SRCS),$(BUILD)/dashboard_fcgi)

.PHONY: all deps test-deps run test unit asan bench fuzz demo-data scale clean
all: $(PROGS)

$(BUILD)/obj/%.o: %.c $(wildcard common/*.h proxy_fcgi/*.h dashboard_fcgi/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/proxy_fcgi: $(PROXY_OBJS) $(COMMON_OBJS)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/dashboard_fcgi: $(DASH_OBJS) $(COMMON_OBJS)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# A unit test #includes the one .c file it tests (to reach its statics) and
# links every other object of both programs, less their main.o.
TEST_OBJS := $(COMMON_OBJS) $(filter-out %/main.o,$(PROXY_OBJS) $(DASH_OBJS))
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(TEST_OBJS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) -Wno-missing-prototypes -Iproxy_fcgi -Idashboard_fcgi -o $@ $< \
		$(filter-out $(patsubst %.c,$(BUILD)/obj/%.o,$(shell sed -n 's|^#include "\.\./\.\./\(.*\.c\)"|\1|p' $<)),$(TEST_OBJS)) \
		$(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BINS)

deps:
	@deploy/install-deps.sh run

test-deps:
	@deploy/install-deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	@exec deploy/run.sh

# Everything is built twice: plainly, and under ASan+UBSan in build/asan.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all unit

test: test-deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@tests/run.sh

# libFuzzer harnesses for every parser that sees untrusted bytes, 60 s each
# over the committed seed corpus (make test runs a 5 s smoke of each).
fuzz: test-deps
	@tests/fuzz/build.sh
	@tests/fuzz/run.sh $(or $(SECONDS),60)

bench:
	@deploy/install-deps.sh bench
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

# make demo-data N=1000000 [DAYS=30]: realistic captures for trying the
# dashboard and measuring it at scale (into DATABASE_URL or var/pg).
demo-data: deps
	@deploy/demo-data.sh $(or $(N),100000) $(or $(DAYS),30)

# make scale [N=1000000]: dashboard API latency and insert rate at N captures
# (tests/scale/run.sh; long: it generates N captures first).
scale: test-deps
	@$(MAKE) --no-print-directory all
	@tests/scale/run.sh $(or $(N),1000000)

clean:
	rm -rf build
