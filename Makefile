# CRAFT: client-transparent fault tolerance for TCP services, in user space.
#
#   make            build daemons, tools and unit-test runner into build/
#   make deps       install missing Debian packages (idempotent)
#   make test       deps + unit tests (plain and ASan/UBSan) + end-to-end tests
#   make test T=X   one group: unit, asan, or an end-to-end group/scenario
#                   (e.g. T=foundation, T=foundation/passthrough)
#   make demo       deps + test bed + real traffic + counters + teardown
#   make bench      benchmarks (CSV + PNG under build/bench/)
#   make fuzz       bounded libFuzzer runs of the parsers
#   make format     clang-format every C file in place; make format-check checks
#   V=1             show full compiler command lines

CC      ?= cc
BUILD   ?= build
PKGS    := libnetfilter_queue libnfnetlink libmnl libip4tc sqlite3 libsodium libcrypto libpcap
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
# OPT is what `make asan` swaps for sanitizer flags; CFLAGS stays the user's.
OPT     ?= -O2 -g
ALL_CFLAGS = $(OPT) $(CSTD) $(WARN) -MMD -MP -Infq/core -pthread $(EXTRA_CFLAGS) $(CFLAGS)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -pthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

CORE_SRC   := $(sort $(wildcard nfq/core/*.c))
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
DAEMON_DIRS := $(filter-out nfq/core,$(patsubst %/,%,$(sort $(dir $(wildcard nfq/*/main.c)))))
DAEMON_BINS := $(foreach d,$(DAEMON_DIRS),$(BUILD)/bin/craft-$(notdir $(d)))
TOOL_DIRS  := $(patsubst %/,%,$(sort $(dir $(wildcard tools/*/main.c))))
TOOL_BINS  := $(foreach d,$(TOOL_DIRS),$(BUILD)/bin/craft-$(notdir $(d)))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(sort $(wildcard tests/unit/helper_*.c))

all: $(DAEMON_BINS) $(TOOL_BINS) $(BUILD)/bin/unit-tests

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -c -o $@ $<

$(BUILD)/libcore.a: $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

# Every daemon is nfq/NAME/*.c linked against the core; so is every tool.
define program
$(BUILD)/bin/craft-$(notdir $(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(BUILD)/libcore.a
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach d,$(DAEMON_DIRS) $(TOOL_DIRS),$(eval $(call program,$(d))))

# The unit runner collects every tests/unit/test_NAME.c, each of which
# defines `Suite *NAME_suite(void)`; the list is generated so that adding a
# test file never means editing a shared one.
$(BUILD)/unit_suites.h: $(UNIT_SRC) Makefile
	@mkdir -p $(dir $@)
	$(Q)for f in $(UNIT_SRC); do b=$$(basename $$f .c); echo "SUITE($${b#test_})"; done > $@.tmp.$$$$ && mv $@.tmp.$$$$ $@

$(BUILD)/tests/unit/run_unit.o: $(BUILD)/unit_suites.h
$(BUILD)/bin/unit-tests: $(patsubst %.c,$(BUILD)/%.o,tests/unit/run_unit.c $(UNIT_SRC) $(UNIT_HELPERS)) $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(CHECK_LIBS)
$(patsubst %.c,$(BUILD)/%.o,tests/unit/run_unit.c $(UNIT_SRC) $(UNIT_HELPERS)): EXTRA_CFLAGS = -I$(BUILD) $(shell pkg-config --cflags check 2>/dev/null)

# The same tree built with AddressSanitizer and UBSan, into its own folder.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" all

deps:
	$(Q)scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh $(T)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run.sh $(T)

fuzz: deps
	$(Q)tests/fuzz/run.sh

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(C_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(C_FILES)

clean:
	rm -rf $(BUILD)

.PHONY: all asan deps test demo bench fuzz format format-check clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
