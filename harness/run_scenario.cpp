// One run of a scenario. See run_scenario.h.
#include "harness/run_scenario.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <vector>

#include "harness/latency_histogram.h"
#include "harness/workload.h"
#include "host/cluster.h"
#include "host/network_links.h"
#include "oracles/liveness.h"

namespace harness {
namespace {

using protocol::MessageKind;
using protocol::NodeId;
using sim::TimeNs;

// The last fault change inside the run: liveness is judged from there (oracles/liveness.h).
// A crash ends when the replica restarts; other faults at until_ms.
sim::TimeNs settled_ns(const Scenario& scenario) {
  std::vector<oracles::FaultTiming> timings;
  for (const auto& f : scenario.faults) {
    timings.push_back({f.from_ns, f.kind == FaultKind::Crash ? f.restart_ns : f.until_ns});
  }
  return oracles::last_fault_change_ns(timings, scenario.duration_ns);
}

constexpr std::uint32_t kClientStart = 1;  // the host's alarm: a client may submit its next request

// The scenario's workload on the host: each protocol client submits its next request when
// it is free (at the start, then a think time after each completion), until its quota is
// issued; completions are timed for the latency figures and the liveness judge.
class ScenarioRun final : public host::Observer {
 public:
  ScenarioRun(const Scenario& scenario, const RunOptions& options);
  RunReport run();

  void on_completed(NodeId client, const protocol::note::Completed& done) override;
  void on_alarm(std::uint32_t tag, NodeId target) override;

 private:
  host::ClusterOptions cluster_options();
  bool issued_operation(protocol::ClientId c, protocol::Timestamp t, protocol::Bytes& op) const;
  RunReport build_report(const std::string& stop_reason);

