// The control API's sockets on the event loop: the listener and one libuv TCP handle and timer
// per client connection, feeding control::ApiServer, which decides everything else.
#pragma once

#include <uv.h>

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

    static void on_connection(uv_stream_t* server, int status);
    // Frees a closed socket after the current round of callbacks.
    void retire(Socket& socket);

    proxy::Runtime& runtime_;
    control::ApiServer& server_;
    proxy::UvHandle<uv_tcp_t> listener_;
    std::unordered_map<Socket*, std::unique_ptr<Socket>> sockets_;
};

}  // namespace faultline::cli
