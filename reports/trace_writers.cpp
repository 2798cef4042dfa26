// The trace as JSON lines and as a Perfetto trace. See trace_writers.h.
#include "reports/trace_writers.h"

#include <algorithm>
#include <deque>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "pbftsim_version.h"
#include "protocol/io.h"
#include "protocol/message.h"

namespace reports {

namespace {

using ojson = nlohmann::ordered_json;
using sim::NoteKind;
using sim::TraceKind;

using sim::hex16;

const char* drop_cause(std::uint64_t a) {
  switch (a) {
    case 0: return "lost by the network";
    case 1: return "the receiver is down";
    case 2: return "dropped by a fault";
    default: return "lost";
  }
}

const char* reject_reason(std::uint64_t a) {
  return a < protocol::kRejectReasons ? protocol::reject_reason_name(static_cast<protocol::RejectReason>(a)) : "unknown";
}

bool is_message_event(TraceKind k) {
  return k == TraceKind::Send || k == TraceKind::Deliver || k == TraceKind::Drop || k == TraceKind::Reject;
}

}  // namespace

std::string tag_name(const sim::TraceRecord& rec) {
  const auto& e = rec.event;
  if (is_message_event(e.kind)) {
    if (e.tag == 0 || e.tag > protocol::kMessageKindMax) return "undecodable";
    return protocol::message_kind_name(static_cast<protocol::MessageKind>(e.tag));
  }
  if (e.kind == TraceKind::Timer && e.tag < protocol::kTimerKinds) {
    return protocol::timer_kind_name(static_cast<protocol::TimerKind>(e.tag));
  }
  if (e.kind == TraceKind::Note) return sim::note_kind_name(rec.note);
  return "";
}

std::string describe(const sim::TraceRecord& rec) {
  const auto& e = rec.event;
  const std::string from = std::to_string(e.from), to = std::to_string(e.to);
  const std::string what = rec.summary.empty() ? tag_name(rec) : rec.summary;
  switch (e.kind) {
    case TraceKind::Send: return from + " sends to " + to + ": " + what;
    case TraceKind::Deliver: return to + " receives from " + from + ": " + what;
    case TraceKind::Drop: return from + " -> " + to + " " + drop_cause(e.a) + ": " + what;
    case TraceKind::Reject:
      return to + " rejects " + tag_name(rec) + " from " + from + " (" + reject_reason(e.a) + ")" +
             (rec.summary.empty() ? "" : ": " + rec.summary);
    case TraceKind::Timer: return to + "'s " + tag_name(rec) + " timer fires";
    case TraceKind::Execute: return to + " executes seq " + std::to_string(e.a) + " (view " + std::to_string(e.b) + ")";
    case TraceKind::Fault:
    case TraceKind::Note:
      if (rec.note == NoteKind::FaultStarted || rec.note == NoteKind::FaultEnded) return rec.summary;
      return to + ": " + rec.summary;
  }
  return rec.summary;
}

std::string trace_jsonl(const harness::RunReport& r) {
  std::string out;
  ojson head;
  head["kind"] = "header";
  head["format"] = "pbftsim-trace";
  head["format_version"] = 2;
  head["pbftsim_version"] = PBFTSIM_VERSION;
  head["scenario"] = r.scenario;
  head["scenario_path"] = r.scenario_path;
  head["seed"] = r.seed;
  head["n"] = r.n;
  head["f"] = r.f;
  head["events"] = r.trace.size();
  head["fingerprint"] = r.fingerprint;
  head["fingerprint_scheme"] =
      "pbftsim/v1: sim::hash_chain (wyhash-style mum step) from 0x9e3779b97f4a7c15 over (t, kind<<32|tag), "
      "(from<<32|to, payload hash), (a, b) of every event in order; a reject folds hash 0";
  head["replay"] = r.replay_command;
  out += head.dump();
  out.push_back('\n');
  for (const auto& rec : r.trace) {
    const auto& e = rec.event;
    ojson j;
    j["t"] = e.time_ns;
    j["kind"] = sim::trace_kind_name(e.kind);
    j["from"] = e.from;
    j["to"] = e.to;
    j["tag"] = e.tag;
    j["what"] = tag_name(rec);
    j["hash"] = hex16(rec.shown_hash);
    j["a"] = e.a;
    j["b"] = e.b;
    if (e.kind == TraceKind::Reject) j["reason"] = reject_reason(e.a);
    if (!rec.summary.empty()) j["msg"] = rec.summary;
    j["summary"] = describe(rec);
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back('\n');
  }
  return out;
}

namespace {

// Chrome trace-event JSON (the format ui.perfetto.dev and chrome://tracing read): pids and
// tids are small integers; every process and thread is named by a metadata event.
constexpr int kViewsTid = 1;     // in a replica's process: its views and view changes
constexpr int kMessagesTid = 2;  // in a replica's process: what it sends and receives
constexpr int kStateTid = 3;     // in a replica's process: checkpoints, state transfers, restarts
constexpr std::uint32_t kClientThreadsMax = 16;  // more clients share lanes

double us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }

struct Writer {
  ojson events = ojson::array();
  void meta(int pid, int tid, const char* what, const std::string& name) {
    ojson m{{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", what}, {"args", {{"name", name}}}};
    events.push_back(std::move(m));
  }
  void slice(int pid, int tid, const std::string& name, const char* cat, std::int64_t from_ns, std::int64_t to_ns,
             ojson args = ojson::object()) {
    ojson x{{"ph", "X"}, {"pid", pid}, {"tid", tid}, {"name", name}, {"cat", cat}, {"ts", us(from_ns)},
            {"dur", us(std::max<std::int64_t>(0, to_ns - from_ns))}, {"args", std::move(args)}};
    events.push_back(std::move(x));
  }
  void instant(int pid, int tid, const std::string& name, const char* cat, std::int64_t at_ns, const char* scope,
               ojson args = ojson::object()) {
    ojson i{{"ph", "i"}, {"pid", pid}, {"tid", tid}, {"name", name}, {"cat", cat}, {"ts", us(at_ns)}, {"s", scope},
            {"args", std::move(args)}};
    events.push_back(std::move(i));
  }
  void flow(char ph, std::uint64_t id, int pid, int tid, const std::string& name, std::int64_t at_ns) {
    ojson f{{"ph", std::string(1, ph)}, {"id", id}, {"pid", pid}, {"tid", tid}, {"name", name}, {"cat", "message"},
            {"ts", us(at_ns)}};
    if (ph == 'f') f["bp"] = "e";  // binds to the slice the delivery opens
    events.push_back(std::move(f));
  }
};

}  // namespace

std::string perfetto_json(const harness::RunReport& r) {
  Writer w;
  const int clients_pid = static_cast<int>(r.n) + 1;
  const int faults_pid = static_cast<int>(r.n) + 2;
  const int oracles_pid = static_cast<int>(r.n) + 3;
  const auto pid_of = [&](std::uint32_t node) { return node < r.n ? static_cast<int>(node) + 1 : clients_pid; };
  const auto client_tid = [&](std::uint32_t node) { return static_cast<int>((node - r.n) % kClientThreadsMax) + 1; };
  const auto tid_of = [&](std::uint32_t node) { return node < r.n ? kMessagesTid : client_tid(node); };

  for (std::uint32_t rep = 0; rep < r.n; ++rep) {
    const int pid = static_cast<int>(rep) + 1;
    const bool faulty = std::find(r.faulty_replicas.begin(), r.faulty_replicas.end(), rep) != r.faulty_replicas.end();
    w.meta(pid, 0, "process_name", "replica " + std::to_string(rep) + (faulty ? " (faulty)" : ""));
    w.events.push_back(ojson{{"ph", "M"}, {"pid", pid}, {"tid", 0}, {"name", "process_sort_index"},
                             {"args", {{"sort_index", rep}}}});
    w.meta(pid, kViewsTid, "thread_name", "views");
    w.meta(pid, kMessagesTid, "thread_name", "messages");
    w.meta(pid, kStateTid, "thread_name", "checkpoints and state");
  }
  w.meta(clients_pid, 0, "process_name", "clients");
  std::uint32_t client_nodes = 0;
  for (const auto& rec : r.trace) {
    client_nodes = std::max(client_nodes, std::max(rec.event.from, rec.event.to) + 1);
  }
  const std::uint32_t clients = client_nodes > r.n ? client_nodes - r.n : 0;
  for (std::uint32_t lane = 0; lane < std::min(clients, kClientThreadsMax); ++lane) {
    std::string name = "client " + std::to_string(r.n + lane);
    if (clients > kClientThreadsMax) {
      name = "clients " + std::to_string(r.n + lane) + ", " + std::to_string(r.n + lane + kClientThreadsMax) + ", ...";
    }
    w.meta(clients_pid, static_cast<int>(lane) + 1, "thread_name", name);
  }
  w.meta(faults_pid, 0, "process_name", "faults");
  w.meta(oracles_pid, 0, "process_name", "oracles");
  w.meta(oracles_pid, 1, "thread_name", "violations");

  // Views: a slice per view a replica is in, and one per view change in progress.
  const std::int64_t end_ns = r.stats.virtual_time_ns;
  std::vector<std::int64_t> since(r.n, 0);
  std::vector<std::uint64_t> view(r.n, 0);
  std::vector<bool> changing(r.n, false);
  std::vector<bool> down(r.n, false);
  const auto close_view = [&](std::uint32_t rep, std::int64_t t) {
    if (down[rep]) return;
    const int pid = static_cast<int>(rep) + 1;
    if (changing[rep]) {
      w.slice(pid, kViewsTid, "view change to " + std::to_string(view[rep]), "view_change", since[rep], t,
              {{"view", view[rep]}});
    } else {
      w.slice(pid, kViewsTid, "view " + std::to_string(view[rep]), "view", since[rep], t, {{"view", view[rep]}});
    }
  };

  // Closes the slice replica `rep` was in and opens the next (a view, or a view change to it).
  const auto open_view = [&](std::uint32_t rep, std::int64_t t, std::uint64_t v, bool change) {
    close_view(rep, t);
    view[rep] = v;
    changing[rep] = change;
    since[rep] = t;
  };

  // Crashes are timeline marks, not trace events: taken in time order as the records go by.
  // A crashed replica is in no view until it restarts (its restart note reopens one).
  std::vector<const harness::TimelineMark*> crashes;
  for (const auto& m : r.timeline) {
    if (m.kind == "crash" && m.replica < r.n) crashes.push_back(&m);
  }
  std::size_t next_crash = 0;
  const auto crash_until = [&](std::int64_t t) {
    for (; next_crash < crashes.size() && crashes[next_crash]->time_ns <= t; ++next_crash) {
      const auto& m = *crashes[next_crash];
      close_view(m.replica, m.time_ns);
      down[m.replica] = true;
      w.instant(static_cast<int>(m.replica) + 1, kStateTid, "crashed", "crash", m.time_ns, "t");
    }
  };

  // Messages: a flow from each send to the delivery (or loss) of that copy, matched by
  // (from, to, hash) in order.
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>, std::deque<std::uint64_t>> in_flight;
  std::uint64_t next_flow = 1;
  for (const auto& rec : r.trace) {
    const auto& e = rec.event;
    crash_until(e.time_ns);
    const std::string what = tag_name(rec);
    switch (e.kind) {
      case TraceKind::Send: {
        const std::uint64_t id = next_flow++;
        in_flight[{e.from, e.to, rec.shown_hash}].push_back(id);
        w.slice(pid_of(e.from), tid_of(e.from), "send " + what, "message", e.time_ns, e.time_ns,
                {{"to", e.to}, {"msg", rec.summary}, {"hash", hex16(rec.shown_hash)}});
        w.flow('s', id, pid_of(e.from), tid_of(e.from), what, e.time_ns);
        break;
      }
      case TraceKind::Deliver:
      case TraceKind::Drop: {
        auto& q = in_flight[{e.from, e.to, rec.shown_hash}];
        const std::uint64_t id = q.empty() ? 0 : q.front();
        if (!q.empty()) q.pop_front();
        if (e.kind == TraceKind::Deliver) {
          w.slice(pid_of(e.to), tid_of(e.to), "receive " + what, "message", e.time_ns, e.time_ns,
                  {{"from", e.from}, {"msg", rec.summary}, {"hash", hex16(rec.shown_hash)}});
          if (id != 0) w.flow('f', id, pid_of(e.to), tid_of(e.to), what, e.time_ns);
        } else {
          // Lost on the way: marked where it was headed, and the flow ends there.
          w.instant(pid_of(e.to), tid_of(e.to), "lost " + what + " from " + std::to_string(e.from), "dropped",
                    e.time_ns, "t", {{"cause", drop_cause(e.a)}, {"msg", rec.summary}});
          if (id != 0) {
            w.slice(pid_of(e.to), tid_of(e.to), "lost " + what, "dropped", e.time_ns, e.time_ns, {{"from", e.from}});
            w.flow('f', id, pid_of(e.to), tid_of(e.to), what, e.time_ns);
          }
        }
        break;
      }
      case TraceKind::Reject:
        w.instant(pid_of(e.to), tid_of(e.to), "rejected " + what + " (" + reject_reason(e.a) + ")", "rejected",
                  e.time_ns, "t", {{"from", e.from}, {"reason", reject_reason(e.a)}, {"msg", rec.summary},
                                   {"hash", hex16(rec.shown_hash)}});
        break;
      case TraceKind::Execute:
        if (e.to < r.n) {
          w.instant(static_cast<int>(e.to) + 1, kStateTid, "execute " + std::to_string(e.a), "execute", e.time_ns, "t",
                    {{"seq", e.a}, {"view", e.b}});
        }
        break;
      case TraceKind::Timer:
      case TraceKind::Fault: break;
      case TraceKind::Note: {
        if (e.to >= r.n) break;
        const std::uint32_t rep = e.to;
        const int pid = static_cast<int>(rep) + 1;
        switch (rec.note) {
          case NoteKind::ViewChangeStarted: open_view(rep, e.time_ns, e.a, true); break;
          case NoteKind::ViewEntered: open_view(rep, e.time_ns, e.a, false); break;
          case NoteKind::StateTransferred:
            w.instant(pid, kStateTid, "state transfer to " + std::to_string(e.a), "state", e.time_ns, "t", {{"seq", e.a}});
            break;
          case NoteKind::CheckpointAdopted:
            w.instant(pid, kStateTid, "checkpoint " + std::to_string(e.a) + " adopted", "checkpoint", e.time_ns, "t",
                      {{"seq", e.a}});
            break;
          case NoteKind::Restarted:
            w.instant(pid, kStateTid, "restarted with no state", "crash", e.time_ns, "t");
            down[rep] = false;  // nothing to close: it was in no view while down
            view[rep] = 0;
            changing[rep] = false;
            since[rep] = e.time_ns;
            break;
          default: break;
        }
        break;
      }
    }
  }
  for (const auto& m : r.timeline) {
    if (m.replica >= r.n) continue;
    const int pid = static_cast<int>(m.replica) + 1;
    if (m.kind == "stable_checkpoint") {
      w.instant(pid, kStateTid, "stable checkpoint " + std::to_string(m.value), "checkpoint", m.time_ns, "t",
                {{"seq", m.value}});
    }
  }
  crash_until(end_ns);
  for (std::uint32_t rep = 0; rep < r.n; ++rep) close_view(rep, end_ns);

  // Requests: a slice from submission to completion, packed into as few lanes as overlap.
  std::vector<std::int64_t> lane_free;
  for (const auto& c : r.completions) {
    const std::int64_t start = c.time_ns - c.latency_ns;
    std::size_t lane = 0;
    while (lane < lane_free.size() && lane_free[lane] > start) ++lane;
    if (lane == lane_free.size()) {
      lane_free.push_back(0);
      w.meta(clients_pid, 100 + static_cast<int>(lane), "thread_name", "requests " + std::to_string(lane));
    }
    lane_free[lane] = c.time_ns;
    w.slice(clients_pid, 100 + static_cast<int>(lane), "request", "request", start, c.time_ns,
            {{"latency_ms", static_cast<double>(c.latency_ns) / 1e6}});
  }

  // Fault windows, one track each.
  for (std::size_t i = 0; i < r.faults.size(); ++i) {
    const auto& f = r.faults[i];
    const int tid = static_cast<int>(i) + 1;
    w.meta(faults_pid, tid, "thread_name", "fault " + std::to_string(i) + ": " + f.kind);
    w.slice(faults_pid, tid, f.kind + " [" + f.replicas + "]", "fault", f.from_ns, f.until_ns,
            {{"kind", f.kind}, {"replicas", f.replicas}, {"index", i}});
  }

  // Violations, global instants with their detail.
  for (const auto& v : r.violations) {
    ojson args{{"invariant", v.invariant}, {"detail", v.detail}};
    if (v.seq) args["seq"] = *v.seq;
    if (!v.replicas.empty()) args["replicas"] = v.replicas;
    if (!v.culprits.empty()) args["culprits"] = v.culprits;
    w.instant(oracles_pid, 1, "violation: " + v.invariant, "violation", v.time_ns, "g", std::move(args));
  }

  ojson doc;
  doc["traceEvents"] = std::move(w.events);
  doc["displayTimeUnit"] = "ms";
  doc["otherData"] = {{"scenario", r.scenario}, {"seed", r.seed}, {"n", r.n}, {"f", r.f},
                      {"fingerprint", r.fingerprint}, {"replay", r.replay_command},
                      {"pbftsim_version", PBFTSIM_VERSION}, {"time_unit", "microseconds of virtual time"}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace reports
