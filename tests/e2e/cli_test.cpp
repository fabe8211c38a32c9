// The command line as a user meets it: `faultline check` on broken and valid files (the exact
// messages, with locations), --version and --help, and the exit statuses of serve's failures.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "faults/registry.hpp"
#include "tests/e2e/files_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::string::size_type start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

}  // namespace

TEST_SUITE("e2e cli") {
    TEST_CASE("check reports every error of a broken file with its location and exits 2") {
        TempConfig config(R"([log]
level = "verbose"

[[proxy]]
name = "pg"
lisen = "127.0.0.1:0"
upstream = "127.0.0.1:5432"
idle_timeout = 30

  [[proxy.rule]]
  name = "slow"
  type = "latncy"
)");
        auto result = check_config(config.path());
        REQUIRE_FALSE(result.timed_out);
        CHECK(result.status.code() == 2);
        const std::string& file = config.path();
        std::vector<std::string> expected{
            file +
                ":2:9: log.level: unknown level 'verbose'; known: trace, debug, info, warn, error",
            file + ":4:1: proxy[0]: missing required key 'listen'",
            file +
                ":6:1: proxy[0].lisen: unknown key; known: name, listen, upstream, enabled, "
                "allow, deny, connect_timeout, half_closed_timeout, idle_timeout, inside, "
                "buffer_limit, rule",
            file +
                ":8:16: proxy[0].idle_timeout: expected a duration string like \"30s\", got an "
                "integer",
            file + ":12:10: proxy[0].rule[0].type: unknown fault type 'latncy'; known: " +
                faults::known_type_list(),
        };
        CHECK(lines_of(result.err) == expected);
        CHECK(result.out.empty());
    }

    TEST_CASE("check reports a TOML syntax error with its location and exits 2") {
        TempConfig config("seed = 1\nseed = 2\n");
        auto result = check_config(config.path());
        CHECK(result.status.code() == 2);
        CHECK(lines_of(result.err) ==
              std::vector<std::string>{config.path() +
                                       ":2:8: Error while parsing key-value pair: cannot redefine "
                                       "existing integer 'seed'"});
    }

    TEST_CASE("check names a file that cannot be read and exits 2") {
        auto result = check_config("/nonexistent-faultline/chaos.toml");
        CHECK(result.status.code() == 2);
        CHECK(result.err ==
              "/nonexistent-faultline/chaos.toml: cannot read file: No such file or directory\n");
    }

    TEST_CASE("check accepts the quickstart example and exits 0") {
        auto result = check_config(FAULTLINE_SOURCE_DIR "/examples/quickstart.toml");
        CHECK(result.status.code() == 0);
        CHECK(result.err.empty());
    }

    TEST_CASE("serve refuses a broken configuration with exit status 2 before listening") {
        TempConfig config("[[proxy]]\nname = \"p\"\n");
        auto result = run_faultline({"serve", "--config", config.path()});
        CHECK(result.status.code() == 2);
        CHECK(result.err.find("missing required key 'listen'") != std::string::npos);
    }

    TEST_CASE("serve exits 1 with a message when a listen address is taken") {
        Listener taken = listen_on_loopback();
        std::string address = "127.0.0.1:" + std::to_string(taken.port);
        auto result = run_faultline({"serve", "--api", address});
        CHECK(result.status.code() == 1);
        CHECK(result.err.find("listen on " + address + " failed: EADDRINUSE") != std::string::npos);
    }

    TEST_CASE("check refuses an [api] listen that a proxy's listen equals or overlaps, exit 2") {
        struct Row {
            std::string api;
            std::string proxy;
            std::string message;
        };
        const std::vector<Row> rows{
            {"127.0.0.1:9001", "127.0.0.1:9001", "127.0.0.1:9001 is already used by api.listen"},
            {"127.0.0.1:9001", "0.0.0.0:9001", "0.0.0.0:9001 overlaps api.listen 127.0.0.1:9001"},
            {"0.0.0.0:9001", "127.0.0.2:9001", "127.0.0.2:9001 overlaps api.listen 0.0.0.0:9001"},
            {"[::]:9001", "127.0.0.1:9001", "127.0.0.1:9001 overlaps api.listen [::]:9001"},
        };
        for (const Row& row : rows) {
            CAPTURE(row.api);
            CAPTURE(row.proxy);
            TempConfig config("[api]\nlisten = \"" + row.api + "\"\ntoken = \"secret\"\n\n" +
                              "[[proxy]]\nname = \"p\"\nlisten = \"" + row.proxy +
                              "\"\nupstream = \"127.0.0.1:5432\"\n");
            auto result = check_config(config.path());
            CHECK(result.status.code() == 2);
            CHECK(
                lines_of(result.err) ==
                std::vector<std::string>{config.path() + ":7:10: proxy[0].listen: " + row.message});
        }
    }

    TEST_CASE("check refuses proxies whose listen addresses overlap, exit 2") {
        TempConfig config(
            "[[proxy]]\nname = \"a\"\nlisten = \"127.0.0.1:9001\"\nupstream = \"127.0.0.1:5432\"\n"
            "[[proxy]]\nname = \"b\"\nlisten = \"0.0.0.0:9001\"\nupstream = \"127.0.0.1:5432\"\n");
        auto result = check_config(config.path());
        CHECK(result.status.code() == 2);
        CHECK(lines_of(result.err) ==
              std::vector<std::string>{config.path() +
                                       ":7:10: proxy[1].listen: 0.0.0.0:9001 overlaps "
                                       "127.0.0.1:9001 of proxy[0]"});
    }

    TEST_CASE("check and serve refuse a proxy on the control API's address, default or --api") {
        TempConfig on_default(
            "[[proxy]]\nname = \"p\"\nlisten = \"127.0.0.1:8474\"\nupstream = "
            "\"127.0.0.1:5432\"\n");
        auto checked = check_config(on_default.path());
        CHECK(checked.status.code() == 2);
        CHECK(checked.err == on_default.path() +
                                 ": proxy 'p' listens on 127.0.0.1:8474, the control API's "
                                 "address (api.listen, by default 127.0.0.1:8474)\n");

        const std::uint16_t port = unused_port();
        const std::string address = "127.0.0.1:" + std::to_string(port);
        TempConfig config("[[proxy]]\nname = \"p\"\nlisten = \"" + address +
                          "\"\nupstream = \"127.0.0.1:5432\"\n");
        auto served = run_faultline({"serve", "--config", config.path(), "--api", address});
        CHECK(served.status.code() == 2);
        CHECK(served.err.starts_with("faultline: proxy 'p' listens on " + address +
                                     ", the control API's address (--api)\n"));
    }

    TEST_CASE(
        "a [log] file in a directory that does not exist: check exits 2, serve exits 1 and "
        "creates nothing") {
        TempDir dir;
        const std::string missing = dir / "missing/logs";
        const std::string log = missing + "/faultline.log";
        TempConfig config("[log]\nfile = \"" + log + "\"\n");

        auto checked = check_config(config.path());
        CHECK(checked.status.code() == 2);
        CHECK(checked.err == config.path() + ":2:8: log.file: cannot open " + log + ": directory " +
                                 missing + " does not exist\n");

        auto served = run_faultline({"serve", "--config", config.path(), "--api", "127.0.0.1:0"});
        CHECK(served.status.code() == 1);
        CHECK(served.err == "faultline: cannot open log file " + log + ": directory " + missing +
                                " does not exist\n");
        CHECK_FALSE(std::filesystem::exists(dir / "missing"));
    }

    TEST_CASE("a [log] file that cannot be opened: check exits 2, serve exits 1 without usage") {
        TempDir dir;
        TempConfig config("[log]\nfile = \"" + dir.path().string() + "\"\n");

        auto checked = check_config(config.path());
        CHECK(checked.status.code() == 2);
        CHECK(checked.err == config.path() + ":2:8: log.file: cannot open " + dir.path().string() +
                                 ": it is a directory\n");

        auto served = run_faultline({"serve", "--config", config.path(), "--api", "127.0.0.1:0"});
        CHECK(served.status.code() == 1);
        CHECK(served.err ==
              "faultline: cannot open log file " + dir.path().string() + ": it is a directory\n");
    }

    TEST_CASE("--version, --help and usage errors") {
        auto version = run_faultline({"--version"});
        CHECK(version.status.code() == 0);
        CHECK(version.out.starts_with("faultline "));
        for (const char* command : {"serve", "check"}) {
            auto help = run_faultline({command, "--help"});
            CHECK(help.status.code() == 0);
            CHECK(help.out.find(std::string("usage: faultline ") + command) != std::string::npos);
        }
        auto unknown = run_faultline({"serve", "--bogus"});
        CHECK(unknown.status.code() == 2);
        CHECK(unknown.err.find("unknown option '--bogus'") != std::string::npos);
    }
}

}  // namespace faultline::e2e
