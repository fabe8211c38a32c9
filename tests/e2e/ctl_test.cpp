// `faultline ctl` against a live faultline: every command, its table or JSON output, and the
// API's message with a non-zero exit status on failure.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

struct CtlFixture {
    Listener server = listen_on_loopback();
    Faultline faultline{std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format",
                                                 "json", "--log-level", "debug"}};
    std::string url = "http://" + address_text(api_address_of(faultline));

    ProcessResult ctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"ctl", "--url", url});
        return run_faultline(args);
    }

    // Creates proxy "db" in front of the server with `ctl create`; returns where it listens.
    sockaddr_in create_db() {
        const std::string upstream = "127.0.0.1:" + std::to_string(server.port);
        auto created =
            ctl({"--json", "create", "db", "--listen", "127.0.0.1:0", "--upstream", upstream});
        REQUIRE(created.status.code() == 0);
        return parse_address(Json::parse(created.out)["listen"].get<std::string>());
    }
};

}  // namespace

TEST_SUITE("e2e ctl") {
    TEST_CASE("creates, lists, inspects, toggles and deletes proxies") {
        CtlFixture f;
        const std::string upstream = "127.0.0.1:" + std::to_string(f.server.port);
        auto created = f.ctl({"create", "db", "--listen", "127.0.0.1:0", "--upstream", upstream});
        INFO(created.err);
        CHECK(created.status.code() == 0);
        CHECK(created.out.starts_with("created proxy db on 127.0.0.1:"));

        auto listed = f.ctl({"list"});
        CHECK(listed.status.code() == 0);
        CHECK(listed.out.starts_with("PROXY"));
        CHECK(listed.out.find("db") != std::string::npos);
        auto as_json = f.ctl({"--json", "list"});
        CHECK(Json::parse(as_json.out)["db"]["upstream"] == upstream);

        CHECK(f.ctl({"toggle", "db"}).out == "proxy db disabled\n");
        CHECK(Json::parse(f.ctl({"--json", "inspect", "db"}).out)["enabled"] == false);
        CHECK(f.ctl({"toggle", "db"}).out == "proxy db enabled\n");

        auto duplicate = f.ctl({"create", "db", "--upstream", upstream});
        CHECK(duplicate.status.code() == 1);
        CHECK(duplicate.err == "faultline ctl: proxy already exists\n");

        CHECK(f.ctl({"delete", "db"}).status.code() == 0);
        auto missing = f.ctl({"inspect", "db"});
        CHECK(missing.status.code() == 1);
        CHECK(missing.err == "faultline ctl: proxy not found\n");
    }

    TEST_CASE("adds, updates, disables, enables and removes a toxic") {
        CtlFixture f;
        const std::string upstream = "127.0.0.1:" + std::to_string(f.server.port);
        REQUIRE(f.ctl({"create", "db", "--upstream", upstream, "--listen", "127.0.0.1:0"})
                    .status.code() == 0);
        auto added = f.ctl({"--json", "toxic", "add", "db", "--type", "latency", "-a",
                            "latency=100", "--stream", "upstream"});
        INFO(added.err);
        REQUIRE(added.status.code() == 0);
        Json toxic = Json::parse(added.out);
        CHECK(toxic["name"] == "latency_upstream");
        CHECK(toxic["attributes"]["latency"] == 100);

        auto updated =
            f.ctl({"--json", "toxic", "update", "db", "latency_upstream", "-a", "jitter=7"});
        CHECK(Json::parse(updated.out)["attributes"] == Json{{"latency", 100}, {"jitter", 7}});
        CHECK(Json::parse(
                  f.ctl({"--json", "toxic", "disable", "db", "latency_upstream"}).out)["enabled"] ==
              false);
        CHECK(Json::parse(
                  f.ctl({"--json", "toxic", "enable", "db", "latency_upstream"}).out)["enabled"] ==
              true);
        auto inspected = f.ctl({"inspect", "db"});
        CHECK(inspected.out.find("latency_upstream") != std::string::npos);
        CHECK(f.ctl({"toxic", "remove", "db", "latency_upstream"}).out ==
              "removed toxic latency_upstream\n");
        auto bad = f.ctl({"toxic", "add", "db", "--type", "latncy"});
        CHECK(bad.status.code() == 1);
        CHECK(bad.err.starts_with("faultline ctl: invalid toxic type"));
    }

    TEST_CASE("lists and kills connections, shows events and metrics") {
        CtlFixture f;
        Fd client = connect_to(f.create_db());
        Fd server = accept_from(f.server.fd.get());
        REQUIRE(server.is_open());

        Json conns = Json::parse(f.ctl({"--json", "conns"}).out);
        REQUIRE(conns.size() == 1);
        CHECK(f.ctl({"conns"}).out.starts_with("ID"));
        const std::string id = std::to_string(conns[0]["id"].get<std::uint64_t>());
        CHECK(f.ctl({"kill", id}).out == "killed connection " + id + "\n");
        CHECK(read_to_end(client.get()).describe() == "ECONNRESET");
        REQUIRE(f.faultline.wait_teardown([](const Json&) { return true; }));

        auto events = f.ctl({"events"});
        CHECK(events.out.find("Xlate Clear") != std::string::npos);
        auto json_events = f.ctl({"--json", "events"});
        CHECK(Json::parse(json_events.out)["reason"] == "Xlate Clear");
        CHECK(f.ctl({"metrics"}).out.find("faultline_teardowns_total") != std::string::npos);
        auto unreachable = run_faultline({"ctl", "--url", "http://127.0.0.1:1", "list"});
        CHECK(unreachable.status.code() == 1);
        CHECK(unreachable.err.starts_with("faultline ctl: cannot connect"));
    }

    TEST_CASE("events --follow prints each teardown as it happens, as a row or as JSON") {
        CtlFixture f;
        const sockaddr_in proxy = f.create_db();
        Faultline table({"ctl", "--url", f.url, "events", "--follow"});
        Faultline lines({"ctl", "--url", f.url, "--json", "events", "--follow"});
        REQUIRE(f.faultline.wait_event(
            [](const Json& e) { return e["event"] == "api_follower" && e["followers"] == 2; }));
        REQUIRE(table.wait_stdout([](const std::string& out) { return out.starts_with("ID"); }));

        for (int i = 0; i < 2; ++i) {
            Fd client = connect_to(proxy);
            Fd server = accept_from(f.server.fd.get());
            REQUIRE(server.is_open());
            set_linger_reset(client.get());
            client.reset();
            CHECK(read_to_end(server.get()).describe() == "ECONNRESET");
        }
        auto rows = table.wait_stdout(
            [](const std::string& out) { return std::count(out.begin(), out.end(), '\n') >= 3; });
        REQUIRE(rows);
        CHECK(rows->find("Reset-I") != std::string::npos);
        auto json_lines = lines.wait_stdout(
            [](const std::string& out) { return std::count(out.begin(), out.end(), '\n') >= 2; });
        REQUIRE(json_lines);
        CHECK(Json::parse(json_lines->substr(0, json_lines->find('\n')))["reason"] == "Reset-I");

        // When faultline stops, the stream ends and so does the command, with a message.
        f.faultline.signal(SIGTERM);
        auto ended = table.wait_exit();
        REQUIRE(ended);
        CHECK(ended->code() == 1);
    }
}

}  // namespace faultline::e2e