  const Scenario& scenario_;
  RunOptions options_;
  WorkloadLayout workload_;
  std::uint64_t requests_total_;  // workload_.total(), asked after every event
  std::vector<std::uint64_t> issued_;
  std::vector<protocol::Bytes> issued_op_;  // per client: the operation of its latest request
  std::vector<TimeNs> sent_at_ns_;
  host::NetworkLinks links_;
  host::Cluster cluster_;
  oracles::LivenessJudge liveness_;
  std::uint64_t completed_ = 0;
  std::uint64_t steps_ = 0;  // events stepped, for the progress calls
  LatencyHistogram latency_;
  std::vector<Completion> completions_;
};

ScenarioRun::ScenarioRun(const Scenario& scenario, const RunOptions& options)
    : scenario_(scenario),
      options_(options),
      workload_(layout_workload(scenario)),
      requests_total_(workload_.total()),
      issued_(workload_.protocol_clients, 0),
      issued_op_(workload_.protocol_clients),
      sent_at_ns_(workload_.protocol_clients, 0),
      links_(scenario.network, scenario.faults, scenario.cluster.n, options.seed, scenario.duration_ns),
      cluster_(cluster_options(), links_, this),
      liveness_(settled_ns(scenario), std::max<sim::DurationNs>(1, scenario.liveness_bound_ns)) {
  assert(workload_.first_node == scenario.cluster.n);
}

host::ClusterOptions ScenarioRun::cluster_options() {
  host::ClusterOptions o;
  o.config = scenario_.cluster;
  o.clients = workload_.protocol_clients;
  o.seed = options_.seed;
  o.faults = scenario_.faults;
  o.client_slots = workload_.outstanding;
  o.defect = options_.defect;
  o.record_trace = options_.record_trace;
  o.issued = [this](protocol::ClientId c, protocol::Timestamp t, protocol::Bytes& op) {
    return issued_operation(c, t, op);
  };
  return o;
}

bool ScenarioRun::issued_operation(protocol::ClientId c, protocol::Timestamp t, protocol::Bytes& op) const {
  if (c < workload_.first_node || c >= workload_.first_node + workload_.protocol_clients) return false;
  const std::uint32_t i = c - workload_.first_node;
  if (t == 0 || t > issued_[i]) return false;
  // Usually the request in flight: its operation is kept, not rebuilt.
  if (t == issued_[i]) {
    op.assign(issued_op_[i].begin(), issued_op_[i].end());
  } else {
    op = workload_operation(options_.seed, c, t, scenario_.workload.keys);
  }
  return true;
}

RunReport ScenarioRun::run() {
  const TimeNs start_ns = sim::from_ms(scenario_.workload.start_ms);
  for (std::uint32_t c = 0; c < workload_.protocol_clients; ++c) {
    cluster_.set_alarm(start_ns, kClientStart, workload_.first_node + c);
  }
  cluster_.start();
  std::string stop = "quiescent";
  while (true) {
    // After the last request completes, let the messages in flight arrive, so that every
    // replica's final state reflects everything the network delivered.
    if (completed_ == requests_total_ && cluster_.in_flight() == 0) { stop = "completed"; break; }
    if (cluster_.idle()) break;
    if (cluster_.next_time_ns() > scenario_.duration_ns) { stop = "time_limit"; break; }
    if (cluster_.events() >= scenario_.max_events) { stop = "event_budget"; break; }
    cluster_.step();
    if (options_.progress && (++steps_ & (kProgressEvents - 1)) == 0) {
      options_.progress({cluster_.now_ns(), completed_, requests_total_, cluster_.events()});
    }
  }
  return build_report(stop);
}

void ScenarioRun::on_alarm(std::uint32_t tag, NodeId node) {
  assert(tag == kClientStart);
  (void)tag;
  const std::uint32_t c = node - workload_.first_node;
  if (issued_[c] >= workload_.quota(node) || cluster_.client(node).busy()) return;
  issued_[c]++;
  sent_at_ns_[c] = cluster_.now_ns();
  issued_op_[c] = workload_operation(options_.seed, node, issued_[c], scenario_.workload.keys);
  cluster_.submit(node, issued_op_[c]);
  assert(cluster_.client(node).last_timestamp() == issued_[c]);
}

void ScenarioRun::on_completed(NodeId node, const protocol::note::Completed& done) {
  (void)done;
  const std::uint32_t c = node - workload_.first_node;
  const TimeNs now = cluster_.now_ns();
  completed_++;
  latency_.add(now - sent_at_ns_[c]);
  liveness_.on_completion(sent_at_ns_[c], now);
  if (options_.record_trace) completions_.push_back({now, now - sent_at_ns_[c]});
  cluster_.set_alarm(now + sim::from_ms(scenario_.workload.think_ms), kClientStart, node);
}

bool matches(Expect expect, bool holds) {
  return expect == Expect::Any || (expect == Expect::Holds) == holds;
}

RunReport ScenarioRun::build_report(const std::string& stop_reason) {
  const protocol::PbftConfig& config = cluster_.config();
  const host::Counters& counters = cluster_.counters();
  RunReport rep;
  rep.scenario = scenario_.name;
  rep.scenario_path = scenario_.source_path;
  rep.seed = options_.seed;
  rep.stop_reason = stop_reason;
  rep.n = config.n;
  rep.f = config.f;
  rep.clients = scenario_.workload.clients;
  rep.faulty_replicas.assign(cluster_.faulty().begin(), cluster_.faulty().end());
  rep.expect_safety = expect_name(scenario_.expect.safety);
  rep.expect_liveness = expect_name(scenario_.expect.liveness);
  cluster_.checker().finish(cluster_.now_ns());
  rep.violations = cluster_.checker().violations();
  rep.safety_holds = rep.violations.empty();
  rep.submitted = workload_.total();
  rep.completed = completed_;
  const auto verdict = liveness_.verdict(workload_.total());
  rep.liveness_holds = verdict.holds;
  rep.liveness_detail = verdict.detail;
  auto& st = rep.stats;
  st.events = cluster_.events();
  st.messages_sent = counters.sent;
  st.messages_delivered = counters.delivered;
  st.messages_dropped = counters.dropped;
  st.messages_rejected = counters.rejected;
  st.view_changes = counters.views_entered.size();
  st.virtual_time_ns = cluster_.now_ns();
  st.max_log_entries = counters.max_log_entries;
  st.state_transfers = counters.state_transfers;
  bool first = true;
  for (protocol::ReplicaId r = 0; r < config.n; ++r) {
    const protocol::Replica* replica = cluster_.replica(r);
    if (cluster_.is_faulty(r) || replica == nullptr) continue;
    st.final_view = std::max<std::uint64_t>(st.final_view, replica->view());
    st.executed_seq = first ? replica->last_executed() : std::min<std::uint64_t>(st.executed_seq, replica->last_executed());
    st.stable_checkpoint = std::max<std::uint64_t>(st.stable_checkpoint, replica->low_watermark());
    rep.replica_digests[r] = replica->current_state_digest().short_hex();
    rep.replica_executed[r] = replica->last_executed();
    first = false;
  }
  st.latency = {latency_.percentile(0.5), latency_.percentile(0.9), latency_.percentile(0.99), latency_.max()};
  for (std::uint32_t k = 1; k <= protocol::kMessageKindMax; ++k) {
    if (counters.sent_by_kind[k] != 0) {
      st.sent_by_kind[protocol::message_kind_name(static_cast<MessageKind>(k))] = counters.sent_by_kind[k];
      st.sent_bytes_by_kind[protocol::message_kind_name(static_cast<MessageKind>(k))] = counters.sent_bytes_by_kind[k];
    }
  }
  for (std::uint32_t k = 0; k < protocol::kRejectReasons; ++k) {
    if (counters.rejected_by_reason[k] != 0) {
      st.rejected_by_reason[protocol::reject_reason_name(static_cast<protocol::RejectReason>(k))] =
          counters.rejected_by_reason[k];
    }
  }
  rep.fingerprint = cluster_.trace().fingerprint_hex();
  if (options_.crypto_out != nullptr) cluster_.add_crypto_counters(*options_.crypto_out);
  for (const auto& m : counters.timeline) {
    rep.timeline.push_back({m.time_ns, m.replica, host::timeline_kind_name(m.kind), m.value});
  }
  rep.completions = std::move(completions_);
  if (options_.record_trace) {
    rep.trace = cluster_.take_trace_records();
    for (const auto& f : scenario_.faults) {
      if (f.from_ns > cluster_.now_ns()) continue;  // the run ended before it began
      std::string who;
      for (auto r : f.replicas) {
        if (!who.empty()) who += ",";
        who += std::to_string(r);
      }
      if (f.replicas_is_primary) who = "primary";
      const sim::TimeNs end = f.kind == FaultKind::Crash && f.restart_ns ? *f.restart_ns : f.until_ns.value_or(cluster_.now_ns());
      rep.faults.push_back({fault_kind_name(f.kind), who, f.from_ns, std::min<sim::TimeNs>(end, cluster_.now_ns())});
    }
  }
  rep.replay_command = replay_command(scenario_, options_.seed, options_.defect);
  const bool ok = matches(scenario_.expect.safety, rep.safety_holds) &&
                  matches(scenario_.expect.liveness, rep.liveness_holds);
  rep.outcome = ok ? "pass" : "fail";
  if (stop_reason == "event_budget") {
    rep.outcome = "error";
    rep.harness_error = "the run exceeded its event budget of " + std::to_string(scenario_.max_events) + " events";
  }
  return rep;
}

}  // namespace

std::string replay_command(const Scenario& scenario, std::uint64_t seed, protocol::Defect defect) {
  const std::string file = scenario.source_path.empty() ? "SCENARIO.json" : scenario.source_path;
  std::string line = "pbftsim run " + file + " --seed " + std::to_string(seed);
  if (defect != protocol::Defect::None) line += std::string(" --defect ") + protocol::defect_name(defect);
  return line;
}

RunReport run_scenario(const Scenario& scenario, const RunOptions& options) {
  try {
    ScenarioRun run(scenario, options);
    return run.run();
  } catch (const std::exception& e) {
    RunReport rep;
    rep.scenario = scenario.name;
    rep.scenario_path = scenario.source_path;
    rep.seed = options.seed;
    rep.outcome = "error";
    rep.harness_error = std::string("the run threw: ") + e.what();
    rep.replay_command = replay_command(scenario, options.seed, options.defect);
    return rep;
  }
}

}  // namespace harness
