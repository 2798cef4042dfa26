// Scenario parsing and validation. Every problem becomes a ScenarioError naming the file,
// the JSON pointer and what was expected; nothing here throws to the caller.
#include "harness/scenario.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "protocol/message.h"

namespace harness {

using json = nlohmann::json;

const char* expect_name(Expect e) {
  switch (e) {
    case Expect::Holds: return "holds";
    case Expect::Violated: return "violated";
    case Expect::Any: return "any";
  }
  return "unknown";
}

std::string ScenarioError::to_string() const {
  if (line > 0) return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  if (json_path.empty()) return file + ": " + message;
  return file + ": " + json_path + ": " + message;
}

namespace {

// Thrown inside the parser only, caught at its boundary and turned into a value.
struct Problem {
  std::string path;
  std::string message;
};

std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

[[noreturn]] void fail(const std::string& path, const std::string& message) { throw Problem{path, message}; }

// A key as a JSON pointer token (RFC 6901): "~" becomes "~0" and "/" becomes "~1".
std::string escape_pointer(const std::string& key) {
  std::string out;
  for (char ch : key) {
    if (ch == '~') out += "~0";
    else if (ch == '/') out += "~1";
    else out += ch;
  }
  return out;
}

void only_fields(const json& obj, const std::string& path, std::initializer_list<const char*> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; }) == allowed.end()) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(path + "/" + escape_pointer(it.key()), "unknown field; expected one of: " + list);
    }
  }
}

const json& object_at(const json& parent, const char* key, const std::string& path) {
  const json& v = parent.at(key);
  if (!v.is_object()) fail(path + "/" + key, "expected an object, got " + show(v));
  return v;
}

double number(const json& obj, const char* key, const std::string& path, double lo, double hi, double fallback) {
  if (!obj.contains(key)) return fallback;
  const json& v = obj.at(key);
  const std::string p = path + "/" + key;
  if (!v.is_number()) fail(p, "expected a number, got " + show(v));
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    std::ostringstream o;
    o << "expected a number between " << lo << " and " << hi << ", got " << show(v);
    fail(p, o.str());
  }
  return d;
}

std::uint64_t integer(const json& obj, const char* key, const std::string& path, std::uint64_t lo,
                      std::uint64_t hi, std::uint64_t fallback, bool required = false) {
  if (!obj.contains(key)) {
    if (required) fail(path + "/" + key, "missing required field (an integer)");
    return fallback;
  }
  const json& v = obj.at(key);
  const std::string p = path + "/" + key;
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)) {
    if (v.is_number_integer()) fail(p, "expected an integer >= " + std::to_string(lo) + ", got " + show(v));
    fail(p, "expected an integer, got " + show(v));
  }
  const std::uint64_t u = v.get<std::uint64_t>();
  if (u < lo || u > hi) {
    fail(p, "expected an integer between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + show(v));
  }
  return u;
}

std::string text(const json& obj, const char* key, const std::string& path, bool required) {
  if (!obj.contains(key)) {
    if (required) fail(path + "/" + key, "missing required field (a string)");
    return "";
  }
  const json& v = obj.at(key);
  if (!v.is_string()) fail(path + "/" + key, "expected a string, got " + show(v));
  return v.get<std::string>();
}

std::vector<ReplicaId> replica_list(const json& v, const std::string& path, std::uint32_t n) {
  if (!v.is_array()) fail(path, "expected an array of replica ids, got " + show(v));
  std::vector<ReplicaId> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = path + "/" + std::to_string(i);
    if (!v[i].is_number_unsigned()) fail(p, "expected a replica id (an integer >= 0), got " + show(v[i]));
    const auto id = v[i].get<std::uint64_t>();
    if (id >= n) fail(p, "replica id " + std::to_string(id) + " does not exist: ids go from 0 to n-1 = " + std::to_string(n - 1));
    if (std::find(out.begin(), out.end(), id) != out.end()) fail(p, "replica " + std::to_string(id) + " is listed twice");
    out.push_back(static_cast<ReplicaId>(id));
  }
  return out;
}

