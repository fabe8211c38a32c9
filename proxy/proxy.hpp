// One configured proxy: its listening socket and the sessions it accepts. faultline accepts by
// itself rather than through uv_listen, so that running out of descriptors is in its hands:
// libuv's own remedy closes waiting connections silently, while faultline must record each one
// it drops and pause accepting for a moment.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "faults/spec.hpp"
#include "proxy/diagnosis.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/config.hpp"
#include "rules/decision.hpp"
#include "teardown/record.hpp"

namespace faultline::proxy {

class Runtime;
class Session;

class Proxy {
  public:
    static constexpr std::uint64_t accept_pause_ms = 100;

    Proxy(Runtime& runtime, rules::ProxyConfig config);
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;
    ~Proxy();

    // Binds and listens; returns a libuv error code. Logs a `listening` event on success.
    [[nodiscard]] int start();
    // start() in two halves, for a change that opens every new listener before it changes
    // anything: the listening socket (nothing accepted yet; stop_listening() closes it), then
    // accepting.
    [[nodiscard]] int open_listener();
    [[nodiscard]] int start_accepting();
    // Closes the listener; live sessions are left alone. Connections waiting in the accept queue
    // are accepted, reset and recorded (Xlate Clear) first: closing the listener would reset
    // them unseen.
    void stop_listening();

    [[nodiscard]] const rules::ProxyConfig& config() const { return config_; }
    [[nodiscard]] const std::string& name() const { return config_.name; }
    // The bound address ("127.0.0.1:40123"), empty when not listening.
    [[nodiscard]] const std::string& listen_address() const { return bound_address_; }

    // Out of descriptors (EMFILE, ENFILE) or another accept failure: stop accepting for
    // accept_pause_ms; new connections wait in the kernel's queue meanwhile. Logged once per
    // episode.
    void pause_accepting(int status);
    // A session reached its upstream: accepting works, the episode (if any) is over.
    void note_connected();
    // Replaces the rules and applies them to every live connection of this proxy.
    void set_rules(std::vector<rules::Rule> rules);
    // New settings for the same listen address: the listener and the live connections stay;
    // timers and lists apply to them at once, a new upstream to new connections.
    void update(rules::ProxyConfig config);
    // This proxy's sessions, from their creation until they are freed: a change to one proxy
    // looks at its own connections, not at every connection of the program.
    void attach(Session& session) { sessions_.insert(&session); }
    void detach(Session& session) { sessions_.erase(&session); }
    [[nodiscard]] const std::unordered_set<Session*>& sessions() const { return sessions_; }
    // How many connections each rule has been considered for (`first` and `every`).
    [[nodiscard]] rules::RuleCounters& rule_counters() { return rule_counters_; }
    // 0 for the first connection this proxy accepts, then 1, 2...: what a session's random
    // draws are seeded from.
    [[nodiscard]] std::uint64_t next_connection_index() { return connections_accepted_++; }

    // A finished connection's outcome, for the refusal diagnosis: did the upstream reset or
    // refuse it?
    void note_outcome(bool upstream_failed);

  private:
    static void on_acceptable(uv_poll_t* handle, int status, int events);
    static void on_resume(uv_timer_t* handle);
    void accept_pending();
    // The next client from the accept queue, skipping faultline's own queue fillers: its
    // descriptor, or -errno (-EAGAIN when the queue is empty).
    int accept_client(sockaddr_storage& peer);
    void start_session(int fd, const sockaddr* peer);
    void drop_one(int status);
    // Accepts the next queued connection with the reserve descriptor (when out of descriptors),
    // resets it and records `cause`; false when the queue was empty.
    bool reset_next_with_reserve(const teardown::Cause& cause);
    // Resets the accepted connection `fd` at once and records `cause` for it.
    void reset_and_record(int fd, const sockaddr_storage& peer, const teardown::Cause& cause);
    void reset_accept_queue();
    // Rules that act on the listener (refuse reject, refuse drop) while they are enabled.
    void update_listener_action();
    void apply_to_sessions();
    void fill_accept_queue();
    void release_accept_queue();
    void start_polling();

    Runtime& runtime_;
    rules::ProxyConfig config_;
    int listen_fd_ = -1;
    UvHandle<uv_poll_t> acceptor_;
    UvHandle<uv_timer_t> resume_timer_;
    std::string bound_address_;
    RefusalDiagnosis diagnosis_;
    rules::RuleCounters rule_counters_;
    std::unordered_set<Session*> sessions_;
    std::uint64_t connections_accepted_ = 0;
    faults::ListenerAction listener_action_ = faults::ListenerAction::none;
    std::vector<int> filler_fds_;             // faultline's own connects that fill the queue
    std::set<std::string> filler_addresses_;  // accepted later: closed without a session
    bool is_paused_ = false;
    bool is_out_of_descriptors_ = false;  // an episode: logged when it starts and when it ends
};

}  // namespace faultline::proxy
