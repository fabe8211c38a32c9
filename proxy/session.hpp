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
#include "teardown/record.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/config.hpp"
#include "rules/connection_rules.hpp"
#include "rules/random.hpp"

namespace faultline::proxy {

using teardown::Cause;
using teardown::EndpointHistory;
using teardown::EndpointState;
using teardown::Initiator;
using teardown::Reason;
using teardown::Side;
using teardown::TeardownRecord;

class Proxy;
class Runtime;

class Session final : private rules::RuleHost {
  public:
    // A queued remainder up to this size is copied out of its pool buffer.
    static constexpr std::size_t small_write_bytes = 8 * 1024;
    // A reset with flush waits at most this long for the kernel to send what was forwarded.
    static constexpr std::uint64_t flush_limit_ms = 2000;
    // What a queued write costs at least, counted against the limit: the request and allocation.
    static constexpr std::size_t min_write_charge = 512;

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

    // The proxy's rules, at the start and after every change: rules that arrive are drawn and
    // started, changed ones updated, removed or disabled ones stopped (releasing what they hold).
    void apply_rules(const std::vector<rules::Rule>& rules);

    [[nodiscard]] std::uint64_t id() const { return id_; }
    [[nodiscard]] const Proxy& proxy() const { return proxy_; }
    [[nodiscard]] bool is_finished() const { return finished_; }
    [[nodiscard]] const std::string& client_address() const { return client_.history.address; }
    // The address the client connected to (a system call: for loop detection only).
    [[nodiscard]] std::string client_reached() const;
    // The live state, for the control API's list of connections.
    [[nodiscard]] const std::string& upstream_address() const { return server_.history.address; }
    [[nodiscard]] std::uint64_t age_ms() const;
    [[nodiscard]] std::uint64_t bytes_up() const { return server_.delivered_bytes; }
    [[nodiscard]] std::uint64_t bytes_down() const { return client_.delivered_bytes; }
    [[nodiscard]] std::vector<std::string> active_rules() const { return rules_.active(); }

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
    [[nodiscard]] faults::Stream stream_into(const Leg& to) const {
        return &to == &server_ ? faults::Stream::upstream : faults::Stream::downstream;
    }
    Leg& source(faults::Stream s) { return s == faults::Stream::upstream ? client_ : server_; }
    Leg& destination(faults::Stream s) { return s == faults::Stream::upstream ? server_ : client_; }
    void write(Leg& to, const char* data, std::size_t length, char* pooled);
    void update_backpressure(faults::Stream stream);
    void deliver_end(faults::Stream stream) override;
    void start_reading(Leg& leg);
    void stop_reading(Leg& leg);
    void forward(Leg& to, char* buffer, std::size_t length);
    void on_written(Leg& to, std::size_t length, std::size_t held, int status);
    void pause_reading(Leg& leg);
    void resume_reading(Leg& leg);
    void on_eof(Leg& from);
    void on_shut_down(Leg& to, int status);
    void on_leg_failed(Leg& leg, int status);
    void maybe_end_gracefully();

    // Rules (session_rules.cpp): the engine's host.
    [[nodiscard]] rules::ConnectionFacts facts() const;
    void end_silently_if_done();
    void finish_flushed_reset();
    static void on_flush_check(uv_timer_t* handle);
    [[nodiscard]] bool is_over() const override { return finished_; }
    [[nodiscard]] faults::Micros last_activity() const override;
    void deliver(faults::Stream stream, std::string bytes) override;
    void reset(const Cause& cause, faults::Target target, bool flush) override;
    void claim_ending(const Cause& cause) override;
    void close(const Cause& cause) override;
    void held_bytes_changed(faults::Stream stream) override;
    void rule_started(const rules::Rule& rule) override;
    void stream_broken(const Cause& cause) override;

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
    // Ends the session, resetting or closing each leg, with the states the record gives them.
    void end_legs(Cause cause, EndpointState client_state, bool reset_client,
                  EndpointState server_state, bool reset_server);
    void end_with_reset(Cause cause, EndpointState client_state, EndpointState server_state);
    void end_with_close(Cause cause, EndpointState state);
    // FIN to both endpoints after what is queued, then close (a rule that closes the connection).
    void end_with_shutdown(Cause cause);
    void check_closing_deadline();
    void start_flush_timer();
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
    // This connection's draws (Runtime::session_seed).
    rules::Random random_;
    Leg client_;
    Leg server_;
    UvHandle<uv_timer_t> timer_;
    uv_getaddrinfo_t* resolving_ = nullptr;
    std::string upstream_local_;  // the upstream socket's address, registered for loop detection
    std::vector<sockaddr_storage> candidates_;  // a host name's addresses, tried in order
    std::size_t attempts_ = 0;
    std::optional<Cause> cause_;
    // Who sent the connection's first FIN, as the cause of a TCP FINs ending: an endpoint, or
    // faultline for a rule (half_close early_fin).
    std::optional<Cause> first_fin_;
    std::uint64_t started_at_ = 0;  // loop time, ms
    std::uint64_t last_activity_ = 0;
    std::uint64_t half_closed_at_ = 0;
    std::uint64_t timer_due_ = 0;
    bool finished_ = false;

    // Rules.
    rules::ConnectionRules rules_;
    sockaddr_storage client_sockaddr_{};
    bool has_client_sockaddr_ = false;
    std::optional<Cause> closing_cause_;  // ending with FIN after queued bytes
    std::uint64_t closing_deadline_ms_ = 0;
    // A reset that waits for the kernel to send what was forwarded first.
    struct PendingReset {
        Cause cause;
        bool client = false;
        bool server = false;
        bool flush = false;
        std::uint64_t deadline_ms = 0;  // a flush waits at most this long
    };
    std::optional<PendingReset> pending_reset_;
    UvHandle<uv_timer_t> flush_timer_;
};

}  // namespace faultline::proxy
