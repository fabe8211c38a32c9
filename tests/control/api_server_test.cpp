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
        "pipelined requests are answered in turn, and nothing more is read until the "
        "answers are written") {
        Served served;
        MemorySocket& socket = served.socket;
        auto& connection = served.connection;
        REQUIRE(connection);
        CHECK(socket.timer == ApiServer::request_timeout);
        connection->on_data(get("/one") + get("/two"));
        CHECK(count(socket.output(), "HTTP/1.1 200") == 2);
        CHECK(socket.output().find("/one") < socket.output().find("/two"));
        CHECK_FALSE(socket.is_reading);
        connection->on_written(true);
        CHECK_FALSE(socket.is_reading);
        connection->on_written(true);
        CHECK(socket.is_reading);
        CHECK_FALSE(socket.is_closed);
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

    TEST_CASE("the server takes at most max_connections at once") {
        ApiServer server(echo_path, std::nullopt);
        std::vector<MemorySocket> sockets(ApiServer::max_connections + 1);
        std::vector<std::unique_ptr<ApiConnection>> open;
        for (std::size_t i = 0; i < ApiServer::max_connections; ++i) {
            open.push_back(server.open(sockets[i]));
            REQUIRE(open.back());
        }
        CHECK_FALSE(server.open(sockets.back()));
        open.pop_back();  // one closes: room again
        CHECK(server.open(sockets.back()));
    }
}

}  // namespace faultline::control
