// The control API's HTTP/1.1 server, without its sockets: for each client connection it parses
// requests as bytes arrive, enforces the limits (header and body size, read time, connections),
// checks the bearer token and the browser's Origin and Host, hands each complete request to the
// handler and writes the answer, and streams lines to the connections that follow the event
// stream. The bytes move through ApiSocket, which the composition root implements on the event
// loop (cli/api_listener.hpp) and tests implement in memory.
#pragma once

#include <chrono>
#include <cstddef>
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

    void respond(const HttpResponse& response, bool keep_alive);
    bool write(std::string bytes);
    // The answer is out; FIN, then read and discard until the client closes (bounded).
    void linger();
    void close();

    ApiServer& server_;
    ApiSocket& socket_;
    HttpParser parser_;
    std::size_t pending_writes_ = 0;
    bool is_closing_after_writes_ = false;
    bool has_eof_ = false;
    bool is_follower_ = false;  // receives published lines until it closes
    bool is_closed_ = false;
};

class ApiServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    static constexpr std::chrono::milliseconds request_timeout{10000};
    static constexpr std::chrono::milliseconds linger_timeout{2000};
    static constexpr std::size_t max_connections = 128;  // more are closed at once
    // A follower that has more than this unsent is closed rather than buffered for.
    static constexpr std::size_t follower_backlog = std::size_t{1024} * 1024;

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

  private:
    friend class ApiConnection;

    [[nodiscard]] HttpResponse dispatch(const HttpRequest& request);
    [[nodiscard]] bool is_own_origin(const HttpRequest& request) const;
    [[nodiscard]] std::size_t follower_count() const;

    Handler handler_;
    std::optional<std::string> token_;
    std::string address_;
    std::set<ApiConnection*> connections_;
};

}  // namespace faultline::control
