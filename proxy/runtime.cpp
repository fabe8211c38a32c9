// Shared per-loop services.
#include "proxy/runtime.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <utility>

#include "proxy/session.hpp"
#include "rules/random.hpp"
#include "teardown/log.hpp"

namespace faultline::proxy {

Runtime::Runtime(uv_loop_t* loop) : loop_(loop), clock_(loop), reaper_(this) {
    int err = uv_check_init(loop_, reaper_.get());
    assert(err == 0);
    (void)err;
    reaper_.mark_initialised();
    restore_reserve_descriptor();
}

Runtime::~Runtime() {
    release_reserve_descriptor();
}

void Runtime::seed(std::optional<std::uint64_t> seed) {
    seed_ = seed;
}

std::uint64_t Runtime::session_seed(std::string_view proxy, std::uint64_t index) {
    if (!seed_) return unseeded_();
    return rules::connection_seed(*seed_, proxy, index);
}

void Runtime::release_reserve_descriptor() {
    if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
}

void Runtime::restore_reserve_descriptor() {
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Session& Runtime::create_session(Proxy& proxy) {
    std::uint64_t id = allocate_id();
    auto [it, inserted] = sessions_.emplace(id, std::make_unique<Session>(*this, proxy, id));
    assert(inserted);
    return *it->second;
}

void Runtime::record(const teardown::TeardownRecord& record) {
    auto json = teardown::to_json(record);
    teardown::log_event(teardown::LogLevel::info, json, teardown::to_text(record));
    counters_.count(record);
    if (on_record) on_record(std::move(json));
}

void Runtime::retire(Session& session) {
    auto it = sessions_.find(session.id());
    if (it == sessions_.end()) return;
    retired_.push_back(std::move(it->second));
    sessions_.erase(it);
    start_reaper();
}

void Runtime::defer(std::function<void()> task) {
    deferred_.push_back(std::move(task));
    start_reaper();
}

void Runtime::start_reaper() {
    if (reaper_ && !uv_is_active(reaper_.base())) {
        int err = uv_check_start(reaper_.get(), on_check);
        assert(err == 0);
        (void)err;
    }
}

void Runtime::on_check(uv_check_t* handle) {
    auto* self = static_cast<Runtime*>(handle->data);
    if (!self) return;
    self->run_deferred();
    (void)uv_check_stop(handle);
}

// A task may defer more (a shutdown retiring the API's sockets): all of it runs in this round.
void Runtime::run_deferred() {
    while (!retired_.empty() || !deferred_.empty()) {
        retired_.clear();
        auto tasks = std::move(deferred_);
        deferred_.clear();
        for (auto& task : tasks)
            task();
    }
}

void Runtime::clear_sessions(const Proxy* proxy, teardown::Reason reason) {
    std::vector<Session*> victims;
    for (auto& [id, session] : sessions_) {
        if (!proxy || &session->proxy() == proxy) victims.push_back(session.get());
    }
    for (Session* session : victims)
        session->clear(reason);
}

void Runtime::clear_sessions(const std::unordered_set<const Proxy*>& proxies,
                             teardown::Reason reason) {
    if (proxies.empty()) return;
    std::vector<Session*> victims;
    for (auto& [id, session] : sessions_) {
        if (proxies.contains(&session->proxy())) victims.push_back(session.get());
    }
    for (Session* session : victims)
        session->clear(reason);
}

void Runtime::register_upstream(const std::string& local, std::string destination,
                                Session& session) {
    upstreams_[local].push_back({std::move(destination), &session});
}

void Runtime::unregister_upstream(const std::string& local, const Session& session) {
    auto it = upstreams_.find(local);
    if (it == upstreams_.end()) return;
    std::erase_if(it->second, [&session](const Upstream& u) { return u.session == &session; });
    if (it->second.empty()) upstreams_.erase(it);
}

Session* Runtime::upstream_session(const std::string& client_address,
                                   const Reached& reached) const {
    auto it = upstreams_.find(client_address);
    if (it == upstreams_.end()) return nullptr;
    const std::string destination = reached();
    for (const Upstream& upstream : it->second) {
        if (upstream.destination == destination) return upstream.session;
    }
    return nullptr;
}

std::vector<Session*> Runtime::loop_chain(const std::string& client_address, const Reached& reached,
                                          const Proxy& proxy) const {
    std::vector<Session*> chain;
    for (Session* s = upstream_session(client_address, reached); s && chain.size() < 64;
         s = upstream_session(s->client_address(), [s] { return s->client_reached(); })) {
        chain.push_back(s);
        if (&s->proxy() == &proxy) return chain;
    }
    return {};
}

void Runtime::close() {
    run_deferred();
    reaper_.close();
}

}  // namespace faultline::proxy
