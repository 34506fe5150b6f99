# piivault - a plain, strict Makefile.  See README.md for the two commands
# that matter on a fresh machine: `make demo` and `make test`.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
O       ?= build
SAN     ?=
WERROR  ?= -Werror

PKGS    := libsodium openssl libpq libmicrohttpd jansson libcurl gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wvla $(WERROR)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fstack-protector-strong -fPIC $(WARN) $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -lm
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -D_FORTIFY_SOURCE=2
endif

COMMON_SRC := $(wildcard common/*.c)
AUDIT_SRC  := $(filter-out audit/audit_main.c,$(wildcard audit/audit_*.c))
VAULT_SRC  := $(filter-out vault/vault_main.c,$(wildcard vault/*.c))
TAG_SRC    := $(filter-out tagger/tag_main.c,$(wildcard tagger/*.c))
POLICY_SRC := $(filter-out policies/policy_main.c,$(wildcard policies/*.c))
PROXY_SRC  := $(filter-out proxy/proxy_main.c,$(wildcard proxy/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)
BENCH_SRC  := $(wildcard bench/bench_*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(O)/%.o,$(1))

LIBCOMMON := $(O)/libpiicommon.a
LIBAUDIT  := $(O)/libpiiaudit.a
LIBVAULT  := $(O)/libpiivault.a
LIBTAG    := $(O)/libpiitag.a
LIBPOLICY := $(O)/libpiipolicy.a
LIBPROXY  := $(O)/libpiiproxy.a
BINS      := $(O)/bin/pii-vault $(O)/bin/pii-audit $(if $(wildcard tagger/tag_main.c),$(O)/bin/pii-tag) \
             $(if $(wildcard policies/policy_main.c),$(O)/bin/pii-policy) \
             $(if $(wildcard proxy/proxy_main.c),$(O)/bin/pii-proxy)
UNITS     := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
TOOLS     := $(patsubst tests/tools/%.c,$(O)/tools/%,$(TOOL_SRC))
BENCHES   := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRC))

.PHONY: all test check fuzz demo bench install clean deps lint
all: $(BINS) $(UNITS) $(TOOLS) $(BENCHES)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIBAUDIT): $(call obj,$(AUDIT_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIBVAULT): $(call obj,$(VAULT_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIBTAG): $(call obj,$(TAG_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIBPOLICY): $(call obj,$(POLICY_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIBPROXY): $(call obj,$(PROXY_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^

$(O)/bin/pii-vault: $(O)/vault/vault_main.o $(LIBVAULT) $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bin/pii-audit: $(O)/audit/audit_main.o $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bin/pii-tag: $(O)/tagger/tag_main.o $(LIBTAG) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bin/pii-policy: $(O)/policies/policy_main.o $(LIBPOLICY) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bin/pii-proxy: $(O)/proxy/proxy_main.o $(LIBPROXY) $(LIBPOLICY) $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(LIBPROXY) $(LIBPOLICY) $(LIBTAG) $(LIBVAULT) $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/tools/%: $(O)/tests/tools/%.o $(LIBPROXY) $(LIBPOLICY) $(LIBVAULT) $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bench/%: $(O)/bench/%.o $(LIBPROXY) $(LIBPOLICY) $(LIBTAG) $(LIBVAULT) $(LIBAUDIT) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

# The test suite: unit tests, then integration tests against a private
# PostgreSQL and real HTTPS servers on loopback.  Ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run $(O)

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps
	@$(MAKE) --no-print-directory O=build/san SAN=1 all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  tests/run build/san

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
fuzz: deps
	@mkdir -p $(O)/fuzz
	@for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  clang $(FUZZ_CFLAGS) -o $(O)/fuzz/$$n $$f $(COMMON_SRC) $(VAULT_SRC) $(AUDIT_SRC) $(TAG_SRC) $(POLICY_SRC) $(PROXY_SRC) $(LDLIBS) || exit 1; \
	  mkdir -p $(O)/fuzz/$$n.corpus; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $(O)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    $(O)/fuzz/$$n.corpus tests/fuzz/corpus/$$n || exit 1; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo $(O)

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run $(O)

lint:
	@scripts/lint

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/piivault
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 0644 tagger/piitag.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(LIBTAG) $(LIBCOMMON) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/piivault/

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)
