// Toxiproxy's routes (control/api_proxies.cpp) on a counting ControlPlane: what a request costs,
// told by how often it asks the plane for work that takes time linear in the number of proxies
// (a change, an address lookup), so that the count, not a clock, shows how a route scales.
#include <doctest/doctest.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "control/api.hpp"
#include "control/events.hpp"

namespace faultline::control {
namespace {

// A running program without sockets: a proxy "listens" on 127.0.0.1 and the next free port,
// except on `busy`, where listening fails and the change is undone, as App does.
class CountingPlane final : public ControlPlane {
  public:
    rules::Endpoint busy{"127.0.0.1", 9};
    std::size_t changes = 0;                  // apply
    std::size_t proxy_changes = 0;            // apply_to
    mutable std::size_t address_lookups = 0;  // listen_address, listen_addresses

    [[nodiscard]] const rules::Config& config() const override { return config_; }
    [[nodiscard]] std::optional<std::string> apply(rules::Config config) override {
        ++changes;
        for (auto& proxy : config.proxies) {
            if (proxy.listen == busy) return "listen on " + busy.text() + " failed";
            if (proxy.listen.port == 0) proxy.listen.port = next_port_++;
        }
        config_ = std::move(config);
        return std::nullopt;
    }
    // App changes one proxy in place; the count shows that a route asked for no more.
    [[nodiscard]] std::optional<std::string> apply_to(
        std::string_view name, std::optional<rules::ProxyConfig> proxy) override {
        ++proxy_changes;
        auto changes_before = changes;
        auto failure = ControlPlane::apply_to(name, std::move(proxy));
        changes = changes_before;
        return failure;
    }
    [[nodiscard]] std::string listen_address(std::string_view name) const override {
        ++address_lookups;
        for (const auto& proxy : config_.proxies) {
            if (proxy.name == name) return proxy.listen.text();
        }
        return {};
    }
    [[nodiscard]] std::unordered_map<std::string, std::string> listen_addresses() const override {
        ++address_lookups;
        std::unordered_map<std::string, std::string> addresses;
        for (const auto& proxy : config_.proxies)
            addresses.emplace(proxy.name, proxy.listen.text());
        return addresses;
    }
    [[nodiscard]] std::vector<ConnectionInfo> connections() const override { return {}; }
    [[nodiscard]] std::size_t connection_count() const override { return 0; }
    [[nodiscard]] std::map<std::string, std::uint64_t> connection_counts() const override {
        return {};
    }
    bool kill(std::uint64_t) override { return false; }
    [[nodiscard]] const teardown::Counters& counters() const override { return counters_; }
    [[nodiscard]] const std::vector<std::string>& reload_errors() const override { return errors_; }
    [[nodiscard]] const LoopLag& loop_lag() const override { return lag_; }

  private:
    rules::Config config_;
    std::uint16_t next_port_ = 20000;
    teardown::Counters counters_;
    std::vector<std::string> errors_;
    LoopLag lag_;
};

HttpRequest post(std::string path, std::string body) {
    HttpRequest request;
    request.method = "POST";
    request.path = std::move(path);
    request.body = std::move(body);
    return request;
}

HttpRequest get(std::string path) {
    HttpRequest request;
    request.method = "GET";
    request.path = std::move(path);
    return request;
}

// `count` populate entries named <prefix>0, <prefix>1...; the one at `busy_at` listens on 9.
std::string entries(std::string_view prefix, std::size_t count,
                    std::optional<std::size_t> busy_at = std::nullopt) {
    auto list = nlohmann::json::array();
    for (std::size_t i = 0; i < count; ++i) {
        list.push_back({{"name", std::string(prefix) + std::to_string(i)},
                        {"listen", busy_at == i ? "127.0.0.1:9" : "127.0.0.1:0"},
                        {"upstream", "127.0.0.1:7"}});
    }
    return list.dump();
}

}  // namespace

TEST_SUITE("control/api proxies") {
    TEST_CASE("populate makes one change for all its entries, however many proxies there are") {
        CountingPlane plane;
        EventLog events;
        Api api(plane, events);
        REQUIRE(api.handle(post("/populate", entries("old", 500))).status == 201);
        plane.changes = 0;
        plane.address_lookups = 0;

        HttpResponse answer = api.handle(post("/populate", entries("new", 1000)));
        REQUIRE(answer.status == 201);
        CHECK(nlohmann::json::parse(answer.body)["proxies"].size() == 1000);
        CHECK(plane.config().proxies.size() == 1500);
        CHECK(plane.changes == 1);
        CHECK(plane.address_lookups == 1);
    }

    TEST_CASE("a populate that fails applies the entries before the failing one in few changes") {
        CountingPlane plane;
        EventLog events;
        Api api(plane, events);
        HttpResponse answer = api.handle(post("/populate", entries("p", 1000, 600)));
        CHECK(answer.status == 500);
        auto body = nlohmann::json::parse(answer.body);
        CHECK(body["error"] == "listen on 127.0.0.1:9 failed");
        REQUIRE(body["proxies"].size() == 600);
        CHECK(body["proxies"][599]["name"] == "p599");
        CHECK(plane.config().proxies.size() == 600);
        // One change for all, then halving: about log2(1000) more, not one per entry.
        CHECK(plane.changes <= 12);
    }

    TEST_CASE("a change to one proxy or its toxics is a change to that proxy alone") {
        CountingPlane plane;
        EventLog events;
        Api api(plane, events);
        REQUIRE(api.handle(post("/populate", entries("p", 300))).status == 201);
        plane.changes = 0;
        auto toxic = R"({"name":"slow","type":"latency","attributes":{"latency":5}})";
        CHECK(api.handle(post("/proxies/p7/toxics", toxic)).status == 200);
        CHECK(
            api.handle(post("/proxies/p7/toxics/slow", R"({"attributes":{"latency":9}})")).status ==
            200);
        CHECK(api.handle(post("/proxies/p7", R"({"enabled":false})")).status == 200);
        HttpRequest remove = get("/proxies/p7/toxics/slow");
        remove.method = "DELETE";
        CHECK(api.handle(remove).status == 204);
        CHECK(plane.changes == 0);
        CHECK(plane.proxy_changes == 4);
        CHECK_FALSE(plane.config().proxies[7].enabled);
        CHECK(plane.config().proxies[7].rules.empty());
        CHECK(plane.config().proxies[8].enabled);
    }

    TEST_CASE("listing the proxies asks for their addresses once, not once per proxy") {
        CountingPlane plane;
        EventLog events;
        Api api(plane, events);
        REQUIRE(api.handle(post("/populate", entries("p", 300))).status == 201);
        plane.address_lookups = 0;
        HttpResponse answer = api.handle(get("/proxies"));
        REQUIRE(answer.status == 200);
        auto body = nlohmann::json::parse(answer.body);
        CHECK(body.size() == 300);
        CHECK(body["p299"]["listen"] == plane.listen_address("p299"));
        CHECK(plane.address_lookups == 2);  // the list's one, and the check's own
    }
}

}  // namespace faultline::control