std::vector<std::vector<ReplicaId>> groups_of(const json& v, const std::string& path, std::uint32_t n) {
  if (!v.is_array() || v.empty()) fail(path, "expected a non-empty array of arrays of replica ids, got " + show(v));
  std::vector<std::vector<ReplicaId>> out;
  std::set<ReplicaId> seen;
  for (std::size_t g = 0; g < v.size(); ++g) {
    auto group = replica_list(v[g], path + "/" + std::to_string(g), n);
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (!seen.insert(group[i]).second) {
        fail(path + "/" + std::to_string(g) + "/" + std::to_string(i),
             "replica " + std::to_string(group[i]) + " is in more than one group (groups must not overlap)");
      }
    }
    out.push_back(std::move(group));
  }
  return out;
}

sim::LatencyModel latency(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "expected a latency distribution object, got " + show(v));
  const std::string dist = text(v, "dist", path, true);
  sim::LatencyModel m;
  constexpr double kMax = 3'600'000.0;
  if (dist == "constant") {
    only_fields(v, path, {"dist", "value"});
    m.dist = sim::LatencyModel::Dist::Constant;
    if (!v.contains("value")) fail(path + "/value", "missing required field (ms)");
    m.value_ms = number(v, "value", path, 0, kMax, 0);
  } else if (dist == "uniform") {
    only_fields(v, path, {"dist", "min", "max"});
    m.dist = sim::LatencyModel::Dist::Uniform;
    if (!v.contains("min") || !v.contains("max")) fail(path, "uniform needs \"min\" and \"max\" (ms)");
    m.min_ms = number(v, "min", path, 0, kMax, 0);
    m.max_ms = number(v, "max", path, 0, kMax, 0);
    if (m.max_ms < m.min_ms) fail(path + "/max", "expected max >= min (" + show(v["min"]) + "), got " + show(v["max"]));
  } else if (dist == "exponential") {
    only_fields(v, path, {"dist", "mean"});
    m.dist = sim::LatencyModel::Dist::Exponential;
    m.mean_ms = number(v, "mean", path, 1e-9, kMax, -1);
    if (m.mean_ms < 0) fail(path + "/mean", "missing required field (ms, > 0)");
  } else if (dist == "lognormal") {
    only_fields(v, path, {"dist", "median", "sigma"});
    m.dist = sim::LatencyModel::Dist::Lognormal;
    m.median_ms = number(v, "median", path, 1e-9, kMax, -1);
    m.sigma = number(v, "sigma", path, 0, 10, -1);
    if (m.median_ms < 0 || m.sigma < 0) fail(path, "lognormal needs \"median\" (ms, > 0) and \"sigma\" (>= 0)");
  } else {
    fail(path + "/dist", "expected one of: constant, uniform, exponential, lognormal; got " + show(v["dist"]));
  }
  return m;
}

}  // namespace
}  // namespace harness

