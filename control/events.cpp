// Keeping the latest records and passing new ones on.
#include "control/events.hpp"

namespace faultline::control {

void EventLog::publish(nlohmann::ordered_json record) {
    if (on_publish) on_publish(record);
    recent_.push_back(std::move(record));
    if (recent_.size() > recent_limit) recent_.pop_front();
    recent_text_.reset();
}

const std::string& EventLog::recent_text() const {
    if (!recent_text_) {
        std::string text = "[";
        for (const auto& record : recent_) {
            if (text.size() > 1) text += ',';
            text += record.dump();
        }
        text += ']';
        recent_text_ = std::move(text);
    }
    return *recent_text_;
}

}  // namespace faultline::control
