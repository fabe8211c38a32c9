// Keeping the latest records and passing new ones on.
#include "control/events.hpp"

namespace faultline::control {

void EventLog::publish(nlohmann::ordered_json record) {
    if (on_publish) on_publish(record);
    recent_.push_back(std::move(record));
    if (recent_.size() > recent_limit) recent_.pop_front();
}

}  // namespace faultline::control
