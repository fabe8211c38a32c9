# Entry points for people and CI. `make run` and `make test` work on a fresh Debian 12 machine as
# root: they install the missing Debian packages first and skip what is already there.

# What building needs; `make run` installs only these.
DEBIAN_PACKAGES := build-essential cmake ninja-build pkg-config libuv1-dev libtomlplusplus-dev \
                   libspdlog-dev libfmt-dev doctest-dev nlohmann-json3-dev libhttp-parser-dev
# What the tests add: Chromium for the dashboard, Node and npm for the compatibility and browser
# tests (Node and npm only when the machine has none: it may have a newer Node than Debian's),
# clang-format and clang-tidy for the checks of the sources.
TEST_PACKAGES := chromium clang-format clang-tidy \
                 $(if $(shell command -v node),,nodejs) $(if $(shell command -v npm),,npm)
# The sources that clang-format and clang-tidy check: every library folder (tests are formatted too).
SOURCE_FOLDERS := faults|teardown|rules|proxy|control|cli
CONFIG ?= examples/quickstart.toml

# Installs the Debian packages of $(1) that are missing.
define apt_install
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps test-deps build run bench test test-dev test-asan format check-format tidy clean

all: build

deps:
	$(call apt_install,$(DEBIAN_PACKAGES))

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))
	@[ -d tests/compat/node_modules/toxiproxy-node-client ] || \
	  npm ci --prefix tests/compat --no-audit --no-fund --loglevel=error
	@[ -d tests/browser/node_modules/playwright-core ] || \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release --target faultline

run: build
	./build/release/faultline serve --config $(CONFIG)

# Not part of `make test`: figures, not pass/fail (docs/performance.md).
bench: deps
	cmake --preset release >/dev/null
	cmake --build --preset release --target faultline faultline_bench
	./build/release/faultline_bench $(BENCH_ARGS)

test-dev: test-deps check-format
	cmake --preset dev >/dev/null
	cmake --build --preset dev
	$(MAKE) --no-print-directory tidy
	ctest --preset dev

test-asan: test-deps
	cmake --preset asan-ubsan >/dev/null
	cmake --build --preset asan-ubsan
	ctest --preset asan-ubsan

test: test-dev test-asan

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

check-format:
	@echo "clang-format: checking every .cpp and .hpp"
	@clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

# clang-tidy with the dev build's compile commands (.clang-tidy says which checks and why); any
# finding fails. The full output is in build/dev/tidy.log.
tidy:
	@[ -f build/dev/compile_commands.json ] || cmake --preset dev >/dev/null
	@echo "clang-tidy: checking the sources of $(SOURCE_FOLDERS)"
	@run-clang-tidy -p build/dev -j 2 -quiet '$(CURDIR)/($(SOURCE_FOLDERS))/' \
	    > build/dev/tidy.log 2>&1 || \
	  { grep -E '(error|warning): ' build/dev/tidy.log | sort -u; \
	    echo "clang-tidy found problems (build/dev/tidy.log)"; exit 1; }

clean:
	rm -rf build