namespace harness {
namespace {

constexpr double kMsMax = 1e12;  // about 31 years of virtual time

protocol::PbftConfig parse_cluster(const json& root) {
  if (!root.contains("cluster")) fail("/cluster", "missing required field (an object with at least \"n\")");
  const json& c = object_at(root, "cluster", "");
  const std::string p = "/cluster";
  only_fields(c, p, {"n", "f", "auth", "batch_size", "batch_delay_ms", "checkpoint_interval", "log_window",
                     "view_change_timeout_ms", "client_timeout_ms", "state_fetch_timeout_ms"});
  protocol::PbftConfig cfg;
  cfg.n = static_cast<std::uint32_t>(integer(c, "n", p, 1, 1024, 0, true));
  cfg.f = static_cast<std::uint32_t>(integer(c, "f", p, 0, 1024, (cfg.n - 1) / 3));
  if (cfg.n < 3 * cfg.f + 1) {
    fail(p + "/f", "n = " + std::to_string(cfg.n) + " is too small for f = " + std::to_string(cfg.f) +
                       ": PBFT needs n >= 3f+1 = " + std::to_string(3 * cfg.f + 1));
  }
  const std::string auth = c.contains("auth") ? text(c, "auth", p, false) : "mac";
  if (auth == "mac") cfg.auth = protocol::AuthMode::Mac;
  else if (auth == "signature") cfg.auth = protocol::AuthMode::Signature;
  else if (auth == "none") cfg.auth = protocol::AuthMode::None;
  else fail(p + "/auth", "expected one of: mac, signature, none; got " + show(c["auth"]));
  cfg.batch_size_max = static_cast<std::uint32_t>(integer(c, "batch_size", p, 1, protocol::kBatchRequestsMax, 1));
  cfg.batch_delay_ns = sim::from_ms(number(c, "batch_delay_ms", p, 0, kMsMax, 0));
  cfg.checkpoint_interval = integer(c, "checkpoint_interval", p, 1, 1'000'000, 64);
  // Default window: the smallest multiple of K that is at least 128 and at least 2K (a
  // primary can then run a full checkpoint interval ahead of the last stable checkpoint).
  const std::uint64_t k = cfg.checkpoint_interval;
  const std::uint64_t window_default = k * std::max<std::uint64_t>(2, (128 + k - 1) / k);
  cfg.log_window = integer(c, "log_window", p, 1, 1'000'000, std::min<std::uint64_t>(window_default, 1'000'000 / k * k));
  if (cfg.log_window % cfg.checkpoint_interval != 0) {
    fail(p + "/log_window", "expected a multiple of checkpoint_interval (" + std::to_string(cfg.checkpoint_interval) +
                                "), got " + std::to_string(cfg.log_window));
  }
  cfg.view_change_timeout_ns = sim::from_ms(number(c, "view_change_timeout_ms", p, 1e-6, kMsMax, 500));
  cfg.client_retry_timeout_ns = sim::from_ms(number(c, "client_timeout_ms", p, 1e-6, kMsMax, 1000));
  cfg.state_fetch_timeout_ns = sim::from_ms(number(c, "state_fetch_timeout_ms", p, 1e-6, kMsMax, 200));
  const std::string err = cfg.validate();
  if (!err.empty()) fail(p, err);
  return cfg;
}

sim::NetworkConfig parse_network(const json& root) {
  sim::NetworkConfig net;
  net.latency = sim::LatencyModel{sim::LatencyModel::Dist::Constant, 1.0, 0, 0, 0, 0, 0};
  if (!root.contains("network")) return net;
  const json& n = object_at(root, "network", "");
  only_fields(n, "/network", {"latency_ms", "drop", "duplicate"});
  if (n.contains("latency_ms")) net.latency = latency(n["latency_ms"], "/network/latency_ms");
  net.drop_probability = number(n, "drop", "/network", 0, 1, 0);
  net.duplicate_probability = number(n, "duplicate", "/network", 0, 1, 0);
  return net;
}

WorkloadSpec parse_workload(const json& root) {
  WorkloadSpec w;
  if (!root.contains("workload")) return w;
  const json& o = object_at(root, "workload", "");
  const std::string p = "/workload";
  only_fields(o, p, {"clients", "requests_per_client", "outstanding", "keys", "start_ms", "think_ms"});
  w.clients = static_cast<std::uint32_t>(integer(o, "clients", p, 1, 100'000, 4));
  w.requests_per_client = static_cast<std::uint32_t>(integer(o, "requests_per_client", p, 0, 1'000'000'000, 100));
  w.outstanding = static_cast<std::uint32_t>(integer(o, "outstanding", p, 1, 10'000, 1));
  if (std::uint64_t{w.clients} * w.outstanding > 1'000'000) fail(p, "clients x outstanding must be at most 1000000");
  w.keys = static_cast<std::uint32_t>(integer(o, "keys", p, 1, 1'000'000, 16));
  w.start_ms = number(o, "start_ms", p, 0, kMsMax, 0);
  w.think_ms = number(o, "think_ms", p, 0, kMsMax, 0);
  return w;
}

std::optional<FaultKind> kind_named(const std::string& name) {
  for (int k = 0; k <= static_cast<int>(kFaultKindLast); ++k) {
    if (name == fault_kind_name(static_cast<FaultKind>(k))) return static_cast<FaultKind>(k);
  }
  return std::nullopt;
}

// "variants" of bad_view_change and bad_state: a non-empty array of distinct names out of
// `names` (absent: every variant).
template <std::size_t N>
std::vector<std::string> variant_list(const json& o, const std::string& p, const std::array<const char*, N>& names) {
  if (!o.contains("variants")) return {};
  const json& a = o["variants"];
  const std::string path = p + "/variants";
  std::string known;
  for (const char* name : names) known += (known.empty() ? "" : ", ") + std::string(name);
  if (!a.is_array() || a.empty()) fail(path, "expected a non-empty array of variant names (" + known + "), got " + show(a));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string at = path + "/" + std::to_string(i);
    if (!a[i].is_string()) fail(at, "expected a variant name (" + known + "), got " + show(a[i]));
    const std::string name = a[i].get<std::string>();
    if (std::find_if(names.begin(), names.end(), [&](const char* known_name) { return name == known_name; }) ==
        names.end()) {
      fail(at, "unknown variant " + show(a[i]) + "; expected one of: " + known);
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) fail(at, "variant " + show(a[i]) + " listed twice");
    out.push_back(name);
  }
  return out;
}

// censor "clients": a non-empty array of distinct workload client numbers (0 .. clients-1).
std::vector<std::uint32_t> client_list(const json& o, const std::string& p, std::uint32_t clients) {
  if (!o.contains("clients")) fail(p + "/clients", "missing required field (the workload client numbers to censor)");
  const json& v = o["clients"];
  const std::string path = p + "/clients";
  if (!v.is_array() || v.empty()) fail(path, "expected a non-empty array of workload client numbers, got " + show(v));
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = path + "/" + std::to_string(i);
    if (!v[i].is_number_unsigned()) fail(at, "expected a workload client number (an integer >= 0), got " + show(v[i]));
    const auto c = v[i].get<std::uint64_t>();
    if (c >= clients) {
      fail(at, "workload client " + std::to_string(c) + " does not exist: clients go from 0 to workload.clients-1 = " +
                   std::to_string(clients - 1));
    }
    if (std::find(out.begin(), out.end(), c) != out.end()) fail(at, "client " + std::to_string(c) + " is listed twice");
    out.push_back(static_cast<std::uint32_t>(c));
  }
  return out;
}

// "to" of delay, drop, partition and double_preprepare: optional, and when given a
// non-empty array of distinct replica ids (absent means every receiver, so an empty array
// would be a fault that touches nothing: refused as the likely mistake it is).
std::vector<ReplicaId> receivers(const json& o, const std::string& p, std::uint32_t n) {
  if (!o.contains("to")) return {};
  auto out = replica_list(o["to"], p + "/to", n);
  if (out.empty()) fail(p + "/to", "expected at least one replica id (leave \"to\" out for every receiver)");
  return out;
}

void parse_fault_extras(const json& o, const std::string& p, std::uint32_t n, std::uint32_t clients, FaultSpec& f) {
  switch (f.kind) {
    case FaultKind::Crash:
      if (o.contains("restart_ms")) {
        f.restart_ns = sim::from_ms(number(o, "restart_ms", p, 0, kMsMax, 0));
        if (*f.restart_ns < f.from_ns) fail(p + "/restart_ms", "expected a time >= from_ms, got " + show(o["restart_ms"]));
      }
      return;
    case FaultKind::Equivocate:
      if (o.contains("split")) f.split = groups_of(o["split"], p + "/split", n);
      if (o.contains("colluders")) f.colluders = replica_list(o["colluders"], p + "/colluders", n);
      return;
    case FaultKind::Withhold:
      if (!o.contains("to")) fail(p + "/to", "missing required field (the replica ids that still get messages)");
      f.to = replica_list(o["to"], p + "/to", n);
      return;
    case FaultKind::Corrupt: f.probability = number(o, "probability", p, 0, 1, 1); return;
    case FaultKind::Drop:
      if (!o.contains("probability")) fail(p + "/probability", "missing required field (a number in [0, 1])");
      f.probability = number(o, "probability", p, 0, 1, 1);
      f.to = receivers(o, p, n);
      return;
    case FaultKind::Replay: f.rate_per_s = number(o, "rate", p, 1e-3, 1e6, 10); return;
    case FaultKind::Delay:
      if (o.contains("extra_ms") == o.contains("latency_ms")) {
        fail(p, "delay needs exactly one of \"extra_ms\" (a number) or \"latency_ms\" (a distribution)");
      }
      f.extra_ms = number(o, "extra_ms", p, 0, kMsMax, 0);
      if (o.contains("latency_ms")) f.extra_latency = latency(o["latency_ms"], p + "/latency_ms");
      f.to = receivers(o, p, n);
      return;
    case FaultKind::Partition:
      if (!o.contains("groups")) fail(p + "/groups", "missing required field (arrays of replica ids)");
      f.groups = groups_of(o["groups"], p + "/groups", n);
      f.to = receivers(o, p, n);
      return;
    case FaultKind::TimerSkew:
      if (!o.contains("factor")) fail(p + "/factor", "missing required field (a number > 0)");
      f.factor = number(o, "factor", p, 1e-3, 1e6, 1);
      return;
    case FaultKind::BadViewChange: f.variants = variant_list(o, p, kBadViewChangeVariantNames); return;
    case FaultKind::BadState: f.variants = variant_list(o, p, kBadStateVariantNames); return;
    case FaultKind::Censor: f.clients = client_list(o, p, clients); return;
    case FaultKind::DoublePrePrepare: f.to = receivers(o, p, n); return;
    default: return;
  }
}

FaultSpec parse_fault(const json& o, const std::string& p, std::uint32_t n, std::uint32_t clients) {
  if (!o.is_object()) fail(p, "expected a fault object, got " + show(o));
  FaultSpec f;
  f.json_path = p;
  const std::string name = text(o, "kind", p, true);
  const auto kind = kind_named(name);
  if (!kind) {
    std::string known;
    for (int k = 0; k <= static_cast<int>(kFaultKindLast); ++k) {
      known += (known.empty() ? "" : ", ") + std::string(fault_kind_name(static_cast<FaultKind>(k)));
    }
    fail(p + "/kind", "unknown fault kind " + show(o["kind"]) + "; expected one of: " + known);
  }
  f.kind = *kind;
  std::vector<const char*> allowed{"kind", "replicas", "from_ms", "until_ms"};
  switch (f.kind) {
    // A partition names its sides in "groups"; "replicas" would mean nothing there.
    case FaultKind::Partition: allowed = {"kind", "groups", "from_ms", "until_ms", "to"}; break;
    case FaultKind::Crash: allowed = {"kind", "replicas", "from_ms", "restart_ms"}; break;
    case FaultKind::Equivocate: allowed.insert(allowed.end(), {"split", "colluders"}); break;
    case FaultKind::Withhold: allowed.push_back("to"); break;
    case FaultKind::Corrupt: allowed.push_back("probability"); break;
    case FaultKind::Drop: allowed.insert(allowed.end(), {"probability", "to"}); break;
    case FaultKind::Replay: allowed.push_back("rate"); break;
    case FaultKind::Delay: allowed.insert(allowed.end(), {"extra_ms", "latency_ms", "to"}); break;
    case FaultKind::TimerSkew: allowed.push_back("factor"); break;
    case FaultKind::BadViewChange: case FaultKind::BadState: allowed.push_back("variants"); break;
    case FaultKind::Censor: allowed.push_back("clients"); break;
    case FaultKind::DoublePrePrepare: allowed.push_back("to"); break;
    default: break;
  }
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; }) == allowed.end()) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(p + "/" + escape_pointer(it.key()), "unknown field for a " + name + " fault; expected one of: " + list);
    }
  }
  if (o.contains("replicas")) {
    const json& r = o["replicas"];
    if (r.is_string()) {
      if (r.get<std::string>() != "primary") fail(p + "/replicas", "expected an array of replica ids or \"primary\", got " + show(r));
      f.replicas_is_primary = true;
    } else {
      f.replicas = replica_list(r, p + "/replicas", n);
      if (f.replicas.empty()) fail(p + "/replicas", "expected at least one replica id");
    }
  } else if (f.kind != FaultKind::Partition) {
    fail(p + "/replicas", "missing required field (replica ids, or \"primary\")");
  }
  f.from_ns = sim::from_ms(number(o, "from_ms", p, 0, kMsMax, 0));
  if (o.contains("until_ms")) {
    f.until_ns = sim::from_ms(number(o, "until_ms", p, 0, kMsMax, 0));
    if (*f.until_ns < f.from_ns) {
      fail(p + "/until_ms", "expected a time >= from_ms (" + show(o.value("from_ms", json(0))) + "), got " + show(o["until_ms"]));
    }
  }
  parse_fault_extras(o, p, n, clients, f);
  return f;
}

// "9.4 GiB", "310 MiB".
std::string show_bytes(double bytes) {
  char buf[32];
  if (bytes >= double(1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  else std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / double(1ull << 20));
  return buf;
}

Expect parse_expect_value(const json& e, const char* key) {
  if (!e.contains(key)) return Expect::Holds;
  const std::string v = text(e, key, "/expect", false);
  if (v == "holds") return Expect::Holds;
  if (v == "violated") return Expect::Violated;
  if (v == "any") return Expect::Any;
  fail(std::string("/expect/") + key, "expected one of: holds, violated, any; got " + show(e[key]));
}

Scenario parse_root(const json& root, std::string_view file_name) {
  if (!root.is_object()) fail("", "expected a JSON object at the top level, got " + show(root));
  only_fields(root, "", {"$schema", "name", "description", "seed", "cluster", "network", "workload", "faults",
                         "duration_ms", "liveness_bound_ms", "max_events", "expect"});
  // "$schema" names schema/scenario.schema.json for editors; it says nothing about the run.
  if (root.contains("$schema")) text(root, "$schema", "", false);
  Scenario s;
  s.source_path = std::string(file_name);
  s.name = text(root, "name", "", true);
  if (s.name.empty()) fail("/name", "expected a non-empty string");
  s.description = text(root, "description", "", false);
  s.seed = integer(root, "seed", "", 0, UINT64_MAX, 1);
  s.cluster = parse_cluster(root);
  s.network = parse_network(root);
  s.workload = parse_workload(root);
  s.duration_ns = sim::from_ms(number(root, "duration_ms", "", 1e-6, kMsMax, 60000));
  s.liveness_bound_ns = sim::from_ms(number(root, "liveness_bound_ms", "", 0, kMsMax, 30000));
  s.max_events = integer(root, "max_events", "", 1, UINT64_MAX, 50'000'000);
  if (root.contains("faults")) {
    const json& faults = root["faults"];
    if (!faults.is_array()) fail("/faults", "expected an array of faults, got " + show(faults));
    for (std::size_t i = 0; i < faults.size(); ++i) {
      s.faults.push_back(parse_fault(faults[i], "/faults/" + std::to_string(i), s.cluster.n, s.workload.clients));
    }
  }
  if (root.contains("expect")) {
    const json& e = object_at(root, "expect", "");
    only_fields(e, "/expect", {"safety", "liveness"});
    s.expect.safety = parse_expect_value(e, "safety");
    s.expect.liveness = parse_expect_value(e, "liveness");
  }
  const auto [path, message] = memory_problem(s);
  if (!message.empty()) fail(path, message);
  return s;
}

// nlohmann/json keeps the last of two equal keys without a word. A scenario that says
// "from_ms" twice is a mistake the user should hear about, so the parse callback tracks the
// JSON pointer of the current position and remembers the first repeated key.
class DuplicateKeyFinder {
 public:
  bool on_event(json::parse_event_t event, const json& parsed) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start: frames_.push_back({true, {}, "", 0}); break;
      case E::array_start: frames_.push_back({false, {}, "", 0}); break;
      case E::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && first_.empty()) first_ = pointer();
        break;
      }
      case E::value: element_done(); break;
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        element_done();
        break;
    }
    return true;
  }
  const std::string& first_duplicate() const { return first_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;      // object: the current key
    std::size_t index;    // array: the current element
  };
  void element_done() {
    if (!frames_.empty() && !frames_.back().object) frames_.back().index++;
  }
  std::string pointer() const {
    std::string out;
    for (const auto& f : frames_) out += "/" + (f.object ? escape_pointer(f.key) : std::to_string(f.index));
    return out;
  }
  std::vector<Frame> frames_;
  std::string first_;
};

