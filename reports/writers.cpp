#include "reports/writers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace reports {

using ojson = nlohmann::ordered_json;

namespace {

constexpr std::size_t kViolationsInSummaryMax = 20;  // the summary lists the first ones

std::string ms(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

ojson violation_json(const Violation& v) {
  ojson j;
  j["invariant"] = v.invariant;
  j["time_ns"] = v.time_ns;
  j["detail"] = v.detail;
  j["replicas"] = v.replicas;
  if (v.seq) j["seq"] = *v.seq;
  if (!v.value_a.empty() || !v.value_b.empty()) j["values"] = {v.value_a, v.value_b};
  j["culprits"] = v.culprits;
  return j;
}

ojson report_json(const RunReport& r) {
  ojson j;
  j["scenario"] = r.scenario;
  j["scenario_path"] = r.scenario_path;
  j["seed"] = r.seed;
  j["fingerprint"] = r.fingerprint;
  j["outcome"] = r.outcome;
  if (!r.harness_error.empty()) j["harness_error"] = r.harness_error;
  j["stop_reason"] = r.stop_reason;
  j["cluster"] = {{"n", r.n}, {"f", r.f}, {"clients", r.clients}};
  j["faulty_replicas"] = r.faulty_replicas;
  j["expect"] = {{"safety", r.expect_safety}, {"liveness", r.expect_liveness}};
  ojson violations = ojson::array();
  for (const auto& v : r.violations) violations.push_back(violation_json(v));
  j["safety"] = {{"holds", r.safety_holds}, {"violations", violations}};
  // PBFT promises liveness only while at most f replicas are faulty; beyond, it is measured
  // and reported all the same.
  j["liveness"] = {{"holds", r.liveness_holds}, {"required", r.faulty_replicas.size() <= r.f},
                   {"submitted", r.submitted}, {"completed", r.completed}, {"detail", r.liveness_detail}};
  const auto& s = r.stats;
  ojson st;
  st["events"] = s.events;
  st["messages_sent"] = s.messages_sent;
  st["messages_delivered"] = s.messages_delivered;
  st["messages_dropped"] = s.messages_dropped;
  st["messages_rejected"] = s.messages_rejected;
  st["view_changes"] = s.view_changes;
  st["final_view"] = s.final_view;
  st["executed_seq"] = s.executed_seq;
  st["stable_checkpoint"] = s.stable_checkpoint;
  st["virtual_time_ns"] = s.virtual_time_ns;
  st["latency_ns"] = {{"p50", s.latency.p50_ns}, {"p90", s.latency.p90_ns}, {"p99", s.latency.p99_ns},
                      {"max", s.latency.max_ns}};
  st["max_log_entries"] = s.max_log_entries;
  st["state_transfers"] = s.state_transfers;
  st["sent_by_kind"] = s.sent_by_kind;
  st["sent_bytes_by_kind"] = s.sent_bytes_by_kind;
  st["rejected_by_reason"] = s.rejected_by_reason;
  j["stats"] = st;
  ojson timeline = ojson::array();
  for (const auto& m : r.timeline) {
    timeline.push_back({{"time_ns", m.time_ns}, {"replica", m.replica}, {"kind", m.kind}, {"value", m.value}});
  }
  j["timeline"] = timeline;
  ojson digests = ojson::object();
  for (const auto& [id, d] : r.replica_digests) {
    digests[std::to_string(id)] = {{"state_digest", d}, {"executed_seq", r.replica_executed.at(id)}};
  }
  j["replicas"] = digests;
  j["replay"] = r.replay_command;
  return j;
}

std::string join_ids(const std::vector<std::uint32_t>& ids) {
  std::string s;
  for (auto id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s.empty() ? "none" : s;
}

std::string verdict(bool holds, const std::string& expected) {
  return std::string(holds ? "holds" : "VIOLATED") + " (expected " + expected + ")";
}

}  // namespace

std::string to_json(const RunReport& report) { return report_json(report).dump(2) + "\n"; }

RunReport from_json(const std::string& text) {
  const ojson j = ojson::parse(text);  // throws on anything but a report to_json() wrote
  RunReport r;
  r.scenario = j.at("scenario").get<std::string>();
  r.scenario_path = j.at("scenario_path").get<std::string>();
  r.seed = j.at("seed").get<std::uint64_t>();
  r.fingerprint = j.at("fingerprint").get<std::string>();
  r.outcome = j.at("outcome").get<std::string>();
  r.harness_error = j.value("harness_error", "");
  r.stop_reason = j.at("stop_reason").get<std::string>();
  r.n = j.at("cluster").at("n").get<std::uint32_t>();
  r.f = j.at("cluster").at("f").get<std::uint32_t>();
  r.clients = j.at("cluster").at("clients").get<std::uint32_t>();
  r.faulty_replicas = j.at("faulty_replicas").get<std::vector<std::uint32_t>>();
  r.expect_safety = j.at("expect").at("safety").get<std::string>();
  r.expect_liveness = j.at("expect").at("liveness").get<std::string>();
  r.safety_holds = j.at("safety").at("holds").get<bool>();
  for (const auto& v : j.at("safety").at("violations")) {
    Violation x;
    x.invariant = v.at("invariant").get<std::string>();
    x.time_ns = v.at("time_ns").get<std::int64_t>();
    x.detail = v.at("detail").get<std::string>();
    x.replicas = v.at("replicas").get<std::vector<std::uint32_t>>();
    if (v.contains("seq")) x.seq = v.at("seq").get<std::uint64_t>();
    if (v.contains("values")) {
      x.value_a = v.at("values").at(0).get<std::string>();
      x.value_b = v.at("values").at(1).get<std::string>();
    }
    x.culprits = v.at("culprits").get<std::vector<std::uint32_t>>();
    r.violations.push_back(std::move(x));
  }
  const auto& l = j.at("liveness");
  r.liveness_holds = l.at("holds").get<bool>();
  r.submitted = l.at("submitted").get<std::uint64_t>();
  r.completed = l.at("completed").get<std::uint64_t>();
  r.liveness_detail = l.at("detail").get<std::string>();
  const auto& st = j.at("stats");
  auto& s = r.stats;
  s.events = st.at("events").get<std::uint64_t>();
  s.messages_sent = st.at("messages_sent").get<std::uint64_t>();
  s.messages_delivered = st.at("messages_delivered").get<std::uint64_t>();
  s.messages_dropped = st.at("messages_dropped").get<std::uint64_t>();
  s.messages_rejected = st.at("messages_rejected").get<std::uint64_t>();
  s.view_changes = st.at("view_changes").get<std::uint64_t>();
  s.final_view = st.at("final_view").get<std::uint64_t>();
  s.executed_seq = st.at("executed_seq").get<std::uint64_t>();
  s.stable_checkpoint = st.at("stable_checkpoint").get<std::uint64_t>();
  s.virtual_time_ns = st.at("virtual_time_ns").get<std::int64_t>();
  const auto& lat = st.at("latency_ns");
  s.latency = {lat.at("p50").get<std::int64_t>(), lat.at("p90").get<std::int64_t>(), lat.at("p99").get<std::int64_t>(),
               lat.at("max").get<std::int64_t>()};
  s.max_log_entries = st.at("max_log_entries").get<std::uint64_t>();
  s.state_transfers = st.at("state_transfers").get<std::uint64_t>();
  s.sent_by_kind = st.at("sent_by_kind").get<std::map<std::string, std::uint64_t>>();
  if (st.contains("sent_bytes_by_kind")) {
    s.sent_bytes_by_kind = st.at("sent_bytes_by_kind").get<std::map<std::string, std::uint64_t>>();
  }
  s.rejected_by_reason = st.at("rejected_by_reason").get<std::map<std::string, std::uint64_t>>();
  for (const auto& m : j.at("timeline")) {
    r.timeline.push_back({m.at("time_ns").get<std::int64_t>(), m.at("replica").get<std::uint32_t>(),
                          m.at("kind").get<std::string>(), m.at("value").get<std::uint64_t>()});
  }
  for (const auto& [id, d] : j.at("replicas").items()) {
    const auto replica = static_cast<std::uint32_t>(std::stoul(id));
    r.replica_digests[replica] = d.at("state_digest").get<std::string>();
    r.replica_executed[replica] = d.at("executed_seq").get<std::uint64_t>();
  }
  r.replay_command = j.at("replay").get<std::string>();
  return r;
}

std::string to_text(const RunReport& r) {
  std::ostringstream o;
  o << r.scenario << " (seed " << r.seed << "): " << (r.outcome == "pass" ? "PASS" : r.outcome == "fail" ? "FAIL" : "ERROR")
    << "\n";
  if (!r.harness_error.empty()) o << "  harness error: " << r.harness_error << "\n";
  o << "  cluster: n=" << r.n << " f=" << r.f << ", faulty replicas: " << join_ids(r.faulty_replicas) << "\n";
  o << "  safety:   " << verdict(r.safety_holds, r.expect_safety) << "\n";
  std::size_t listed = 0;
  for (const auto& v : r.violations) {
    if (listed++ == kViolationsInSummaryMax) {
      o << "    ... and " << r.violations.size() - kViolationsInSummaryMax << " more (the JSON report has them all)\n";
      break;
    }
    o << "    - " << v.invariant << " at " << ms(v.time_ns) << " ms: " << v.detail;
    if (v.seq) o << " [seq " << *v.seq << "]";
    if (!v.value_a.empty() || !v.value_b.empty()) o << " [" << v.value_a << " vs " << v.value_b << "]";
    if (!v.culprits.empty()) o << " [signed by faulty replicas " << join_ids(v.culprits) << "]";
    o << "\n";
  }
  o << "  liveness: " << verdict(r.liveness_holds, r.expect_liveness) << ": " << r.liveness_detail;
  if (r.faulty_replicas.size() > r.f) {
    o << " (not promised: " << r.faulty_replicas.size() << " faulty replicas > f = " << r.f << ")";
  }
  o << "\n";
  o << "  requests completed: " << r.completed << "/" << r.submitted << " (stopped: " << r.stop_reason << ")\n";
  o << "  messages sent per kind:";
  for (const auto& [k, v] : r.stats.sent_by_kind) o << " " << k << "=" << v;
  o << "\n  messages: sent=" << r.stats.messages_sent << " delivered=" << r.stats.messages_delivered
    << " dropped=" << r.stats.messages_dropped << " rejected=" << r.stats.messages_rejected << "\n";
  if (!r.stats.rejected_by_reason.empty()) {
    o << "  rejected by reason:";
    for (const auto& [k, v] : r.stats.rejected_by_reason) o << " " << k << "=" << v;
    o << "\n";
  }
  o << "  final view: " << r.stats.final_view << " (view changes: " << r.stats.view_changes
    << "), executed seq: " << r.stats.executed_seq << ", stable checkpoint: " << r.stats.stable_checkpoint << "\n";
  o << "  latency ms: p50=" << ms(r.stats.latency.p50_ns) << " p90=" << ms(r.stats.latency.p90_ns)
    << " p99=" << ms(r.stats.latency.p99_ns) << " max=" << ms(r.stats.latency.max_ns) << "\n";
  o << "  virtual time: " << ms(r.stats.virtual_time_ns) << " ms, events: " << r.stats.events << "\n";
  o << "  fingerprint: " << r.fingerprint << "\n";
  o << "replay: " << r.replay_command << "\n";
  return o.str();
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += "?";  // not allowed in XML 1.0
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

namespace {

std::string seconds(double s) {
  char t[32];
  std::snprintf(t, sizeof t, "%.3f", s);
  return t;
}

struct Counts {
  std::size_t tests = 0, failures = 0, errors = 0;
  double seconds = 0;
};

Counts count(std::vector<SuiteEntry>::const_iterator begin, std::vector<SuiteEntry>::const_iterator end) {
  Counts c;
  for (auto it = begin; it != end; ++it) {
    c.tests++;
    c.failures += it->report.outcome == "fail";
    c.errors += it->report.outcome == "error";
    c.seconds += it->wall_seconds;
  }
  return c;
}

std::string counts_attributes(const Counts& c) {
  return "tests=\"" + std::to_string(c.tests) + "\" failures=\"" + std::to_string(c.failures) + "\" errors=\"" +
         std::to_string(c.errors) + "\" time=\"" + seconds(c.seconds) + "\"";
}

void junit_testcase(std::ostringstream& o, const SuiteEntry& e) {
  const auto& r = e.report;
  o << "    <testcase classname=\"pbftsim." << xml_escape(r.scenario) << "\" name=\"seed " << r.seed << "\" time=\""
    << seconds(e.wall_seconds) << "\"";
  if (r.outcome == "pass") {
    o << "/>\n";
    return;
  }
  o << ">\n";
  if (r.outcome == "fail") {
    std::string what = "safety " + std::string(r.safety_holds ? "held" : "violated") + " (expected " +
                       r.expect_safety + "), liveness " + (r.liveness_holds ? "held" : "violated") + " (expected " +
                       r.expect_liveness + ")";
    o << "      <failure type=\"outcome\" message=\"" << xml_escape(what + "; replay: " + r.replay_command) << "\">"
      << xml_escape(to_text(r)) << "</failure>\n";
  } else {
    o << "      <error type=\"harness\" message=\"" << xml_escape(r.harness_error + "; replay: " + r.replay_command)
      << "\">" << xml_escape(to_text(r)) << "</error>\n";
  }
  o << "      <system-out>" << xml_escape("fingerprint " + r.fingerprint + "\nreplay: " + r.replay_command)
    << "</system-out>\n    </testcase>\n";
}

}  // namespace

// One <testsuite> per scenario file, one <testcase> per seed: the shape Jenkins, GitLab and
// GitHub test-report viewers group by.
std::string to_junit(const std::string& suite_name, const std::vector<SuiteEntry>& entries) {
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"" << xml_escape(suite_name) << "\" "
    << counts_attributes(count(entries.begin(), entries.end())) << ">\n";
  for (auto begin = entries.begin(); begin != entries.end();) {
    auto end = begin;
    while (end != entries.end() && end->report.scenario == begin->report.scenario &&
           end->report.scenario_path == begin->report.scenario_path) {
      ++end;
    }
    o << "  <testsuite name=\"" << xml_escape(begin->report.scenario) << "\" " << counts_attributes(count(begin, end))
      << " skipped=\"0\">\n";
    if (!begin->report.scenario_path.empty()) {
      o << "    <properties><property name=\"file\" value=\"" << xml_escape(begin->report.scenario_path)
        << "\"/></properties>\n";
    }
    for (auto it = begin; it != end; ++it) junit_testcase(o, *it);
    o << "  </testsuite>\n";
    begin = end;
  }
  o << "</testsuites>\n";
  return o.str();
}

std::string suite_to_json(const std::vector<SuiteEntry>& entries) {
  ojson runs = ojson::array();
  std::size_t passed = 0, errors = 0;
  for (const auto& e : entries) {
    const auto& r = e.report;
    passed += r.outcome == "pass";
    errors += r.outcome == "error";
    runs.push_back({{"scenario", r.scenario}, {"scenario_path", r.scenario_path}, {"seed", r.seed},
                    {"outcome", r.outcome}, {"fingerprint", r.fingerprint}, {"safety_holds", r.safety_holds},
                    {"liveness_holds", r.liveness_holds}, {"completed", r.completed}, {"submitted", r.submitted},
                    {"final_view", r.stats.final_view}, {"harness_error", r.harness_error},
                    {"violations", r.violations.size()}, {"wall_seconds", e.wall_seconds}, {"replay", r.replay_command}});
  }
  ojson j;
  j["runs"] = runs;
  j["totals"] = {{"runs", entries.size()}, {"passed", passed}, {"failed", entries.size() - passed - errors},
                 {"errors", errors}};
  return j.dump(2) + "\n";
}

std::string suite_table(const std::vector<SuiteEntry>& entries) {
  std::ostringstream o;
  char line[512];
  std::snprintf(line, sizeof line, "%-36s %6s  %-6s %-9s %-9s %-13s %5s  %s\n", "scenario", "seed", "result",
                "safety", "liveness", "completed", "view", "fingerprint");
  o << line;
  std::size_t passed = 0;
  for (const auto& e : entries) {
    const auto& r = e.report;
    passed += r.outcome == "pass";
    const std::string completed = std::to_string(r.completed) + "/" + std::to_string(r.submitted);
    // A run that did not finish has no verdicts worth printing.
    const bool judged = r.outcome != "error";
    std::snprintf(line, sizeof line, "%-36.36s %6llu  %-6s %-9s %-9s %-13s %5llu  %s\n", r.scenario.c_str(),
                  static_cast<unsigned long long>(r.seed), r.outcome.c_str(),
                  !judged ? "-" : r.safety_holds ? "holds" : "VIOLATED",
                  !judged ? "-" : r.liveness_holds ? "holds" : "VIOLATED", completed.c_str(),
                  static_cast<unsigned long long>(r.stats.final_view), r.fingerprint.c_str());
    o << line;
  }
  for (const auto& e : entries) {
    if (e.report.outcome != "pass") {
      o << e.report.outcome << ": " << e.report.scenario << " seed " << e.report.seed
        << (e.report.harness_error.empty() ? "" : " (" + e.report.harness_error + ")") << "\n  replay: "
        << e.report.replay_command << "\n";
      if (!e.perfetto_path.empty()) o << "  perfetto: " << e.perfetto_path << "\n";
      if (!e.html_path.empty()) o << "  html: " << e.html_path << "\n";
    }
  }
  std::size_t errors = 0;
  for (const auto& e : entries) errors += e.report.outcome == "error";
  o << entries.size() << " runs: " << passed << " passed, " << entries.size() - passed - errors << " failed, " << errors
    << " harness errors\n";
  return o.str();
}

namespace {

double share(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// "100% / 100%", or beyond f "40% / n/a (93% done)"; harness errors appended.
std::string explore_cell_text(const ExploreCell& c) {
  const std::uint32_t judged = c.runs - c.errors;
  char buf[96];
  if (judged == 0) {
    std::snprintf(buf, sizeof buf, "no run completed");
  } else if (c.liveness_required()) {
    std::snprintf(buf, sizeof buf, "%3.0f%% / %3.0f%%%s", share(c.safety_held, judged), share(c.liveness_held, judged),
                  c.byzantine == c.f ? " (f)" : "");
  } else {
    std::snprintf(buf, sizeof buf, "%3.0f%% / n/a (%3.0f%% done)", share(c.safety_held, judged),
                  share(c.requests_completed, c.requests_submitted));
  }
  std::string out = buf;
  if (c.errors > 0) out += " E" + std::to_string(c.errors);
  return out;
}

}  // namespace

std::string explore_table(const std::vector<ExploreCell>& cells) {
  std::map<std::uint32_t, std::vector<const ExploreCell*>> rows;
  for (const auto& c : cells) rows[c.n].push_back(&c);
  std::ostringstream o;
  o << "each cell: % of runs where safety held / % where liveness held; (f) marks byzantine = f\n"
       "beyond f PBFT promises no liveness: n/a, with the % of requests that completed; E: harness errors\n";
  if (rows.empty()) return o.str();
  constexpr int kCellWidth = 26;
  char buf[128];
  o << "    n  f |";
  for (const auto* c : rows.begin()->second) {
    std::snprintf(buf, sizeof buf, " %-*s|", kCellWidth, ("byzantine=" + std::to_string(c->byzantine)).c_str());
    o << buf;
  }
  o << "\n";
  for (const auto& [n, row] : rows) {
    std::snprintf(buf, sizeof buf, "%5u %2u |", n, row.front()->f);
    o << buf;
    for (const auto* c : row) {
      std::snprintf(buf, sizeof buf, " %-*s|", kCellWidth, explore_cell_text(*c).c_str());
      o << buf;
    }
    o << "\n";
  }
  return o.str();
}

std::string explore_to_json(const std::string& scenario_name, const std::string& behaviour,
                            const std::vector<ExploreCell>& cells) {
  ojson arr = ojson::array();
  for (const auto& c : cells) {
    arr.push_back({{"n", c.n}, {"f", c.f}, {"byzantine", c.byzantine}, {"runs", c.runs},
                   {"safety_held", c.safety_held}, {"liveness_required", c.liveness_required()},
                   {"liveness_held", c.liveness_held}, {"requests_submitted", c.requests_submitted},
                   {"requests_completed", c.requests_completed}, {"errors", c.errors},
                   {"failing_seeds", c.failing_seeds}});
  }
  ojson j;
  j["scenario"] = scenario_name;
  j["behaviour"] = behaviour;
  j["cells"] = arr;
  return j.dump(2) + "\n";
}

namespace {

std::string cannot_write(const std::string& path, const std::string& why) { return "cannot write " + path + ": " + why; }

// Writes everything or says why not (a full device, a closed pipe, a full disk).
std::string write_all(int fd, const std::string& content) {
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t put = write(fd, data, left);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return put < 0 ? std::strerror(errno) : "short write";
    data += put;
    left -= static_cast<std::size_t>(put);
  }
  return "";
}

// Into what `path` names, in place: a device, a FIFO, the file a link points to. Replacing
// them with a regular file would destroy what the user pointed us at.
std::string write_through(const std::string& path, const std::string& content) {
  struct stat target {};
  if (stat(path.c_str(), &target) == 0) {
    // Our own stdout or stderr ("/dev/stdout", or the file the shell redirected it to):
    // opened again it would start at offset 0 and overwrite what was printed; write after it.
    for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
      struct stat mine {};
      if (fstat(fd, &mine) != 0 || mine.st_dev != target.st_dev || mine.st_ino != target.st_ino) continue;
      std::fflush(stdout);
      std::fflush(stderr);
      const std::string why = write_all(fd, content);
      return why.empty() ? "" : cannot_write(path, why);
    }
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return cannot_write(path, std::strerror(errno));
  std::string why = write_all(fd, content);
  if (close(fd) != 0 && why.empty()) why = std::strerror(errno);
  return why.empty() ? "" : cannot_write(path, why);
}

// A temporary file beside `path`, then a rename over it: readers see the old content or the
// whole new one, never half. The new file keeps the old one's permissions.
std::string write_replacing(const std::string& path, const std::string& content, const struct stat* old) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  (void)unlink(tmp.c_str());  // left by a process of the same id that died mid-write
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return cannot_write(path, std::strerror(errno));
  if (old != nullptr) (void)fchmod(fd, old->st_mode & 07777);
  std::string why = write_all(fd, content);
  if (close(fd) != 0 && why.empty()) why = std::strerror(errno);
  if (why.empty() && std::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    (void)unlink(tmp.c_str());
    return cannot_write(path, why);
  }
  return "";
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string write_output(const std::string& path, const std::string& content) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return cannot_write(path, std::strerror(errno));
    return write_replacing(path, content, nullptr);
  }
  if (S_ISDIR(st.st_mode)) return cannot_write(path, "is a directory");
  if (S_ISREG(st.st_mode)) return write_replacing(path, content, &st);
  return write_through(path, content);  // a symbolic link, a device, a FIFO, a socket
}

std::string check_output_path(const std::string& path) {
  if (path.empty()) return "";
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return cannot_write(path, "is a directory");
    if (!S_ISREG(st.st_mode)) {  // written through: what it leads to must take it
      if (stat(path.c_str(), &st) != 0) return errno == ENOENT ? "" : cannot_write(path, std::strerror(errno));
      if (S_ISDIR(st.st_mode)) return cannot_write(path, "is a directory");
      return access(path.c_str(), W_OK) == 0 ? "" : cannot_write(path, std::strerror(errno));
    }
  } else if (errno != ENOENT) {
    return cannot_write(path, std::strerror(errno));
  }
  // A new or regular file is written beside it and renamed: its directory must take that.
  const std::string dir = parent_of(path);
  if (stat(dir.c_str(), &st) != 0) return cannot_write(path, "directory " + dir + " does not exist");
  if (!S_ISDIR(st.st_mode)) return cannot_write(path, dir + " is not a directory");
  if (access(dir.c_str(), W_OK | X_OK) != 0) return cannot_write(path, dir + ": " + std::strerror(errno));
  return "";
}

}  // namespace reports
