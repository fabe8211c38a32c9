// HTTP/1.1 request parsing and response serialisation.
#include "control/http.hpp"

#include <fmt/format.h>
#include <http_parser.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace faultline::control {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) return value;
    }
    return {};
}

std::string_view status_text(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

HttpResponse error_response(int status, std::string_view message) {
    nlohmann::ordered_json body{{"error", message}, {"status", status}};
    return {status, body.dump(), "application/json", {}};
}

std::string serialize(const HttpResponse& response, bool keep_alive) {
    std::string out =
        fmt::format("HTTP/1.1 {} {}\r\n", response.status, status_text(response.status));
    if (response.is_stream) {
        out += fmt::format("Content-Type: {}\r\n", response.content_type);
    } else if (response.status != 204) {
        out += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", response.content_type,
                           response.body.size());
    }
    for (const auto& [name, value] : response.headers)
        out += fmt::format("{}: {}\r\n", name, value);
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (response.status != 204) out += response.body;
    return out;
}

struct HttpParser::Machine {
    http_parser parser{};
    http_parser_settings settings{};
};

struct HttpParser::Callbacks {
    static HttpParser& self(http_parser* parser) { return *static_cast<HttpParser*>(parser->data); }

    static int on_message_begin(http_parser* parser) {
        HttpParser& p = self(parser);
        p.request_ = {};
        p.in_request_ = true;
        p.header_field_.clear();
        p.is_header_value_ = false;
        p.header_bytes_ = 0;
        return 0;
    }
    static int on_url(http_parser* parser, const char* at, std::size_t length) {
        HttpParser& p = self(parser);
        p.header_bytes_ += length;
        if (p.header_bytes_ > max_header_bytes) return 1;
        p.request_.path.append(at, length);
        return 0;
    }
    static int on_header_field(http_parser* parser, const char* at, std::size_t length) {
        HttpParser& p = self(parser);
        p.header_bytes_ += length;
        if (p.header_bytes_ > max_header_bytes) return 1;
        if (p.is_header_value_) {
            p.header_field_.clear();
            p.is_header_value_ = false;
        }
        p.header_field_.append(at, length);
        return 0;
    }
    static int on_header_value(http_parser* parser, const char* at, std::size_t length) {
        HttpParser& p = self(parser);
        p.header_bytes_ += length;
        if (p.header_bytes_ > max_header_bytes) return 1;
        if (!p.is_header_value_) {
            p.request_.headers.emplace_back(lower(p.header_field_), std::string());
            p.is_header_value_ = true;
        }
        p.request_.headers.back().second.append(at, length);
        return 0;
    }
    static int on_headers_complete(http_parser* parser) {
        HttpParser& p = self(parser);
        if (parser->http_major != 1) {
            p.fail(505, "unsupported HTTP version");
            return -1;  // any value but 0, 1 and 2 is an error
        }
        // A declared length over the limit is refused before its body arrives.
        if ((parser->flags & F_CONTENTLENGTH) != 0 && parser->content_length > max_body_bytes) {
            p.fail(413, "request body too large");
            return -1;  // any value but 0, 1 and 2 is an error
        }
        p.request_.method = http_method_str(static_cast<http_method>(parser->method));
        auto question = p.request_.path.find('?');
        if (question != std::string::npos) {
            p.request_.query = p.request_.path.substr(question + 1);
            p.request_.path.resize(question);
        }
        for (auto& [name, value] : p.request_.headers)
            value = std::string(trim(value));
        return 0;
    }
    static int on_body(http_parser* parser, const char* at, std::size_t length) {
        HttpParser& p = self(parser);
        if (p.request_.body.size() + length > max_body_bytes) {
            p.fail(413, "request body too large");
            return 1;
        }
        p.request_.body.append(at, length);
        return 0;
    }
    static int on_message_complete(http_parser* parser) {
        HttpParser& p = self(parser);
        if (p.state_ == State::failed) return 1;
        p.request_.keep_alive = http_should_keep_alive(parser) != 0;
        p.state_ = State::complete;
        p.in_request_ = false;
        http_parser_pause(parser, 1);  // one request at a time: the rest waits for take()
        return 0;
    }
};

HttpParser::HttpParser() : machine_(std::make_unique<Machine>()) {
    http_parser_init(&machine_->parser, HTTP_REQUEST);
    machine_->parser.data = this;
    auto& settings = machine_->settings;
    http_parser_settings_init(&settings);
    settings.on_message_begin = Callbacks::on_message_begin;
    settings.on_url = Callbacks::on_url;
    settings.on_header_field = Callbacks::on_header_field;
    settings.on_header_value = Callbacks::on_header_value;
    settings.on_headers_complete = Callbacks::on_headers_complete;
    settings.on_body = Callbacks::on_body;
    settings.on_message_complete = Callbacks::on_message_complete;
}

HttpParser::~HttpParser() = default;

HttpParser::State HttpParser::feed(std::string_view input) {
    if (state_ != State::incomplete) {
        pending_.append(input);
        return state_;
    }
    if (!pending_.empty()) {
        std::string buffered = std::move(pending_);
        pending_.clear();
        buffered.append(input);
        return run(buffered);
    }
    return run(input);
}

HttpParser::State HttpParser::run(std::string_view input) {
    auto& parser = machine_->parser;
    std::size_t parsed = input.empty() ? 0
                                       : http_parser_execute(&parser, &machine_->settings,
                                                             input.data(), input.size());
    if (state_ == State::failed) return state_;
    auto error = HTTP_PARSER_ERRNO(&parser);
    if (error == HPE_PAUSED) {
        pending_.append(input.substr(parsed));
        return state_;
    }
    if (error == HPE_CB_url || error == HPE_CB_header_field || error == HPE_CB_header_value ||
        error == HPE_HEADER_OVERFLOW) {
        return fail(431, "request header too large");
    }
    if (error != HPE_OK) {
        return fail(400, std::string("malformed request: ") + http_errno_description(error));
    }
    return state_;
}

HttpRequest HttpParser::take() {
    HttpRequest request = std::move(request_);
    request_ = {};
    if (state_ == State::complete) {
        state_ = State::incomplete;
        http_parser_pause(&machine_->parser, 0);
    }
    return request;
}

HttpParser::State HttpParser::fail(int status, std::string message) {
    if (state_ == State::failed) return state_;
    error_status_ = status;
    error_message_ = std::move(message);
    return state_ = State::failed;
}

}  // namespace faultline::control
