// The control API's HTTP/1.1 server on the event loop. It owns the listener and the client
// connections, enforces the request limits (header and body size, read time) and the bearer
// token, and hands each complete request to a handler that returns the response.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "control/http.hpp"
#include "proxy/runtime.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/endpoint.hpp"

namespace faultline::proxy {}
namespace faultline::control {}
namespace faultline::teardown {}
namespace faultline::cli {

using namespace faultline::proxy;    // NOLINT: until the control/cli split
using namespace faultline::control;  // NOLINT
using namespace faultline::teardown; // NOLINT


class ApiServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    static constexpr std::chrono::milliseconds request_timeout{10000};
    static constexpr std::chrono::milliseconds linger_timeout{2000};
    static constexpr std::size_t max_connections = 128;  // more are closed at once

    ApiServer(Runtime& runtime, Handler handler, std::optional<std::string> token);
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;
    ~ApiServer();

    // Binds and listens; returns a libuv error code. Logs a `listening` event on success.
    [[nodiscard]] int start(const rules::Endpoint& listen);
    // Closes the listener and every client connection.
    void stop();
    [[nodiscard]] const std::string& address() const { return bound_address_; }
    // Sends a line to every connection that follows a stream; a follower that does not keep up
    // (more than follower_backlog bytes unsent) is closed.
    void broadcast(const std::string& line);
    static constexpr std::size_t follower_backlog = 1024 * 1024;

  private:
    struct Connection;

    static void on_connection(uv_stream_t* server, int status);
    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_timeout(uv_timer_t* handle);

    void on_data(Connection& connection, std::string_view data);
    void respond(Connection& connection, const HttpResponse& response, bool keep_alive);
    [[nodiscard]] HttpResponse dispatch(const HttpRequest& request);
    [[nodiscard]] bool is_own_origin(const HttpRequest& request) const;
    void linger(Connection& connection);
    bool write_bytes(Connection& connection, std::string bytes);
    void close(Connection& connection);

    Runtime& runtime_;
    Handler handler_;
    std::optional<std::string> token_;
    UvHandle<uv_tcp_t> listener_;
    std::string bound_address_;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
};

}  // namespace faultline::cli