void line_and_column(std::string_view text, std::size_t offset, int& line, int& column) {
  line = 1;
  column = 1;
  for (std::size_t i = 0; i < text.size() && i + 1 < offset; ++i) {
    if (text[i] == '\n') { line++; column = 1; } else { column++; }
  }
}

}  // namespace

MemoryEstimate estimate_run_memory(const Scenario& s) {
  // Fitted on measured peaks (GNU time's maximum resident set size), see the docs.
  constexpr double kBaseBytes = 16.0 * (1 << 20);  // the binary, the heap's start, OpenSSL
  constexpr double kKeyBytesPerPair = 44;           // per node, per peer node: HMAC states, keys
  constexpr double kVoteBytes = 160;                // a PREPARE or COMMIT without its authenticator, and its bookkeeping
  constexpr double kMacEntryBytes = 40;             // one receiver's entry in a MAC authenticator
  constexpr double kSignatureBytes = 64;
  constexpr double kEventBytes = 64;                // a delivery in the event queue
  const double n = s.cluster.n;
  const double protocol_clients = double(s.workload.clients) * s.workload.outstanding;
  const double nodes = n + protocol_clients;
  MemoryEstimate e;
  e.key_bytes = kKeyBytesPerPair * nodes * nodes;
  double auth = 0;
  switch (s.cluster.auth) {
    case protocol::AuthMode::Mac: auth = kMacEntryBytes * n; break;
    case protocol::AuthMode::Signature: auth = kSignatureBytes; break;
    case protocol::AuthMode::None: auth = 0; break;
  }
  // Sequence numbers live in a replica's log at once: its window, or all the run assigns.
  const double requests = double(s.workload.clients) * s.workload.requests_per_client;
  const double slots = std::max(1.0, std::min<double>(double(s.cluster.log_window), requests));
  // Each replica keeps, per slot, a PREPARE and a COMMIT from every replica.
  e.log_bytes = n * slots * 2 * n * (kVoteBytes + auth);
  // Each request in flight is multicast to n replicas by n replicas, a few rounds at once.
  const double in_flight_requests = std::min(protocol_clients, slots * s.cluster.batch_size_max);
  e.in_flight_bytes = kEventBytes * 3 * n * n * in_flight_requests;
  // A view change: each replica holds a VIEW-CHANGE from every replica, each with a P and a
  // Q entry (48 bytes each) per slot and one authenticator, and a NEW-VIEW whose O holds a
  // PRE-PREPARE per slot. Before the TOCS '02 view change a VIEW-CHANGE carried whole
  // certificates and this term was n^3 x L: 3.0 GB at n = 32; now it is small next to the log.
  constexpr double kClaimBytes = 48;
  e.view_change_bytes = n * n * (slots * 2 * kClaimBytes + auth) + n * slots * (kVoteBytes + auth);
  e.total_bytes = kBaseBytes + e.key_bytes + e.log_bytes + e.in_flight_bytes + e.view_change_bytes;
  return e;
}

