// Black-box tests of the process's life (signals and descriptor exhaustion, docs/teardown.md):
// stopping on a signal and surviving descriptor exhaustion. The command line itself (check, usage,
// exit statuses) is cli_test.cpp.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

// Accepts connections until one delivers `marker` first, closing the others (stale upstream
// connections of sessions that already ended); a closed Fd when none did before the timeout.
Fd accept_carrying(const Listener& listener, std::string_view marker, Millis timeout) {
    const Deadline deadline(timeout);
    while (!deadline.has_passed()) {
        Fd candidate = accept_from(listener.fd.get(), deadline.remaining());
        if (!candidate.is_open()) break;
        if (recv_exact(candidate.get(), marker.size(), deadline.remaining()).bytes == marker) {
            return candidate;
        }
    }
    return {};
}

// Serves the upstream side of many sessions: accepts every connection faultline makes, reads and
// discards, and closes each one at EOF or error; until `done()` or the deadline.
void serve_until(const Listener& listener, const std::function<bool()>& done, Millis timeout) {
    const Deadline deadline(timeout);
    std::vector<Fd> accepted;
    while (!done() && !deadline.has_passed()) {
        std::vector<pollfd> fds{{listener.fd.get(), POLLIN, 0}};
        for (const Fd& fd : accepted)
            fds.push_back({fd.get(), POLLIN, 0});
        if (poll_until(fds, Deadline(100ms)) <= 0) continue;  // re-check done() now and then
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            std::string sink;
            if (read_result(fds[i].fd, 0ms, &sink).kind != ReadResult::Kind::data) {
                accepted[i - 1].reset();
            }
        }
        std::erase_if(accepted, [](const Fd& fd) { return !fd.is_open(); });
        if ((fds[0].revents & POLLIN) != 0) {
            Fd fd = accept_from(listener.fd.get(), 0ms);
            if (fd.is_open()) accepted.push_back(std::move(fd));
        }
    }
}

}  // namespace

