// A session is one proxied connection: the accepted client leg and the connected server leg,
// and the two byte streams between them.
//
//   client <-> [client leg] -> upstream stream   -> [server leg] <-> server
//              [client leg] <- downstream stream <- [server leg]
//
// Without rules the path is transparent: every byte is forwarded in order exactly once; a FIN
// is forwarded as a half-close after the bytes before it; an RST is forwarded as an RST; a leg
// is closed only after its input was read to EOF, so a graceful close never becomes an RST; and
// when one leg cannot keep up, the other is no longer read (at most `buffer_limit` bytes are
// queued per direction). With rules, a stream's bytes pass through the rule engine
// (rules/connection_rules.hpp) on their way.
//
// A session goes through four states: connecting (the upstream connect is under way), open
// (bytes flow), closing (the ending is decided, the legs flush and close) and closed (the
// teardown record is written). Every ending goes through end(), which records the first cause
// in time and closes each leg the way it says; every session ends with exactly one record.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/leg.hpp"
#include "proxy/uv_handle.hpp"
#include "proxy/uv_request.hpp"
#include "rules/config.hpp"
#include "rules/connection_rules.hpp"
#include "rules/random.hpp"
#include "teardown/record.hpp"

namespace faultline::proxy {

class Proxy;
class Runtime;

class Session final : private LegEvents, private rules::RuleHost {
  public:
    enum class State { connecting, open, closing, closed };

    Session(Runtime& runtime, Proxy& proxy, std::uint64_t id);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() override;

    // Takes the accepted client socket and its address (nullptr when unknown): checks the client
    // against loop detection and the proxy's lists, then connects upstream.
    void start(UvHandle<uv_tcp_t> client, const sockaddr* peer);

    // Ends the session from outside: the operator (Xlate Clear) or loop detection (SYN Control).
    // Both legs are reset.
    void clear(teardown::Reason reason);

    // The proxy's rules, at the start and after every change (see rules::ConnectionRules).
    void apply_rules(const std::vector<rules::Rule>& rules);

    [[nodiscard]] std::uint64_t id() const { return id_; }
    [[nodiscard]] const Proxy& proxy() const { return proxy_; }
    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] const std::string& client_address() const { return client_.history().address; }
    // The address the client connected to (a system call: for loop detection only).
    [[nodiscard]] std::string client_reached() const;
    // The live state, for the control API's list of connections.
    [[nodiscard]] const std::string& upstream_address() const { return server_.history().address; }
    [[nodiscard]] std::uint64_t age_ms() const;
    [[nodiscard]] std::uint64_t bytes_up() const { return server_.delivered_bytes(); }
    [[nodiscard]] std::uint64_t bytes_down() const { return client_.delivered_bytes(); }
    [[nodiscard]] std::vector<std::string> active_rules() const { return rules_.active(); }

  private:
    // How the session ends for one leg: the way it closes and what the record says of it.
    struct LegEnding {
        CloseType type;
        teardown::EndpointState state;
    };

    // The one place that decides an ending: the first cause wins; each leg that is not closed yet
    // closes as `client` and `server` say (a later, harsher ending overrides a flush in progress).
    void end(const teardown::Cause& cause, LegEnding client, LegEnding server);
    void end_with_reset(const teardown::Cause& cause, teardown::EndpointState client_state,
                        teardown::EndpointState server_state) {
        end(cause, {CloseType::reset, client_state}, {CloseType::reset, server_state});
    }
    // Writes the record once both legs are closed.
    void finish_if_closed();
    void set_cause(const teardown::Cause& cause);
    [[nodiscard]] bool is_ending() const { return state_ >= State::closing; }

    // The data path (session.cpp).
    [[nodiscard]] static faults::Stream stream_from(const Leg& leg) {
        return leg.side() == teardown::Side::client ? faults::Stream::upstream
                                                    : faults::Stream::downstream;
    }
    Leg& source(faults::Stream s) { return s == faults::Stream::upstream ? client_ : server_; }
    Leg& destination(faults::Stream s) { return s == faults::Stream::upstream ? server_ : client_; }
    Leg& other(const Leg& leg) { return &leg == &client_ ? server_ : client_; }
    void update_backpressure(faults::Stream stream);
    void maybe_end_gracefully();
    void on_leg_read(Leg& from, char* buffer, std::size_t length) override;
    void on_leg_eof(Leg& from) override;
    void on_leg_failed(Leg& leg, int status) override;
    void on_leg_written(Leg& to) override;
    void on_leg_shut_down(Leg& to) override;
    void on_leg_closed(Leg& leg) override;

    // The rule engine's host (session_rules.cpp).
    [[nodiscard]] rules::ConnectionFacts facts() const;
    void end_silently_if_done();
    [[nodiscard]] bool is_over() const override { return is_ending(); }
    [[nodiscard]] faults::Micros last_activity() const override;
    void deliver(faults::Stream stream, std::string bytes) override;
    void deliver_end(faults::Stream stream) override;
    void reset(const teardown::Cause& cause, faults::Target target, bool flush) override;
    void claim_ending(const teardown::Cause& cause) override;
    void close(const teardown::Cause& cause) override;
    void held_bytes_changed(faults::Stream stream) override;
    void rule_started(const rules::Rule& rule) override;
    void stream_broken(const teardown::Cause& cause) override;

    // The connect phase (session_connect.cpp).
    using Resolve = UvRequest<uv_getaddrinfo_t, Session*>;
    void connect_upstream();
    void connect_to(const sockaddr& address);
    void on_leg_connected(Leg& leg, int status) override;
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
    void stop_resolving();

    // Timers: connect, idle and half-closed deadlines share one timer.
    void note_activity();
    void arm_timer();
    void on_timer();
    static void on_timer(uv_timer_t* handle);

    [[nodiscard]] const rules::ProxySettings& settings() const;

    Runtime& runtime_;
    Proxy& proxy_;
    std::uint64_t id_;
    State state_ = State::connecting;
    rules::Random random_;  // this connection's draws (Runtime::session_seed)
    Leg client_;
    Leg server_;
    UvHandle<uv_timer_t> timer_;
    std::uint64_t timer_due_ = 0;
    std::uint64_t started_at_ = 0;  // loop time, ms
    std::uint64_t last_activity_ = 0;
    std::uint64_t half_closed_at_ = 0;
    std::optional<teardown::Cause> cause_;
    // Who sent the connection's first FIN, as the cause of a TCP FINs ending: an endpoint, or
    // faultline for a rule (half_close early_fin).
    std::optional<teardown::Cause> first_fin_;

    // The connect.
    Resolve* resolving_ = nullptr;  // a name lookup under way (libuv owns it)
    std::string upstream_local_;    // the upstream socket's address, registered for loop detection
    std::vector<sockaddr_storage> candidates_;  // a host name's addresses, tried in order
    std::size_t attempts_ = 0;
    sockaddr_storage client_sockaddr_{};
    bool has_client_sockaddr_ = false;

    rules::ConnectionRules rules_;
};

}  // namespace faultline::proxy
