#include "sim/trace.h"

#include <cstdio>

#include "sim/hash.h"

namespace sim {

const char* trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::Send: return "send";
    case TraceKind::Deliver: return "deliver";
    case TraceKind::Drop: return "drop";
    case TraceKind::Reject: return "reject";
    case TraceKind::Timer: return "timer";
    case TraceKind::Execute: return "execute";
    case TraceKind::Fault: return "fault";
    case TraceKind::Note: return "note";
  }
  return "unknown";
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void Trace::record_line(const TraceEvent& e, std::string_view summary, std::uint64_t line_hash) {
  char head[200];
  std::snprintf(head, sizeof head,
                "{\"t\":%lld,\"kind\":\"%s\",\"from\":%u,\"to\":%u,\"tag\":%u,\"hash\":\"%016llx\",\"a\":%llu,\"b\":%llu",
                static_cast<long long>(e.time_ns), trace_kind_name(e.kind), e.from, e.to, e.tag,
                static_cast<unsigned long long>(line_hash != 0 ? line_hash : e.payload_hash), static_cast<unsigned long long>(e.a),
                static_cast<unsigned long long>(e.b));
  std::string line = head;
  if (!summary.empty()) {
    line += ",\"msg\":";
    append_json_string(line, summary);
  }
  line.push_back('}');
  lines_.push_back(std::move(line));
}

std::string Trace::fingerprint_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(state_));
  return buf;
}

}  // namespace sim
