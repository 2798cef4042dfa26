#include "harness/scenario_writer.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace harness {
namespace {

using ojson = nlohmann::ordered_json;

// ns -> ms, exact: whole milliseconds are written as integers, anything else as a double
// that sim::from_ms rounds back to the same ns. Below about 4e9 ms ns / 1e6 is that double;
// above, two roundings can land one ns off (8766825514.3994827 ms is 8766825514399484 ns,
// which ns / 1e6 would bring back as ...486), and a neighbouring double is the one. One
// exists: ns came from from_ms of some double, within an ulp of ns / 1e6.
ojson ms(sim::DurationNs ns) {
  if (ns % 1'000'000 == 0) return ojson(ns / 1'000'000);
  const double near = static_cast<double>(ns) / 1e6;
  double below = near, above = near;
  constexpr int kUlpsMax = 4;  // one was always enough when measured; a margin
  for (int i = 0; i <= kUlpsMax; ++i) {
    if (sim::from_ms(below) == ns) return ojson(below);
    if (sim::from_ms(above) == ns) return ojson(above);
    below = std::nextafter(below, 0.0);
    above = std::nextafter(above, HUGE_VAL);
  }
  return ojson(near);
}

ojson latency(const sim::LatencyModel& m) {
  using D = sim::LatencyModel::Dist;
  switch (m.dist) {
    case D::Constant: return {{"dist", "constant"}, {"value", m.value_ms}};
    case D::Uniform: return {{"dist", "uniform"}, {"min", m.min_ms}, {"max", m.max_ms}};
    case D::Exponential: return {{"dist", "exponential"}, {"mean", m.mean_ms}};
    case D::Lognormal: return {{"dist", "lognormal"}, {"median", m.median_ms}, {"sigma", m.sigma}};
  }
  return {};
}

const char* auth_name(protocol::AuthMode mode) { return protocol::auth_mode_name(mode); }

ojson cluster(const protocol::PbftConfig& c) {
  return {{"n", c.n},
          {"f", c.f},
          {"auth", auth_name(c.auth)},
          {"batch_size", c.batch_size_max},
          {"batch_delay_ms", ms(c.batch_delay_ns)},
          {"checkpoint_interval", c.checkpoint_interval},
          {"log_window", c.log_window},
          {"view_change_timeout_ms", ms(c.view_change_timeout_ns)},
          {"client_timeout_ms", ms(c.client_retry_timeout_ns)},
          {"state_fetch_timeout_ms", ms(c.state_fetch_timeout_ns)}};
}

ojson fault(const FaultSpec& f) {
  ojson o;
  o["kind"] = fault_kind_name(f.kind);
  if (f.replicas_is_primary) {
    o["replicas"] = "primary";
  } else if (!f.replicas.empty() || f.kind != FaultKind::Partition) {
    o["replicas"] = f.replicas;
  }
  o["from_ms"] = ms(f.from_ns);
  if (f.kind == FaultKind::Crash) {
    if (f.restart_ns) o["restart_ms"] = ms(*f.restart_ns);
    return o;  // a crash has no until_ms: it ends when the replica restarts (or never)
  }
  if (f.until_ns) o["until_ms"] = ms(*f.until_ns);
  switch (f.kind) {
    case FaultKind::Equivocate:
      if (!f.split.empty()) o["split"] = f.split;
      if (!f.colluders.empty()) o["colluders"] = f.colluders;
      break;
    case FaultKind::Withhold: o["to"] = f.to; break;
    case FaultKind::Corrupt: o["probability"] = f.probability; break;
    case FaultKind::Drop:
      o["probability"] = f.probability;
      if (!f.to.empty()) o["to"] = f.to;
      break;
    case FaultKind::Replay: o["rate"] = f.rate_per_s; break;
    case FaultKind::Delay:
      if (f.extra_latency) {
        o["latency_ms"] = latency(*f.extra_latency);
      } else {
        o["extra_ms"] = f.extra_ms;
      }
      if (!f.to.empty()) o["to"] = f.to;
      break;
    case FaultKind::Partition:
      o["groups"] = f.groups;
      if (!f.to.empty()) o["to"] = f.to;
      break;
    case FaultKind::TimerSkew: o["factor"] = f.factor; break;
    case FaultKind::Censor: o["clients"] = f.clients; break;
    case FaultKind::BadViewChange:
    case FaultKind::BadState:
      if (!f.variants.empty()) o["variants"] = f.variants;
      break;
    case FaultKind::DoublePrePrepare:
      if (!f.to.empty()) o["to"] = f.to;
      break;
    default: break;
  }
  return o;
}

const char* expect_text(Expect e) { return expect_name(e); }

}  // namespace

std::string scenario_to_json(const Scenario& s) {
  ojson root;
  root["name"] = s.name;
  if (!s.description.empty()) root["description"] = s.description;
  root["seed"] = s.seed;
  root["cluster"] = cluster(s.cluster);
  root["network"] = {{"latency_ms", latency(s.network.latency)},
                     {"drop", s.network.drop_probability},
                     {"duplicate", s.network.duplicate_probability}};
  root["workload"] = {{"clients", s.workload.clients},
                      {"requests_per_client", s.workload.requests_per_client},
                      {"outstanding", s.workload.outstanding},
                      {"keys", s.workload.keys},
                      {"start_ms", s.workload.start_ms},
                      {"think_ms", s.workload.think_ms}};
  ojson faults = ojson::array();
  for (const auto& f : s.faults) faults.push_back(fault(f));
  root["faults"] = std::move(faults);
  root["duration_ms"] = ms(s.duration_ns);
  root["liveness_bound_ms"] = ms(s.liveness_bound_ns);
  root["max_events"] = s.max_events;
  root["expect"] = {{"safety", expect_text(s.expect.safety)}, {"liveness", expect_text(s.expect.liveness)}};
  return root.dump(2) + "\n";
}

}  // namespace harness
