// Black-box tests of `[log] file` (docs/run.md): SIGHUP opens the file again after logrotate moved
// it, and a log that cannot be written is counted in /metrics and shown by /healthz while the
// records stay available in /events.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/files_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

bool is_listening(const Json& value, std::string_view kind) {
    return value.value("event", "") == "listening" && value.value("kind", "") == kind;
}

// The API's answer once it answers at all (faultline logs nowhere the test can read).
ApiAnswer api_request_when_up(const sockaddr_in& api, std::string_view path) {
    const Deadline deadline(event_timeout);
    while (try_connect(api, 100ms).error != 0) {
        REQUIRE_MESSAGE(!deadline.has_passed(), "the API never answered");
        std::this_thread::sleep_for(10ms);
    }
    return api_request(api, "GET", path);
}

// The value of the first sample of `family` in Prometheus text; -1 when absent.
long long metric_value(const std::string& text, std::string_view family) {
    const std::string prefix = "\n" + std::string(family) + " ";
    const auto at = ("\n" + text).find(prefix);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + prefix.size() - 1));
}

}  // namespace

TEST_SUITE("e2e log file") {
    TEST_CASE("after logrotate moves the log file, SIGHUP makes faultline write a new one") {
        TempDir dir;
        Listener server = listen_on_loopback();
        const std::string log = dir / "faultline.log";
        const std::string config = dir / "chaos.toml";
        write_text(config, proxy_config(server.port) + "\n[log]\nfile = \"" + log + "\"\n");
        Faultline faultline(Faultline::serve_args(config));
        const auto listening =
            wait_file_event(log, [](const Json& value) { return is_listening(value, "proxy"); });
        REQUIRE(listening);
        const sockaddr_in proxy = parse_address((*listening)["address"].get<std::string>());

        std::filesystem::rename(log, log + ".1");
        REQUIRE(faultline.signal(SIGHUP));
        const auto reload = wait_file_event(log, [](const Json& value) {
            return value.value("event", "") == "reload" && value.value("trigger", "") == "SIGHUP";
        });
        REQUIRE_MESSAGE(reload, "no new log file with the reload in it");

        // A connection's record goes to the new file, not to the one moved away.
        Fd client = connect_to(proxy);
        const std::string client_address = local_address(client.get());
        Fd upstream = accept_from(server.fd.get());
        REQUIRE(upstream.is_open());
        client.reset();
        CHECK(read_to_end(upstream.get()).describe() == "EOF");
        upstream.reset();
        const auto is_record = [&](const Json& value) {
            return value.value("event", "") == "teardown" &&
                   value["client"].value("address", "") == client_address;
        };
        CHECK(wait_file_event(log, is_record));
        CHECK_FALSE(wait_file_event(log + ".1", is_record, 0ms));
    }

    TEST_CASE(
        "a log that cannot be written is counted in /metrics, makes /healthz say degraded with "
        "the reason, and the records stay in /events") {
        TempDir dir;
        Listener server = listen_on_loopback();
        const std::string config = dir / "chaos.toml";
        write_text(config, proxy_config(server.port) + "\n[log]\nfile = \"/dev/full\"\n");
        const sockaddr_in api = loopback(unused_port());
        Faultline faultline(std::vector<std::string>{"serve", "--config", config, "--api",
                                                     address_text(api), "--log-format", "json"});

        const ApiAnswer health = api_request_when_up(api, "/healthz");
        INFO(health.body);
        REQUIRE(health.status == 200);
        CHECK(health.json()["status"] == "degraded");
        CHECK(health.json()["log_write_failures"].get<long long>() > 0);
        CHECK(health.json()["log_error"].get<std::string>().find("No space left on device") !=
              std::string::npos);

        const ApiAnswer metrics = api_request(api, "GET", "/metrics");
        INFO(metrics.body);
        CHECK(metric_value(metrics.body, "faultline_log_write_failures_total") > 0);

        // A connection through the proxy: its record is in /events though no line was written.
        const Json proxy = api_request(api, "GET", "/proxies/p").json();
        Fd client = connect_to(parse_address(proxy["listen"].get<std::string>()));
        const std::string client_address = local_address(client.get());
        Fd upstream = accept_from(server.fd.get());
        REQUIRE(upstream.is_open());
        client.reset();
        CHECK(read_to_end(upstream.get()).describe() == "EOF");
        upstream.reset();
        const Deadline deadline(event_timeout);
        bool is_recorded = false;
        while (!is_recorded && !deadline.has_passed()) {
            for (const Json& record : api_request(api, "GET", "/events").json()) {
                if (record.value("event", "") == "teardown" &&
                    record["client"].value("address", "") == client_address) {
                    is_recorded = true;
                }
            }
            if (!is_recorded) std::this_thread::sleep_for(10ms);
        }
        CHECK(is_recorded);
        const long long failures_after = metric_value(api_request(api, "GET", "/metrics").body,
                                                      "faultline_log_write_failures_total");
        CHECK(failures_after > metric_value(metrics.body, "faultline_log_write_failures_total"));
    }
}

}  // namespace faultline::e2e
