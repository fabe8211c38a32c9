// Running faults in rule order, and the Context each one acts through.
#include "rules/chain.hpp"

#include <algorithm>

#include "rules/connection_rules.hpp"

namespace faultline::rules {

ActiveRule::ActiveRule(ConnectionRules& connection, StreamChain& chain, Rule rule)
    : connection_(connection), chain_(chain), rule_(std::move(rule)) {}

ActiveRule::~ActiveRule() = default;

bool ActiveRule::is_ready() const {
    return !is_waiting_for_time_ && !is_waiting_for_bytes();
}

bool ActiveRule::is_waiting_for_bytes() const {
    return !fault_ && rule_.match.after_bytes && bytes_seen_ < *rule_.match.after_bytes;
}

void ActiveRule::arm(Micros connection_age) {
    if (rule_.match.after) {
        Micros after = std::chrono::duration_cast<Micros>(*rule_.match.after);
        if (after > connection_age) {
            is_waiting_for_time_ = true;
            set_timer(now() + (after - connection_age));
            return;
        }
    }
    if (!is_waiting_for_bytes()) start();
}

std::size_t ActiveRule::count_passing(std::size_t length) {
    if (!is_waiting_for_bytes()) return 0;
    if (is_waiting_for_time_) {
        bytes_seen_ += length;
        return length;
    }
    std::uint64_t missing = *rule_.match.after_bytes - bytes_seen_;
    auto passing = static_cast<std::size_t>(std::min<std::uint64_t>(missing, length));
    bytes_seen_ += passing;
    return passing;
}

void ActiveRule::start() {
    if (fault_ || !rule_.fault || is_removed_ || connection_.is_over()) return;
    fault_ = rule_.fault->create();
    if (!fault_) return;
    connection_.rule_started(*this);
    fault_->on_start(*this);
    connection_.held_bytes_changed(rule_.stream);
}

void ActiveRule::update(Rule rule) {
    bool is_same_type = rule.fault && rule_.fault && rule.fault->type() == rule_.fault->type();
    rule_ = std::move(rule);
    if (fault_ && is_same_type) {
        rule_.fault->update(*fault_);
        fault_->on_update(*this);
        connection_.held_bytes_changed(rule_.stream);
    }
}

bool ActiveRule::stop() {
    cancel_timer();
    if (!fault_) return false;
    auto fault = std::move(fault_);
    // Everything it releases now goes on past it; fault_ is already empty, so the chain skips it.
    fault->on_stop(*this);
    return fault->has_broken_stream();
}

Micros ActiveRule::now() const {
    return connection_.clock().now();
}

double ActiveRule::random() {
    return connection_.random().uniform();
}

Micros ActiveRule::last_activity() const {
    return connection_.last_activity();
}

void ActiveRule::forward(std::string bytes) {
    chain_.pass_from(chain_.index_of(*this) + 1, std::move(bytes));
}

void ActiveRule::forward_end() {
    chain_.end_from(chain_.index_of(*this) + 1);
}

void ActiveRule::reset(faults::Target target, bool flush) {
    connection_.rule_reset(*this, target, flush);
}

void ActiveRule::close() {
    connection_.rule_close(*this);
}

void ActiveRule::go_silent() {
    connection_.rule_go_silent(*this);
}

void ActiveRule::reset_on_reverse_data() {
    connection_.rule_reset_on_reverse_data(*this);
}

void ActiveRule::set_timer(Micros at) {
    if (!timer_) timer_ = connection_.clock().make_timer([this] { on_timer(); });
    timer_->start(at);
}

void ActiveRule::cancel_timer() {
    if (timer_) timer_->stop();
}

void ActiveRule::on_timer() {
    if (connection_.is_over()) return;
    if (is_waiting_for_time_) {
        is_waiting_for_time_ = false;
        if (!is_waiting_for_bytes()) start();
        return;
    }
    if (fault_) {
        fault_->on_timer(*this);
        connection_.held_bytes_changed(rule_.stream);
    }
}

std::size_t StreamChain::held_bytes() const {
    std::size_t held = 0;
    for (const auto& rule : rules_)
        held += rule->held_bytes();
    return held;
}

ActiveRule* StreamChain::find(const std::string& name) {
    if (!by_name_) return nullptr;
    auto it = by_name_->find(name);
    return it == by_name_->end() ? nullptr : it->second;
}

std::vector<std::string> StreamChain::names() const {
    std::vector<std::string> names;
    if (is_empty()) return names;
    names.reserve(by_name_->size());
    for (const auto& rule : rules_) {
        if (!rule->is_removed()) names.push_back(rule->rule().name);
    }
    return names;
}

void StreamChain::add(Rule rule, Micros connection_age) {
    auto active = std::make_unique<ActiveRule>(connection_, *this, std::move(rule));
    active->index_ = rules_.size();
    if (!by_name_) by_name_ = std::make_unique<std::unordered_map<std::string, ActiveRule*>>();
    (*by_name_)[active->rule().name] = active.get();
    rules_.push_back(std::move(active));
    rules_.back()->arm(connection_age);
}

bool StreamChain::remove(const std::string& name) {
    if (!by_name_) return false;
    auto it = by_name_->find(name);
    if (it == by_name_->end()) return false;
    ActiveRule* rule = it->second;
    by_name_->erase(it);
    rule->is_removed_ = true;
    has_removed_ = true;
    return rule->stop();
}

void StreamChain::compact() {
    if (!has_removed_) return;
    has_removed_ = false;
    std::erase_if(rules_, [](const auto& rule) { return rule->is_removed(); });
    for (std::size_t i = 0; i < rules_.size(); ++i)
        rules_[i]->index_ = i;
}

void StreamChain::release_after(const ActiveRule& rule) {
    for (std::size_t i = index_of(rule) + 1; i < rules_.size(); ++i)
        (void)rules_[i]->stop();
}

void StreamChain::cancel_timers() {
    for (auto& rule : rules_)
        rule->cancel_timer();
}

void StreamChain::pass_from(std::size_t index, std::string bytes) {
    for (std::size_t i = index; i < rules_.size(); ++i) {
        ActiveRule& rule = *rules_[i];
        if (rule.is_removed()) continue;
        if (!rule.is_running() && rule.is_ready()) rule.start();
        if (rule.is_running()) {
            rule.fault()->on_data(rule, std::move(bytes));
            return;
        }
        // A rule waiting for after_bytes lets bytes by until enough have passed; the rest is its.
        std::size_t passing = rule.count_passing(bytes.size());
        if (passing == bytes.size() && passing > 0 && rule.is_ready()) {
            // The threshold falls at the end of this chunk: it passes, then the fault starts.
            pass_from(i + 1, std::move(bytes));
            rule.start();
            return;
        }
        if (passing == 0 || passing == bytes.size()) continue;
        std::string rest = bytes.substr(passing);
        bytes.resize(passing);
        pass_from(i + 1, std::move(bytes));
        rule.start();
        if (rule.is_running()) {
            rule.fault()->on_data(rule, std::move(rest));
        } else {
            pass_from(i + 1, std::move(rest));
        }
        return;
    }
    if (!bytes.empty()) connection_.deliver(stream_, std::move(bytes));
}

void StreamChain::end_from(std::size_t index) {
    for (std::size_t i = index; i < rules_.size(); ++i) {
        ActiveRule& rule = *rules_[i];
        if (rule.is_removed()) continue;
        if (!rule.is_running() && rule.is_ready()) rule.start();
        if (rule.is_running()) {
            rule.fault()->on_end(rule);
            return;
        }
    }
    connection_.deliver_end(stream_);
}

}  // namespace faultline::rules