std::pair<std::string, std::string> memory_problem(const Scenario& s) {
  const MemoryEstimate e = estimate_run_memory(s);
  if (e.total_bytes <= kRunMemoryBytesMax) return {"", ""};
  std::string path, fields;
  if (e.key_bytes >= e.log_bytes && e.key_bytes >= e.in_flight_bytes) {
    path = "/workload/clients";
    fields = "(n + clients x outstanding)^2 = (" + std::to_string(s.cluster.n) + " + " +
             std::to_string(s.workload.clients) + " x " + std::to_string(s.workload.outstanding) +
             ")^2 nodes' keys take " + show_bytes(e.key_bytes) +
             "; lower workload.clients or workload.outstanding";
  } else if (e.view_change_bytes >= e.log_bytes && e.view_change_bytes >= e.in_flight_bytes) {
    path = "/cluster/n";
    fields = "a view change at n = " + std::to_string(s.cluster.n) + " (each replica holding n VIEW-CHANGEs, " +
             "each with two entries for each of min(log_window, requests) sequence numbers, and a NEW-VIEW " +
             "with a PRE-PREPARE for each) takes " + show_bytes(e.view_change_bytes) +
             (s.cluster.auth == protocol::AuthMode::Mac ? " (MAC authenticators grow with n)" : "") +
             "; lower cluster.n or cluster.log_window";
  } else if (e.log_bytes >= e.in_flight_bytes) {
    path = "/cluster/n";
    fields = "n = " + std::to_string(s.cluster.n) + " replicas each holding n PREPAREs and COMMITs for each of " +
             "min(log_window, requests) sequence numbers take " + show_bytes(e.log_bytes) +
             (s.cluster.auth == protocol::AuthMode::Mac ? " (MAC authenticators grow with n)" : "") +
             "; lower cluster.n or cluster.log_window";
  } else {
    path = "/workload/outstanding";
    fields = "messages in flight for " + std::to_string(s.workload.clients) + " x " +
             std::to_string(s.workload.outstanding) + " outstanding requests at n = " + std::to_string(s.cluster.n) +
             " take " + show_bytes(e.in_flight_bytes) + "; lower workload.outstanding or workload.clients";
  }
  return {path, "expected a run within the harness's memory limit of " + show_bytes(kRunMemoryBytesMax) +
                    ", estimated " + show_bytes(e.total_bytes) + ": " + fields +
                    " (docs/scenario-format.md, Resource limits)"};
}

