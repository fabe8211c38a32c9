// The control API's HTTP handling per connection, on an in-memory socket: pipelining, the request
// timer, half-closes, followers of the event stream, and the checks every request passes.
#include "control/api_server.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace faultline::control {
namespace {

// A socket that keeps what the server did to it; the test plays the kernel and the client.
class MemorySocket final : public ApiSocket {
  public:
    bool write(std::string bytes) override {
        written.push_back(std::move(bytes));
        return true;
    }
    [[nodiscard]] std::size_t unsent_bytes() const override { return unsent; }
    void stop_reading() override { is_reading = false; }
    bool start_reading() override {
        is_reading = true;
        return true;
    }
    bool shutdown() override {
        is_shut_down = true;
        return true;
    }
    void start_timer(std::chrono::milliseconds delay) override { timer = delay; }
    void stop_timer() override { timer.reset(); }
    void close() override { is_closed = true; }

    // What the server wrote, as one string.
    [[nodiscard]] std::string output() const {
        std::string all;
        for (const auto& bytes : written)
            all += bytes;
        return all;
    }

    std::vector<std::string> written;
    std::size_t unsent = 0;
    bool is_reading = true;
    bool is_shut_down = false;
    bool is_closed = false;
    std::optional<std::chrono::milliseconds> timer;
};

// Answers every request with its path.
HttpResponse echo_path(const HttpRequest& request) {
    if (request.path == "/follow") {
        HttpResponse stream{200, {}, "application/x-ndjson", {}};
        stream.is_stream = true;
        return stream;
    }
    return {200, request.path, "text/plain", {}};
}

std::string get(std::string_view path, std::string_view headers = "Host: 127.0.0.1:8474\r\n") {
    return "GET " + std::string(path) + " HTTP/1.1\r\n" + std::string(headers) + "\r\n";
}

int count(const std::string& text, std::string_view part) {
    int n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

// The first line's start ("HTTP/1.1 200") of the answer to one GET on a fresh connection.
std::string status_of(ApiServer& server, std::string_view path, std::string_view headers) {
    MemorySocket socket;
    auto connection = server.open(socket);
    connection->on_data(get(path, headers));
    return socket.output().substr(0, 12);
}

// A server at 127.0.0.1:8474 without a token, and one connection to it on a memory socket.
struct Served {
    explicit Served(ApiServer::Handler handler = echo_path)
        : server(std::move(handler), std::nullopt) {
        server.set_address("127.0.0.1:8474");
        connection = server.open(socket);
    }

    ApiServer server;
    MemorySocket socket;
    std::unique_ptr<ApiConnection> connection;
};

}  // namespace

TEST_SUITE("control/api_server") {
    TEST_CASE(
        "pipelined requests are answered one at a time: the next once the answer before it is "
        "written, and nothing more is read meanwhile") {
        Served served;
        MemorySocket& socket = served.socket;
        auto& connection = served.connection;
        REQUIRE(connection);
        CHECK(socket.timer == ApiServer::request_timeout);
        connection->on_data(get("/one") + get("/two") + get("/three"));
        CHECK(count(socket.output(), "HTTP/1.1 200") == 1);
        CHECK(socket.output().find("/one") != std::string::npos);
        CHECK_FALSE(socket.is_reading);
        connection->on_written(true);
        CHECK(count(socket.output(), "HTTP/1.1 200") == 2);
        CHECK(socket.output().find("/one") < socket.output().find("/two"));
        CHECK_FALSE(socket.is_reading);
        connection->on_written(true);
        CHECK(count(socket.output(), "HTTP/1.1 200") == 3);
        CHECK_FALSE(socket.is_reading);
        connection->on_written(true);
        CHECK(socket.is_reading);
        CHECK_FALSE(socket.is_closed);
    }

    TEST_CASE(
        "once a turn's budget of answers is spent, requests wait for the next turn, in the order "
        "they came") {
        const std::string big(ApiServer::turn_budget, 'x');
        ApiServer server(
            [&](const HttpRequest& request) -> HttpResponse {
                return {200, request.path == "/big" ? big : request.path, "text/plain", {}};
            },
            std::nullopt);
        server.set_address("127.0.0.1:8474");
        int wakes = 0;
        server.on_waiting = [&] { ++wakes; };
        MemorySocket first_socket;
        MemorySocket second_socket;
        MemorySocket third_socket;
        auto first = server.open(first_socket);
        auto second = server.open(second_socket);
        auto third = server.open(third_socket);
        first->on_data(get("/big"));
        second->on_data(get("/second"));
        third->on_data(get("/third"));
        CHECK(first_socket.output().starts_with("HTTP/1.1 200"));
        CHECK(second_socket.written.empty());
        CHECK_FALSE(second_socket.is_reading);
        CHECK(third_socket.written.empty());
        CHECK(wakes == 1);
        CHECK(server.has_waiting());
        server.next_turn();
        CHECK(second_socket.output().find("/second") != std::string::npos);
        CHECK(third_socket.output().find("/third") != std::string::npos);
        CHECK_FALSE(server.has_waiting());
    }

    TEST_CASE("answers that take long to make spend the turn's budget too") {
        // A handler that works (without writing much) for longer than the turn's time budget.
        ApiServer server(
            [](const HttpRequest& request) -> HttpResponse {
                const auto until = std::chrono::steady_clock::now() + ApiServer::turn_time_budget;
                while (std::chrono::steady_clock::now() < until) {
                }
                return {200, request.path, "text/plain", {}};
            },
            std::nullopt);
        server.set_address("127.0.0.1:8474");
        server.on_waiting = [] {};
        MemorySocket slow_socket;
        MemorySocket next_socket;
        auto slow = server.open(slow_socket);
        auto next = server.open(next_socket);
        slow->on_data(get("/slow"));
        next->on_data(get("/next"));
        CHECK(slow_socket.output().starts_with("HTTP/1.1 200"));
        CHECK(next_socket.written.empty());
        server.next_turn();
        CHECK(next_socket.output().starts_with("HTTP/1.1 200"));
    }

    TEST_CASE("without an owner that starts turns, every request is answered at once") {
        const std::string big(ApiServer::turn_budget, 'x');
        ApiServer server(
            [&](const HttpRequest&) -> HttpResponse {
                return {200, big, "text/plain", {}};
            },
            std::nullopt);
        server.set_address("127.0.0.1:8474");
        MemorySocket first_socket;
        MemorySocket second_socket;
        auto first = server.open(first_socket);
        auto second = server.open(second_socket);
        first->on_data(get("/a"));
        second->on_data(get("/b"));
        CHECK(second_socket.output().starts_with("HTTP/1.1 200"));
        CHECK_FALSE(server.has_waiting());
    }

    TEST_CASE("a connection that closes while its request waits is forgotten") {
        const std::string big(ApiServer::turn_budget, 'x');
        ApiServer server(
            [&](const HttpRequest&) -> HttpResponse {
                return {200, big, "text/plain", {}};
            },
            std::nullopt);
        server.set_address("127.0.0.1:8474");
        server.on_waiting = [] {};
        MemorySocket first_socket;
        MemorySocket second_socket;
        auto first = server.open(first_socket);
        auto second = server.open(second_socket);
        first->on_data(get("/a"));
        second->on_data(get("/b"));
        REQUIRE(server.has_waiting());
        second->on_error();
        second.reset();
        CHECK_FALSE(server.has_waiting());
        server.next_turn();
    }

    TEST_CASE(
        "a client that pipelines requests and half-closes gets every answer, then the close") {
        Served served;
        served.connection->on_data(get("/one") + get("/two"));
        served.connection->on_eof();
        CHECK_FALSE(served.socket.is_closed);
        served.connection->on_written(true);
        CHECK(count(served.socket.output(), "HTTP/1.1 200") == 2);
        CHECK_FALSE(served.socket.is_closed);
        served.connection->on_written(true);
        CHECK(served.socket.is_closed);
    }

    TEST_CASE(
        "a request that stalls halfway gets 408; an idle keep-alive connection is closed "
        "quietly") {
        Served stalled;
        stalled.connection->on_data("GET /slow HTTP/1.1\r\nHost: 127.0.0.1");
        stalled.connection->on_timer();
        CHECK(stalled.socket.output().starts_with("HTTP/1.1 408"));
        stalled.connection->on_written(true);
        CHECK(stalled.socket.is_shut_down);  // the answer, then FIN, then a bounded linger
        CHECK(stalled.socket.timer == ApiServer::linger_timeout);

        MemorySocket idle;
        auto quiet = stalled.server.open(idle);
        quiet->on_timer();
        CHECK(idle.written.empty());
        CHECK(idle.is_closed);
    }

    TEST_CASE("a client that half-closes after its request gets the answer, then the close") {
        Served served;
        served.connection->on_data(get("/x"));
        served.connection->on_eof();
        MemorySocket& socket = served.socket;
        auto& connection = served.connection;
        CHECK_FALSE(socket.is_closed);
        connection->on_written(true);
        CHECK(socket.is_closed);
    }

    TEST_CASE("followers get each broadcast line; one that falls too far behind is closed") {
        Served served;
        ApiServer& server = served.server;
        MemorySocket& keeping_up = served.socket;
        MemorySocket behind;
        auto& first = served.connection;
        auto second = server.open(behind);
        first->on_data(get("/follow"));
        second->on_data(get("/follow"));
        CHECK_FALSE(keeping_up.timer);  // a follower has no request timer
        server.broadcast("{\"event\":\"teardown\"}\n");
        CHECK(keeping_up.written.back() == "{\"event\":\"teardown\"}\n");
        behind.unsent = ApiServer::follower_backlog + 1;
        server.broadcast("next\n");
        CHECK(keeping_up.written.back() == "next\n");
        CHECK(behind.is_closed);
        CHECK(behind.written.back() != "next\n");
    }

    TEST_CASE("a follower whose socket its owner closed gets no more lines") {
        Served served;
        served.connection->on_data(get("/follow"));
        const std::size_t writes = served.socket.written.size();
        served.connection->on_closed();  // the API stops: the listener closed the socket itself
        served.server.broadcast("late\n");
        CHECK(served.socket.written.size() == writes);
    }

    TEST_CASE("without a token, requests must name the API's own address as Host and Origin") {
        ApiServer server(echo_path, std::nullopt);
        server.set_address("127.0.0.1:8474");
        auto answer = [&](std::string_view headers) { return status_of(server, "/x", headers); };
        CHECK(answer("Host: 127.0.0.1:8474\r\n") == "HTTP/1.1 200");
        CHECK(answer("Host: localhost:8474\r\n") == "HTTP/1.1 200");
        CHECK(answer("Host: rebound.example:8474\r\n") == "HTTP/1.1 403");
        CHECK(answer("Host: 127.0.0.1:8474\r\nOrigin: http://127.0.0.1:8474\r\n") ==
              "HTTP/1.1 200");
        CHECK(answer("Host: 127.0.0.1:8474\r\nOrigin: http://evil.example\r\n") == "HTTP/1.1 403");
    }

    TEST_CASE("with a token every request but the page needs the bearer, under any host name") {
        ApiServer server(echo_path, std::string("s3cret"));
        server.set_address("0.0.0.0:8474");
        auto answer = [&](std::string_view path, std::string_view headers) {
            return status_of(server, path, headers);
        };
        CHECK(answer("/x", "Host: faultline.lan:8474\r\n") == "HTTP/1.1 401");
        CHECK(answer("/x", "Host: faultline.lan:8474\r\nAuthorization: Bearer wrong\r\n") ==
              "HTTP/1.1 401");
        CHECK(answer("/x", "Host: faultline.lan:8474\r\nAuthorization: Bearer s3cret\r\n") ==
              "HTTP/1.1 200");
        CHECK(answer("/", "Host: faultline.lan:8474\r\n") == "HTTP/1.1 200");
    }

    TEST_CASE("a handler that throws answers 500 with the message") {
        Served served([](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
        served.connection->on_data(get("/x"));
        CHECK(served.socket.output().starts_with("HTTP/1.1 500"));
        CHECK(served.socket.output().find("\"error\":\"boom\"") != std::string::npos);
    }

    TEST_CASE(
        "a full server makes room by closing the client idle the longest, and answers 503 when "
        "none is idle") {
        ApiServer server(echo_path, std::nullopt);
        server.set_address("127.0.0.1:8474");
        std::vector<MemorySocket> sockets(ApiServer::max_clients + 2);
        std::vector<std::unique_ptr<ApiConnection>> open;
        for (std::size_t i = 0; i < ApiServer::max_clients; ++i) {
            open.push_back(server.open(sockets[i]));
            REQUIRE(open.back());
        }
        // Every client but the first is halfway through a request: the first is the one idle.
        for (std::size_t i = 1; i < ApiServer::max_clients; ++i)
            open[i]->on_data("GET /x HTTP/1.1\r\n");
        auto extra = server.open(sockets[ApiServer::max_clients]);
        REQUIRE(extra);
        CHECK(sockets[0].is_closed);
        CHECK(sockets[ApiServer::max_clients].written.empty());

        extra->on_data("GET /x HTTP/1.1\r\n");  // busy too: no client is idle now
        MemorySocket& refused = sockets[ApiServer::max_clients + 1];
        auto told = server.open(refused);
        REQUIRE(told);
        CHECK(refused.output().starts_with("HTTP/1.1 503"));
        CHECK(refused.output().find("too many API connections") != std::string::npos);
        for (std::size_t i = 1; i < ApiServer::max_clients; ++i)
            CHECK_FALSE(sockets[i].is_closed);
    }

    TEST_CASE("followers have places of their own; one more is answered 503") {
        ApiServer server(echo_path, std::nullopt);
        server.set_address("127.0.0.1:8474");
        std::vector<MemorySocket> sockets(ApiServer::max_followers + 1);
        std::vector<std::unique_ptr<ApiConnection>> followers;
        for (std::size_t i = 0; i < ApiServer::max_followers; ++i) {
            followers.push_back(server.open(sockets[i]));
            followers.back()->on_data(get("/follow"));
            REQUIRE(sockets[i].output().starts_with("HTTP/1.1 200"));
        }
        MemorySocket& one_more = sockets.back();
        auto late = server.open(one_more);
        late->on_data(get("/follow"));
        CHECK(one_more.output().starts_with("HTTP/1.1 503"));
        CHECK_FALSE(late->is_follower());
        late->on_error();  // it goes, as clients do once told

        // The followers leave every client place free.
        std::vector<MemorySocket> client_sockets(ApiServer::max_clients);
        std::vector<std::unique_ptr<ApiConnection>> clients;
        for (auto& socket : client_sockets) {
            clients.push_back(server.open(socket));
            clients.back()->on_data("GET /x HTTP/1.1\r\n");
        }
        for (const auto& socket : client_sockets)
            CHECK(socket.written.empty());
        for (std::size_t i = 0; i < ApiServer::max_followers; ++i)
            CHECK_FALSE(sockets[i].is_closed);
    }

    TEST_CASE("the bearer scheme is case-insensitive, the token is not") {
        ApiServer server(echo_path, std::string("s3cret"));
        server.set_address("127.0.0.1:8474");
        auto answer = [&](std::string_view authorization) {
            return status_of(
                server, "/x",
                "Host: 127.0.0.1:8474\r\nAuthorization: " + std::string(authorization) + "\r\n");
        };
        CHECK(answer("bearer s3cret") == "HTTP/1.1 200");
        CHECK(answer("BEARER s3cret") == "HTTP/1.1 200");
        CHECK(answer("Bearer S3CRET") == "HTTP/1.1 401");
        CHECK(answer("Bearers3cret") == "HTTP/1.1 401");
        CHECK(answer("Basic s3cret") == "HTTP/1.1 401");
    }
}

}  // namespace faultline::control
