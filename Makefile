# mod_cc_cdr: build, install, demo and test.
#
#   make                build target/release/mod_cc_cdr.so (stripped) and
#                       mod_cc_cdr.so.debug (its debug info)
#   make install        install the stripped module (and the sample config,
#                       if none) into the FreeSWITCH under FREESWITCH_PREFIX
#   make install-debug  also install mod_cc_cdr.so.debug beside it, where gdb
#                       finds it through the module's .gnu_debuglink
#   make demo           build, then run sample calls in a throwaway FreeSWITCH
#   make test           all tests (real-FreeSWITCH ones skip without FreeSWITCH)
#   make check          formatting and lints

FREESWITCH_PREFIX ?= /usr/local/freeswitch
export FREESWITCH_PREFIX
PKG_CONFIG_FS = PKG_CONFIG_PATH=$(FREESWITCH_PREFIX)/lib/pkgconfig pkg-config
# FreeSWITCH's own directories: pkg-config first, then the classic layout.
MODDIR  ?= $(or $(shell $(PKG_CONFIG_FS) --variable=modulesdir freeswitch 2>/dev/null),$(FREESWITCH_PREFIX)/mod)
CONFDIR ?= $(or $(shell $(PKG_CONFIG_FS) --variable=confdir freeswitch 2>/dev/null),$(FREESWITCH_PREFIX)/conf)

MODULE = target/release/mod_cc_cdr.so
DEBUG_INFO = $(MODULE).debug

.PHONY: all build install install-debug demo test check fuzz clean

all: build

# The module without its debug info (which is most of the file), and the
# debug info in a file of its own, linked by name from the module.
build:
	cargo build --release --lib --bins
	objcopy --only-keep-debug target/release/libmod_cc_cdr.so $(DEBUG_INFO)
	cd target/release && objcopy --strip-debug --strip-unneeded \
		--add-gnu-debuglink=mod_cc_cdr.so.debug libmod_cc_cdr.so mod_cc_cdr.so
	@echo "built $(MODULE) ($$(du -h $(MODULE) | cut -f1)) and $(DEBUG_INFO)"

install: build
	@test -d "$(MODDIR)" || { echo "no FreeSWITCH module dir at $(MODDIR) (set FREESWITCH_PREFIX or MODDIR)"; exit 1; }
	install -m 0755 $(MODULE) "$(MODDIR)/mod_cc_cdr.so"
	@if [ -e "$(CONFDIR)/autoload_configs/cc_cdr.conf.xml" ]; then \
		echo "kept your $(CONFDIR)/autoload_configs/cc_cdr.conf.xml"; \
	else \
		install -D -m 0644 conf/autoload_configs/cc_cdr.conf.xml "$(CONFDIR)/autoload_configs/cc_cdr.conf.xml"; \
	fi
	@echo "installed $(MODDIR)/mod_cc_cdr.so; now 'load mod_cc_cdr' in fs_cli,"
	@echo "and add <load module=\"mod_cc_cdr\"/> to autoload_configs/modules.conf.xml"

install-debug: install
	install -m 0644 $(DEBUG_INFO) "$(MODDIR)/mod_cc_cdr.so.debug"
	@echo "installed $(MODDIR)/mod_cc_cdr.so.debug"

demo: build
	cargo run --release -p tools --bin cc_cdr_demo

test:
	cargo build --workspace --lib --bins
	cargo test --workspace --all-targets

check:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# The event-to-row fuzz target, seeded with the captured events, for
# FUZZ_SECONDS (default 600). cargo-fuzz wants nightly Rust;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain build it.
FUZZ_SECONDS ?= 600
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	mkdir -p fuzz/corpus/event_to_row
	cp tests/fixtures/*.events tests/fixtures/cases/*.events fuzz/corpus/event_to_row/
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run event_to_row corpus/event_to_row -- \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096

clean:
	cargo clean
