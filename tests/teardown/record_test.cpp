// Classification and rendering of teardown records, without sockets.
#include "teardown/record.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace faultline::teardown {
namespace {

TeardownRecord reset_by_server() {
    TeardownRecord record;
    record.id = 42;
    record.proxy = "pg";
    record.cause = {Reason::reset_o, Initiator::server, {}, {}};
    record.client = {"127.0.0.1:51374", EndpointState::rst_sent, false, false, false, false};
    record.server = {"127.0.0.1:5432", EndpointState::rst_received, false, true, false, false};
    record.duration = std::chrono::milliseconds(3204);
    record.bytes_up = 1234;
    record.bytes_down = 88;
    return record;
}

// An endpoint's history in which the given flags, and no others, are set.
EndpointHistory history_with(std::initializer_list<bool EndpointHistory::*> flags) {
    EndpointHistory history;
    for (const auto flag : flags)
        history.*flag = true;
    return history;
}

}  // namespace

TEST_SUITE("teardown/record") {
    TEST_CASE("a reset is Reset-I from the inside endpoint and Reset-O from the outside one") {
        CHECK(reset_reason(Side::client, Side::client) == Reason::reset_i);
        CHECK(reset_reason(Side::server, Side::client) == Reason::reset_o);
        CHECK(reset_reason(Side::server, Side::server) == Reason::reset_i);
        CHECK(reset_reason(Side::client, Side::server) == Reason::reset_o);
    }

    TEST_CASE("an endpoint's reason is its own reset, then its own FIN, then the connection's") {
        const Cause server_reset{Reason::reset_o, Initiator::server, {}, {}};
        CHECK(endpoint_reason(history_with({&EndpointHistory::sent_fin}), Side::client,
                              Side::client, server_reset) == Reason::tcp_fins);
        CHECK(
            endpoint_reason(history_with({&EndpointHistory::sent_fin, &EndpointHistory::sent_rst}),
                            Side::server, Side::client, server_reset) == Reason::reset_o);
        CHECK(endpoint_reason(history_with({&EndpointHistory::refused}), Side::server, Side::server,
                              server_reset) == Reason::reset_i);
        CHECK(endpoint_reason(history_with({&EndpointHistory::connect_timed_out}), Side::server,
                              Side::client, {Reason::syn_timeout, Initiator::faultline, {}, {}}) ==
              Reason::syn_timeout);
        CHECK(endpoint_reason(history_with({}), Side::client, Side::client,
                              {Reason::xlate_clear, Initiator::faultline, {}, {}}) ==
              Reason::xlate_clear);
    }

    TEST_CASE("the JSON record has exactly the documented fields in order") {
        auto json = to_json(reset_by_server());
        CHECK(json.dump() ==
              R"({"event":"teardown","id":42,"proxy":"pg","reason":"Reset-O","initiator":"server",)"
              R"("client":{"address":"127.0.0.1:51374","state":"rst_sent","reason":"Reset-O"},)"
              R"("server":{"address":"127.0.0.1:5432","state":"rst_received","reason":"Reset-O"},)"
              R"("duration_ms":3204,"bytes_up":1234,"bytes_down":88,"rule":null})");
    }

    TEST_CASE("the JSON record names the rule and the error when there are any") {
        auto record = reset_by_server();
        record.cause = {Reason::unknown, Initiator::faultline, "EMFILE", {}};
        record.client.address.clear();
        auto json = to_json(record);
        CHECK(json["client"]["address"].is_null());
        CHECK(json["error"] == "EMFILE");
        CHECK(json["rule"].is_null());
        record.cause = {Reason::deny, Initiator::faultline, {}, "cut"};
        CHECK(to_json(record)["rule"] == "cut");
    }

    TEST_CASE("the text record reads as one line of key=value pairs") {
        CHECK(to_text(reset_by_server()) ==
              "teardown id=42 proxy=pg reason=\"Reset-O\" initiator=server "
              "client=127.0.0.1:51374[rst_sent] server=127.0.0.1:5432[rst_received] "
              "duration=3.204s bytes_up=1234 bytes_down=88 rule=-");
    }

    TEST_CASE("every reason and state has its documented name") {
        const std::vector<std::pair<Reason, std::string>> reasons{
            {Reason::tcp_fins, "TCP FINs"},
            {Reason::fin_timeout, "FIN Timeout"},
            {Reason::syn_timeout, "SYN Timeout"},
            {Reason::xlate_clear, "Xlate Clear"},
            {Reason::deny, "Deny"},
            {Reason::syn_control, "SYN Control"},
            {Reason::uauth_deny, "Uauth Deny"},
            {Reason::unknown, "Unknown"},
            {Reason::conn_timeout, "Conn-timeout"},
        };
        for (const auto& [reason, name] : reasons) {
            CAPTURE(name);
            CHECK(reason_name(reason) == name);
        }
        CHECK(state_name(EndpointState::connect_timeout) == "connect_timeout");
        CHECK(state_name(EndpointState::not_connected) == "not_connected");
        CHECK(initiator_name(Initiator::faultline) == "faultline");
    }
}

}  // namespace faultline::teardown
