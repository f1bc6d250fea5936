# starry: a toolkit of small C commands for fleets of agent processes.
# `make` builds the commands into bin/; `make check` runs every test.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

CC      ?= cc
PKGS    := jansson yaml-0.1 sqlite3
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DSTARRY_VERSION='"$(VERSION)"' \
	-DSTARRY_PREFIX='"$(PREFIX)"' $(WARN) -Ilib -Ibin $(CFLAGS) $(SAN)
# jansson, libyaml and SQLite are linked in statically (Debian's -dev
# packages ship the archives): a command then starts without loading and
# relocating three shared libraries, which is most of what it costs to
# start one (make bench, section h).
LDLIBS  := -Wl,-Bstatic -ljansson -lyaml -lsqlite3 -Wl,-Bdynamic -lm
# The commands go further: static executables (position-independent, so
# still placed at random), which the kernel maps and starts without the
# dynamic loader at all; that halves what it costs to start one. Not
# under the sanitizers, whose runtimes need the shared libc.
ifeq ($(SAN),)
CMD_LDLIBS := -static-pie -Wl,--wrap=dlopen,-u,__wrap_dlopen \
	-ljansson -lyaml -lsqlite3 -lm
else
CMD_LDLIBS := $(LDLIBS)
endif
UNITLIBS := -lcmocka

# Objects go to $(OUT); commands to $(BINDIR). A plain build puts the
# commands beside their sources in bin/ so PATH=$PWD/bin:$PATH finds them.
OUT     ?= build
BINDIR  ?= bin

LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(OUT)/lib/%.o)
LIBSTARRY := $(OUT)/libstarry.a
CMDS      := $(sort $(patsubst bin/%.c,%,$(wildcard bin/starry-*.c)))
CMD_BINS  := $(CMDS:%=$(BINDIR)/%)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
MAN_SRC   := $(sort $(wildcard man/man*/*.[157]))

# Objects depend on the flags they were built with (PREFIX is one), so a
# change of flags rebuilds them.
FLAGS_NOW   := $(strip $(ALL_CFLAGS) $(LDLIBS) $(CMD_LDLIBS))
FLAGS_STAMP := $(OUT)/flags
ifneq ($(FLAGS_NOW),$(strip $(file < $(FLAGS_STAMP))))
$(shell mkdir -p $(OUT))
$(file > $(FLAGS_STAMP),$(FLAGS_NOW))
endif

.PHONY: all check check-asan units bench fuzz demo deps deps-check install uninstall clean lint-man
.SECONDARY:

all: $(CMD_BINS)

$(OUT)/lib/%.o: lib/%.c $(wildcard lib/*.h) $(FLAGS_STAMP) | $(OUT)/lib
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OUT)/cmd/%.o: bin/%.c $(wildcard lib/*.h bin/*.h) $(FLAGS_STAMP) | $(OUT)/cmd
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBSTARRY): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# A command is bin/starry-NAME.c plus any bin/NAME-*.c beside it.
cmd_parts = $(patsubst bin/%.c,$(OUT)/cmd/%.o,$(wildcard bin/$(1)-*.c))
.SECONDEXPANSION:
$(BINDIR)/starry-%: $(OUT)/cmd/starry-%.o $$(call cmd_parts,$$*) $(LIBSTARRY) | $(BINDIR)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(CMD_LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(LIBSTARRY) | $(OUT)/tests
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIBSTARRY) $(LDLIBS) $(UNITLIBS)

$(OUT)/lib $(OUT)/cmd $(OUT)/tests:
	mkdir -p $@
ifneq ($(BINDIR),bin)
$(BINDIR):
	mkdir -p $@
endif

units: $(UNIT_BINS)

deps deps-check:
	@sh contrib/deps.sh

check: deps-check
	$(MAKE) all units
	sh tests/run-suites $(OUT)/tests $(BINDIR)

check-asan: deps-check
	$(MAKE) OUT=build-asan BINDIR=build-asan/bin \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' \
		CFLAGS='-O1 -g' all units
	STARRY_SANITIZE=1 sh tests/run-suites build-asan/tests build-asan/bin

bench: deps-check all
	sh tests/bench/run $(BINDIR)

# libFuzzer harnesses (clang), FUZZ_SECONDS each; not part of make check.
FUZZ_SECONDS ?= 60
fuzz: deps-check
	sh tests/fuzz/run $(FUZZ_SECONDS)

demo: deps-check all
	sh contrib/demo.sh $(BINDIR)

lint-man:
	mandoc -T lint -W warning $(MAN_SRC)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/starry \
		$(DESTDIR)$(PREFIX)/etc/starry
	install -m 0755 $(CMD_BINS) $(DESTDIR)$(PREFIX)/bin/
	for m in $(MAN_SRC); do \
		s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	cp -R share/starry/. $(DESTDIR)$(PREFIX)/share/starry/
	# Configuration already there is the user's: never overwritten.
	cp -R -n etc/starry/. $(DESTDIR)$(PREFIX)/etc/starry/

uninstall:
	for c in $(CMDS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$c; done
	for m in $(MAN_SRC); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}; done
	rm -rf $(DESTDIR)$(PREFIX)/share/starry
	@echo "starry: kept $(DESTDIR)$(PREFIX)/etc/starry (configuration)"

clean:
	rm -rf build build-asan build-fuzz $(CMDS:%=bin/%)
