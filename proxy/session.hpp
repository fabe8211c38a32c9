// A session is one proxied connection: the accepted client leg and the connected server leg,
// and the two byte pipes between them.
//
//   client <-> [client leg] -> upstream pipe   -> [server leg] <-> server
//              [client leg] <- downstream pipe <- [server leg]
//
// Without faults the path is transparent: every byte is forwarded in order exactly once; a FIN
// is forwarded as a half-close after the bytes before it; an RST is forwarded as an RST; a leg
// is closed only after its input was read to EOF, so a graceful close never becomes an RST; and
// when one leg cannot keep up, the other is no longer read (at most `buffer_limit` bytes are
// queued per direction). Every session ends with exactly one teardown record.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/deadlines.hpp"
#include "proxy/reset_watch.hpp"
#include "proxy/teardown.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/config.hpp"

namespace faultline::proxy {

class Proxy;
class Runtime;

class Session {
  public:
    // A queued remainder up to this size is copied out of its pool buffer.
    static constexpr std::size_t small_write_bytes = 8 * 1024;

    Session(Runtime& runtime, Proxy& proxy, std::uint64_t id);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    // Takes the accepted client socket and its address (nullptr when unknown): checks the client
    // against loop detection and the proxy's lists, then connects upstream.
    void start(UvHandle<uv_tcp_t> client, const sockaddr* peer);

    // Ends the session from outside: the operator (Xlate Clear) or loop detection (SYN Control).
    // Both legs are reset.
    void clear(Reason reason);

    [[nodiscard]] std::uint64_t id() const { return id_; }
    [[nodiscard]] const Proxy& proxy() const { return proxy_; }
    [[nodiscard]] bool is_finished() const { return finished_; }
    [[nodiscard]] const std::string& client_address() const { return client_.history.address; }

  private:
    struct Leg {
        Session* session = nullptr;
        Side side = Side::client;
        UvHandle<uv_tcp_t> tcp;
        ResetWatch reset_watch;  // while it may answer our bytes with an RST after its FIN
        EndpointHistory history;
        bool is_connected = false;
        bool is_reading = false;
        bool is_paused = false;  // not read because the other leg cannot keep up
        bool has_eof = false;    // read EOF: its input is drained
        bool is_shutdown_requested = false;
        bool is_shut_down = false;     // our FIN toward it is out
        std::size_t queued_bytes = 0;  // accepted for writing toward it, not yet written
        std::uint64_t delivered_bytes = 0;
    };
    struct WriteRequest;

    // Data path.
    void start_reading(Leg& leg);
    void stop_reading(Leg& leg);
    void forward(Leg& from, Leg& to, char* buffer, std::size_t length);
    void on_written(Leg& to, std::size_t length, std::size_t held, int status);
    void pause_reading(Leg& leg);
    void resume_reading(Leg& leg);
    void on_eof(Leg& from);
    void on_shut_down(Leg& to, int status);
    void on_leg_failed(Leg& leg, int status);
    void maybe_end_gracefully();

    // Connect phase.
    void connect_upstream();
    void connect_to(const sockaddr& address);
    void on_connected(int status);

    // Timers: connect, idle and half-closed deadlines share one timer.
    void note_activity();
    [[nodiscard]] SessionTimes times() const;
    void arm_timer();
    void on_timer();

    // Endings.
    void end_with_reset(Cause cause, EndpointState client_state, EndpointState server_state);
    void end_with_close(Cause cause, EndpointState state);
    void set_cause(Cause cause);
    void close_leg(Leg& leg, bool with_reset);
    void finish();

    Leg& other(Leg& leg) { return &leg == &client_ ? server_ : client_; }
    [[nodiscard]] const rules::ProxySettings& settings() const;

    static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_connect(uv_connect_t* req, int status);
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
    static void on_reset_seen(void* owner, int error);
    static void on_timer(uv_timer_t* handle);

    Runtime& runtime_;
    Proxy& proxy_;
    std::uint64_t id_;
    Leg client_;
    Leg server_;
    UvHandle<uv_timer_t> timer_;
    uv_getaddrinfo_t* resolving_ = nullptr;
    std::string upstream_local_;                // registered for loop detection while connected
    std::vector<sockaddr_storage> candidates_;  // a host name's addresses, tried in order
    std::size_t attempts_ = 0;
    std::optional<Cause> cause_;
    std::optional<Side> first_fin_;
    std::uint64_t started_at_ = 0;  // loop time, ms
    std::uint64_t last_activity_ = 0;
    std::uint64_t half_closed_at_ = 0;
    std::uint64_t timer_due_ = 0;
    bool finished_ = false;
};

}  // namespace faultline::proxy
