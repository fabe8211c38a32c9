// What every proxy on one event loop shares: the loop, read buffers, session ids, the live
// sessions, the upstream sockets faultline opened (to recognise a connection that comes back to
// it: SYN Control), and deferred deletion of finished sessions.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proxy/buffer_pool.hpp"
#include "proxy/loop_clock.hpp"
#include "proxy/uv_handle.hpp"
#include "teardown/counters.hpp"
#include "teardown/record.hpp"

namespace faultline::proxy {

class Proxy;
class Session;

class Runtime {
  public:
    explicit Runtime(uv_loop_t* loop);
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;
    ~Runtime();

    [[nodiscard]] uv_loop_t* loop() const { return loop_; }
    [[nodiscard]] BufferPool& buffers() { return buffers_; }
    // The rule engine's clock, on this loop.
    [[nodiscard]] LoopClock& clock() { return clock_; }

    // Random sources: each session draws its toxicity decisions and its faults' randomness
    // (jitter, slice sizes) from its own generator, seeded from the configured seed, the proxy's
    // name and the connection's index on that proxy. With a seed, the n-th connection through a
    // proxy draws the same outcomes in every run, whatever the other proxies and connections do
    // meanwhile; without, the seeds come from the system.
    void seed(std::optional<std::uint64_t> seed);
    [[nodiscard]] std::uint64_t session_seed(std::string_view proxy, std::uint64_t index);

    Session& create_session(Proxy& proxy);
    [[nodiscard]] std::uint64_t allocate_id() { return next_id_++; }
    // Publishes a finished connection's record: the log line, the counters, and on_record.
    void record(const teardown::TeardownRecord& record);
    // Called by a session that has ended: it is deleted after the current round of callbacks.
    void retire(Session& session);
    [[nodiscard]] const std::map<std::uint64_t, std::unique_ptr<Session>>& sessions() const {
        return sessions_;
    }
    // Runs a task after the current round of callbacks: how objects that must not be destroyed
    // inside their own callbacks are freed.
    void defer(std::function<void()> task);
    // Ends live sessions (all, or one proxy's) with the given reason.
    void clear_sessions(const Proxy* proxy, teardown::Reason reason);
    // Ends the live sessions of these proxies, in one pass over the sessions.
    void clear_sessions(const std::unordered_set<const Proxy*>& proxies, teardown::Reason reason);

    // Loop detection compares socket pairs, not the addresses dialled: an upstream socket is
    // registered by its local address, with a way to ask the address it is connected to. A
    // connection that faultline accepts comes from one of them exactly when its peer is that
    // local address and the address it reached is that upstream socket's peer: one end alone is
    // not enough, since the kernel gives one local port to connections towards different
    // destinations, and the address dialled is not the one reached (0.0.0.0 reaches 127.0.0.1).
    // The addresses reached cost system calls, so they are asked only when a peer matches.
    // IPv4 addresses seen through an IPv6 socket ([::ffff:127.0.0.1]:5000) compare as IPv4.
    using Address = std::function<std::string()>;
    void register_upstream(const std::string& local, Address remote, Session& session);
    void unregister_upstream(const std::string& local, const Session& session);
    // When the client connection from `client_address` to `proxy` closes a loop (it comes from
    // one of faultline's upstream sockets, through a chain of sessions that started at `proxy`):
    // that chain, nearest first. Empty when there is no loop.
    [[nodiscard]] std::vector<Session*> loop_chain(const std::string& client_address,
                                                   const Address& reached,
                                                   const Proxy& proxy) const;
    // Whether a connection accepted from `peer`, which reached `reached`, is one of faultline's
    // own upstream connections: the control API refuses those.
    [[nodiscard]] bool is_own_upstream(const std::string& peer, const Address& reached) const;

    // One descriptor kept open for the moment when there is none left: released to accept a
    // connection that must be dropped (so it can be reset and recorded), then taken again.
    void release_reserve_descriptor();
    void restore_reserve_descriptor();

    // Called with every teardown record as it is written (the API's event stream).
    std::function<void(nlohmann::ordered_json)> on_record;

    // Counters for GET /metrics.
    [[nodiscard]] const teardown::Counters& counters() const { return counters_; }
    void count_rule_activation(const std::string& proxy, const std::string& rule) {
        counters_.count_rule_activation(proxy, rule);
    }

    // Stops the deferred-deletion handle; called once at shutdown after sessions are cleared.
    void close();

  private:
    static void on_check(uv_check_t* handle);
    void start_reaper();
    void run_deferred();

    uv_loop_t* loop_;
    BufferPool buffers_;
    LoopClock clock_;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;
    std::vector<std::unique_ptr<Session>> retired_;
    std::vector<std::function<void()>> deferred_;
    struct Upstream {
        Address remote;
        Session* session = nullptr;
    };
    // The upstream session a client connection comes from, or nullptr.
    [[nodiscard]] Session* upstream_session(const std::string& client_address,
                                            const Address& reached) const;
    std::unordered_map<std::string, std::vector<Upstream>> upstreams_;  // by local address
    UvHandle<uv_check_t> reaper_;
    int reserve_fd_ = -1;
    teardown::Counters counters_;
    std::optional<std::uint64_t> seed_;
    // Without a seed, sessions' seeds come from here (one system seed: std::random_device per
    // connection costs more than the rest of its setup).
    std::mt19937_64 unseeded_{std::random_device{}()};
};

}  // namespace faultline::proxy
