#include "server/prometheus_text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace pulse::server {

namespace {

const char* TypeName(PrometheusText::Type type) {
  switch (type) {
    case PrometheusText::Type::kCounter:
      return "counter";
    case PrometheusText::Type::kGauge:
      return "gauge";
    case PrometheusText::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes only backslash and newline.
std::string EscapeHelp(absl::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string PrometheusText::EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Shortest round-trip form: 1764133228.144 stays exact, 0.1 stays 0.1.
  std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void PrometheusText::Family(absl::string_view name, Type type, absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", EscapeHelp(help), "\n");
  absl::StrAppend(&text_, "# TYPE ", name, " ", TypeName(type), "\n");
}

void PrometheusText::SampleText(absl::string_view name, const Labels& labels,
                                absl::string_view value) {
  text_.append(name.data(), name.size());
  if (!labels.empty()) {
    text_ += '{';
    bool first = true;
    for (const auto& [key, label_value] : labels) {
      if (!first) text_ += ',';
      first = false;
      absl::StrAppend(&text_, key, "=\"", EscapeLabelValue(label_value), "\"");
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", value, "\n");
}

void PrometheusText::Sample(absl::string_view name, const Labels& labels, double value) {
  SampleText(name, labels, FormatNumber(value));
}

void PrometheusText::Sample(absl::string_view name, const Labels& labels, uint64_t value) {
  SampleText(name, labels, absl::StrCat(value));
}

void PrometheusText::Gauge(absl::string_view name, absl::string_view help, double value) {
  Family(name, Type::kGauge, help);
  Sample(name, {}, value);
}

void PrometheusText::Counter(absl::string_view name, absl::string_view help, uint64_t value) {
  Family(name, Type::kCounter, help);
  Sample(name, {}, value);
}

void PrometheusText::Counter(absl::string_view name, absl::string_view help, double value) {
  Family(name, Type::kCounter, help);
  Sample(name, {}, value);
}

}  // namespace pulse::server