ScenarioResult parse_scenario(std::string_view text_in, std::string_view file_name) {
  const std::string file = file_name.empty() ? "<string>" : std::string(file_name);
  json root;
  DuplicateKeyFinder duplicates;
  try {
    root = json::parse(
        text_in.begin(), text_in.end(),
        [&duplicates](int, json::parse_event_t event, json& parsed) { return duplicates.on_event(event, parsed); },
        true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    ScenarioError err{file, "", "", 0, 0};
    line_and_column(text_in, e.byte, err.line, err.column);
    std::string what = e.what();
    const auto colon = what.find("syntax error");
    err.message = colon == std::string::npos ? what : what.substr(colon);
    return err;
  } catch (const json::exception& e) {
    // Not every refusal of the JSON reader is a parse_error: a number too large for a
    // double (1e400) is an out_of_range, which would otherwise escape this function.
    std::string what = e.what();
    const auto bracket = what.find("] ");
    return ScenarioError{file, "", bracket == std::string::npos ? what : what.substr(bracket + 2), 0, 0};
  }
  if (!duplicates.first_duplicate().empty()) {
    return ScenarioError{file, duplicates.first_duplicate(), "duplicate key: each field may appear only once", 0, 0};
  }
  try {
    return parse_root(root, file_name);
  } catch (const Problem& p) {
    return ScenarioError{file, p.path.empty() ? "/" : p.path, p.message, 0, 0};
  } catch (const std::exception& e) {
    return ScenarioError{file, "/", std::string("invalid scenario: ") + e.what(), 0, 0};
  }
}

ScenarioResult load_scenario_file(const std::string& path) {
  // Read by hand with a bound: "/dev/zero" or a FIFO would otherwise be read until memory
  // runs out, and a directory would read as an empty file ("unexpected end of input").
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ScenarioError{path, "", "cannot read file: " + std::string(std::strerror(errno)), 0, 0};
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return ScenarioError{path, "", "is a directory, expected a scenario file (suite and validate take directories)", 0, 0};
  }
  std::string text;
  char buf[65536];
  while (text.size() <= kScenarioFileBytesMax) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const std::string why = std::strerror(errno);
      close(fd);
      return ScenarioError{path, "", "cannot read file: " + why, 0, 0};
    }
    if (got == 0) break;
    text.append(buf, static_cast<std::size_t>(got));
  }
  close(fd);
  if (text.size() > kScenarioFileBytesMax) {
    return ScenarioError{path, "", "file larger than the limit of " + std::to_string(kScenarioFileBytesMax >> 20) +
                                       " MiB for a scenario", 0, 0};
  }
  return parse_scenario(text, path);
}

std::variant<std::vector<std::string>, ScenarioError> expand_scenario_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") found.push_back(entry.path().string());
      }
      if (ec) return ScenarioError{p, "", "cannot read directory: " + ec.message(), 0, 0};
      if (found.empty()) return ScenarioError{p, "", "no scenario found (no *.json file in this directory)", 0, 0};
      std::sort(found.begin(), found.end());  // byte order: the same on every machine
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      return ScenarioError{p, "", "no such file or directory", 0, 0};
    }
  }
  return out;
}

}  // namespace harness
