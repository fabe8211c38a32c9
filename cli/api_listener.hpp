// The control API's sockets on the event loop: the listener and one libuv TCP handle and timer
// per client connection, feeding control::ApiServer, which decides everything else. The listener
// accepts by itself, with a descriptor in reserve: when the process has no descriptor left, the
// reserve one takes the next API connection, so that an operator can still see what is going on
// (libuv's own listener would accept and close such connections unanswered).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "control/api_server.hpp"
#include "proxy/runtime.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/endpoint.hpp"

namespace faultline::cli {

class ApiListener {
  public:
    ApiListener(proxy::Runtime& runtime, control::ApiServer& server);
    ApiListener(const ApiListener&) = delete;
    ApiListener& operator=(const ApiListener&) = delete;
    ~ApiListener();

    // Binds and listens; returns a libuv error code. Logs a `listening` event on success.
    [[nodiscard]] int start(const rules::Endpoint& listen);
    // Closes the listener and every client connection.
    void stop();

  private:
    class Socket;

    // How long accepting pauses when there is no descriptor, not even the reserve one.
    static constexpr std::uint64_t accept_pause_ms = 100;

    static void on_acceptable(uv_poll_t* handle, int status, int events);
    static void on_resume(uv_timer_t* handle);
    // Runs each turn of the loop while requests wait for the server's budget.
    static void on_turn(uv_idle_t* handle);
    // Runs after the I/O callbacks of every turn of the loop.
    static void on_turn_end(uv_check_t* handle);
    void accept_pending();
    // Accepts one connection into the reserve descriptor's place; -errno when it fails.
    int accept_with_reserve();
    void open_connection(int fd, bool is_on_reserve);
    void pause_accepting();
    // Frees a closed socket after the current round of callbacks.
    void retire(Socket& socket);

    proxy::Runtime& runtime_;
    control::ApiServer& server_;
    int listen_fd_ = -1;
    int reserve_fd_ = -1;  // lent to an API connection when the process has no other
    proxy::UvHandle<uv_poll_t> acceptor_;
    proxy::UvHandle<uv_timer_t> resume_timer_;
    proxy::UvHandle<uv_idle_t> turn_;
    proxy::UvHandle<uv_check_t> turn_end_;
    std::unordered_map<Socket*, std::unique_ptr<Socket>> sockets_;
};

}  // namespace faultline::cli