TEST_SUITE("e2e lifecycle") {
    TEST_CASE("SIGTERM resets live connections as Xlate Clear, logs shutdown and exits 0") {
        SessionFixture fixture;
        Session& session = fixture.session;

        REQUIRE(fixture.faultline.signal(SIGTERM));
        check_ends(session, "ECONNRESET", "ECONNRESET");
        check_record_of(fixture, session, cleared_by_operator);
        CHECK(fixture.faultline.wait_event("shutdown"));
        const auto status = fixture.faultline.wait_exit();
        REQUIRE(status);
        CHECK(status->describe() == "exit 0");
        CHECK(errno_name(try_connect(fixture.proxy).error) == "ECONNREFUSED");
    }

    TEST_CASE("SIGTERM with a client following the event stream and a live connection exits 0") {
        SessionFixture fixture;
        Session& session = fixture.session;
        std::string stream;
        const Fd follower = follow_events(api_address_of(fixture.faultline), stream);

        REQUIRE(fixture.faultline.signal(SIGTERM));
        check_ends(session, "ECONNRESET", "ECONNRESET");
        const auto status = fixture.faultline.wait_exit();
        REQUIRE(status);
        CHECK(status->describe() == "exit 0");
        // The stream ends with the API: the follower reads to its end, whatever came first.
        CHECK(read_to_end(follower.get()).kind != ReadResult::Kind::timeout);
    }

    TEST_CASE("SIGINT stops an idle faultline with a shutdown event and exit status 0") {
        ProxyFixture fixture;
        REQUIRE(fixture.faultline.signal(SIGINT));
        CHECK(fixture.faultline.wait_event("shutdown"));
        const auto status = fixture.faultline.wait_exit();
        REQUIRE(status);
        CHECK(status->describe() == "exit 0");
    }

    TEST_CASE("out of descriptors, faultline resets what it cannot serve as Unknown and recovers") {
        constexpr std::size_t client_count = 60;
        ProxyFixture fixture("", SpawnOptions{.max_open_files = 64, .environment = {}});
        // Under UndefinedBehaviorSanitizer the first check of each dynamic type opens a pipe, and
        // fails as a false "invalid vptr" when no descriptor is left: one ordinary connection first
        // has those checks made while descriptors are free.
        {
            Session warm_up = fixture.open_session();
            close_normally(warm_up);
            (void)record_of(fixture, warm_up);
        }

        // The kernel completes every handshake; a connection that faultline resets at once may
        // show its ECONNRESET already as the connect's result.
        std::vector<Connected> clients;
        std::map<std::string, std::size_t> client_by_address;
        for (std::size_t i = 0; i < client_count; ++i) {
            clients.push_back(try_connect(fixture.proxy));
            const std::string connect_result = errno_name(clients.back().error);
            CAPTURE(connect_result);
            REQUIRE((connect_result == "0" || connect_result == "ECONNRESET"));
            client_by_address[clients.back().local_address] = i;
        }
        const auto is_unknown = [](const Json& record) { return record["reason"] == "Unknown"; };
        CHECK(fixture.faultline.wait_teardown(is_unknown, 3s));
        CHECK(fixture.faultline.is_running());

        // Every connection recorded as Unknown is one of ours, and faultline reset it.
        std::set<std::size_t> reset_clients;
        for (const Json& record : fixture.faultline.teardowns()) {
            if (!is_unknown(record)) continue;
            INFO(record.dump());
            CHECK(record["client"]["state"] == "rst_sent");
            const auto found =
                client_by_address.find(record["client"]["address"].get<std::string>());
            REQUIRE(found != client_by_address.end());
            reset_clients.insert(found->second);
        }
        // What each client observes: ECONNRESET when recorded as Unknown, otherwise nothing yet
        // (served, or still waiting to be accepted); never a bare EOF, which would be a connection
        // closed without being served or recorded.
        std::map<std::string, std::size_t> observed;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const Connected& client = clients[i];
            std::string seen;
            if (reset_clients.contains(i)) {
                seen = first_end(client);
                CHECK(seen == "ECONNRESET");
            } else {
                seen = client.error != 0 ? errno_name(client.error)
                                         : read_result(client.fd.get(), 0ms).describe();
            }
            ++observed[seen];
        }
        std::string tally;
        for (const auto& [seen, count] : observed)
            tally += seen + ": " + std::to_string(count) + "; ";
        INFO("what the clients observed: " << tally);
        CHECK(observed["EOF"] == 0);

        // The clients leave; serve the upstream side until every connection has its record (the
        // warm-up's record is not one of them).
        clients.clear();
        const auto unrecorded_clients = [&] {
            std::set<std::string> recorded;
            for (const Json& record : fixture.faultline.teardowns())
                recorded.insert(record["client"]["address"].get<std::string>());
            std::size_t unrecorded = 0;
            for (const auto& entry : client_by_address) {
                if (!recorded.contains(entry.first)) ++unrecorded;
            }
            return unrecorded;
        };
        serve_until(
            fixture.server, [&] { return unrecorded_clients() == 0; }, 5s);
        const std::size_t unrecorded = unrecorded_clients();
        INFO("connections without a teardown record: " << unrecorded << " of " << client_count);
        CHECK(unrecorded == 0);
        CHECK(fixture.faultline.is_running());

        // A new connection goes through end to end.
        Fd client = connect_to(fixture.proxy);
        const std::string client_address = local_address(client.get());
        REQUIRE(send_all(client.get(), "after the storm") == 0);
        Fd server = accept_carrying(fixture.server, "after the storm", io_timeout);
        REQUIRE(server.is_open());
        REQUIRE(send_all(server.get(), "still here") == 0);
        CHECK(recv_exact(client.get(), 10).bytes == "still here");
        REQUIRE(::shutdown(client.get(), SHUT_WR) == 0);
        CHECK(read_to_end(server.get()).describe() == "EOF");
        server.reset();
        CHECK(read_to_end(client.get()).describe() == "EOF");
        client.reset();

        const Json record = record_of(fixture.faultline, client_address);
        check_record(
            record,
            "reason=TCP FINs initiator=client client=closed/TCP FINs server=closed/TCP FINs");
    }
}

}  // namespace faultline::e2e
