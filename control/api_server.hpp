// The control API's HTTP/1.1 server, without its sockets: for each client connection it parses
// requests as bytes arrive, enforces the limits (header and body size, read time, connections),
// checks the bearer token and the browser's Origin and Host, hands each complete request to the
// handler and writes the answer, and streams lines to the connections that follow the event
// stream. The bytes move through ApiSocket, which the composition root implements on the event
// loop (cli/api_listener.hpp) and tests implement in memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "control/http.hpp"

namespace faultline::control {

// One client connection's socket, as the API server uses it.
class ApiSocket {
  public:
    virtual ~ApiSocket() = default;
    // Queues bytes for writing; the connection's on_written follows once the kernel has them.
    // False when the write failed: the socket is then closed.
    virtual bool write(std::string bytes) = 0;
    // Bytes queued and not yet taken by the kernel.
    [[nodiscard]] virtual std::size_t unsent_bytes() const = 0;
    virtual void stop_reading() = 0;
    // False when reading cannot start: the socket is then closed.
    virtual bool start_reading() = 0;
    // FIN after what is queued; false when it failed (the socket is then closed).
    virtual bool shutdown() = 0;
    // The connection's on_timer after `delay`, replacing an earlier start.
    virtual void start_timer(std::chrono::milliseconds delay) = 0;
    virtual void stop_timer() = 0;
    // Closes at once; the connection hears nothing more from the socket.
    virtual void close() = 0;
};

class ApiServer;

// The HTTP side of one client connection. The socket reports to it; it answers through the
// socket.
class ApiConnection {
  public:
    ApiConnection(ApiServer& server, ApiSocket& socket);
    ~ApiConnection();
    ApiConnection(const ApiConnection&) = delete;
    ApiConnection& operator=(const ApiConnection&) = delete;

    void on_data(std::string_view bytes);
    void on_eof();
    // A read error: the connection is closed.
    void on_error();
    void on_written(bool is_ok);
    void on_timer();
    // The socket was closed by its owner (the API stops): nothing more is sent or received.
    void on_closed();

    [[nodiscard]] bool is_follower() const { return is_follower_; }
    [[nodiscard]] ApiSocket& socket() { return socket_; }

  private:
    friend class ApiServer;  // broadcast writes to followers and closes the slow ones

    // Answers the request the parser has just completed (or its failure), or keeps it for the
    // next turn of the loop when this turn's answers are spent.
    void answer(HttpParser::State state);
    // The next turn: answers the request kept for it.
    void answer_kept();
    // Answers one request, counting the time it takes against the turn's budget.
    void handle(const HttpRequest& request);
    void respond(const HttpResponse& response, bool keep_alive);
    // Neither a request nor an answer under way: the connection may be closed to make room.
    [[nodiscard]] bool is_idle() const;
    bool write(std::string bytes);
    // The answer is out; FIN, then read and discard until the client closes (bounded).
    void linger();
    void close();

    ApiServer& server_;
    ApiSocket& socket_;
    HttpParser parser_;
    std::optional<HttpRequest> kept_;  // waits for the next turn
    std::size_t pending_writes_ = 0;
    std::uint64_t idle_since_ = 0;  // the server's turn count when the last answer went out
    bool is_closing_after_writes_ = false;
    bool has_eof_ = false;      // answer what has arrived, then close
    bool is_follower_ = false;  // receives published lines until it closes
    bool is_refused_ = false;   // answered 503 at open: the server was full
    bool is_closed_ = false;
};

class ApiServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    static constexpr std::chrono::milliseconds request_timeout{10000};
    static constexpr std::chrono::milliseconds linger_timeout{2000};
    // Clients that are not following the event stream. One more is let in by closing the one
    // idle the longest; when none is idle, it is answered 503.
    static constexpr std::size_t max_clients = 512;
    // Followers have their own places, so that they never take those of other clients; one more
    // is answered 503.
    static constexpr std::size_t max_followers = 64;
    // Beyond both, and beyond this many being told 503, a connection is closed at once.
    static constexpr std::size_t max_refused = 64;
    // A follower that has more than this unsent does not read: it is closed rather than
    // buffered for.
    static constexpr std::size_t follower_backlog = std::size_t{256} * 1024;
    // What the answers of one turn of the event loop may take, over all connections: bytes
    // written (each answer counts at least answer_cost) and time spent making them. Requests
    // beyond wait for the next turn, so that API clients, however many and however fast, delay
    // the proxied bytes by about one budget at most.
    static constexpr std::size_t turn_budget = std::size_t{256} * 1024;
    static constexpr std::size_t answer_cost = 1024;
    static constexpr std::chrono::microseconds turn_time_budget{2000};

    ApiServer(Handler handler, std::optional<std::string> token);
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // The address the API listens on ("127.0.0.1:8474"): without a token, browsers must name it
    // as the Host.
    void set_address(std::string address) { address_ = std::move(address); }
    [[nodiscard]] const std::string& address() const { return address_; }

    // A new client connection, or nullptr when the server is full (the caller closes the
    // socket). The socket owns the connection and reports to it.
    [[nodiscard]] std::unique_ptr<ApiConnection> open(ApiSocket& socket);
    // Sends a line to every connection that follows the event stream.
    void broadcast(const std::string& line);
    [[nodiscard]] bool has_followers() const;

    // A new turn of the event loop: the budget is whole again, and the requests that waited for
    // it are answered, in the order they came, as far as it goes.
    void next_turn();
    // The loop's turn is over (its I/O callbacks ran): the next one starts with a whole budget.
    void end_turn() {
        spent_ = 0;
        spent_time_ = {};
    }
    // Requests wait for the next turn; the owner of the loop then calls next_turn() soon.
    [[nodiscard]] bool has_waiting() const { return !waiting_.empty(); }
    // Called when a request starts waiting while none did. Without it nobody starts turns: the
    // budget does not apply and every request is answered at once.
    std::function<void()> on_waiting;

  private:
    friend class ApiConnection;

    [[nodiscard]] HttpResponse dispatch(const HttpRequest& request);
    [[nodiscard]] bool is_own_origin(const HttpRequest& request) const;
    [[nodiscard]] bool is_authorised(const HttpRequest& request) const;
    // Keeps `connection` waiting for the next turn.
    void wait(ApiConnection& connection);
    // Closes the client connection idle the longest; false when none is idle.
    bool close_longest_idle();
    [[nodiscard]] std::size_t client_count() const {
        return connections_.size() - followers_ - refused_;
    }

    Handler handler_;
    std::optional<std::string> token_;
    std::string address_;
    std::set<ApiConnection*> connections_;
    std::deque<ApiConnection*> waiting_;  // each with a request kept for the next turn
    std::size_t spent_ = 0;               // of this turn's budget
    std::chrono::steady_clock::duration spent_time_{};
    [[nodiscard]] bool is_budget_spent() const {
        return on_waiting && (spent_ >= turn_budget || spent_time_ >= turn_time_budget);
    }
    std::size_t followers_ = 0;
    std::size_t refused_ = 0;  // connections being answered 503 at open
    std::uint64_t turn_ = 0;   // counts answers, to order connections by idleness
};

}  // namespace faultline::control
