// Report writers (reports/): the JSON report's fields and values (a public contract), the
// text summary, JUnit XML (well-formed, right counts, escaping), suite and explore tables,
// self-contained HTML, and whole-or-nothing file writes. Reports here are built by hand so
// that every value is known; tests/report_runs_test.cpp checks reports of real runs.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/trace_writers.h"
#include "reports/writers.h"

using namespace reports;
using json = nlohmann::json;

namespace {

RunReport sample_report() {
  RunReport r;
  r.scenario = "equivocating-primary";
  r.scenario_path = "scenarios/equivocating-primary.json";
  r.seed = 7;
  r.fingerprint = "0123456789abcdef";
  r.outcome = "fail";
  r.stop_reason = "completed";
  r.n = 4;
  r.f = 1;
  r.clients = 2;
  r.faulty_replicas = {0, 1};
  r.expect_safety = "holds";
  r.expect_liveness = "holds";
  r.safety_holds = false;
  Violation v;
  v.invariant = "agreement";
  v.time_ns = 21'483'000;
  v.detail = "replicas 3 and 2 executed different batches at seq 1";
  v.replicas = {3, 2};
  v.seq = 1;
  v.value_a = "c34463fa7191";
  v.value_b = "4c3a172a7eaa";
  v.culprits = {0, 1};
  r.violations.push_back(v);
  r.liveness_holds = true;
  r.submitted = 20;
  r.completed = 20;
  r.liveness_detail = "20 of 20 requests completed";
  r.stats.events = 1201;
  r.stats.messages_sent = 560;
  r.stats.messages_delivered = 550;
  r.stats.messages_dropped = 10;
  r.stats.messages_rejected = 3;
  r.stats.view_changes = 1;
  r.stats.final_view = 1;
  r.stats.executed_seq = 20;
  r.stats.stable_checkpoint = 16;
  r.stats.virtual_time_ns = 338'603'000;
  r.stats.latency = {31'744'000, 38'733'000, 41'378'000, 41'500'000};
  r.stats.sent_by_kind = {{"PREPARE", 180}, {"COMMIT", 240}};
  r.stats.rejected_by_reason = {{"bad_auth", 3}};
  r.replica_digests = {{2, "aaaaaaaaaaaa"}, {3, "bbbbbbbbbbbb"}};
  r.replica_executed = {{2, 20}, {3, 20}};
  r.timeline.push_back({5'000'000, 2, "view", 1});
  r.replay_command = "pbftsim run scenarios/equivocating-primary.json --seed 7";
  return r;
}

// Two deliveries and a drop between nodes 0..5 (n = 4: nodes 4 and 5 are clients).
// A client's request to replica 0, a PRE-PREPARE lost on its way to replica 1, a REPLY.
std::vector<sim::TraceRecord> sample_trace() {
  const auto rec = [](std::int64_t t, sim::TraceKind kind, std::uint32_t from, std::uint32_t to, std::uint32_t tag,
                      std::uint64_t hash, const char* msg, sim::NoteKind note = sim::NoteKind::None, std::uint64_t a = 0) {
    return sim::TraceRecord{sim::TraceEvent{t, kind, from, to, tag, hash, a, 0}, hash, note, msg};
  };
  using K = sim::TraceKind;
  return {
      rec(0, K::Send, 4, 0, 1, 1, "REQUEST from=4"),
      rec(1'000'000, K::Deliver, 4, 0, 1, 1, "REQUEST from=4"),
      rec(1'000'000, K::Send, 0, 1, 2, 2, "PRE-PREPARE"),
      rec(1'000'000, K::Send, 0, 5, 5, 3, "REPLY"),
      rec(1'500'000, K::Note, 2, 2, 0, 0, "view change to 1", sim::NoteKind::ViewChangeStarted, 1),
      rec(2'000'000, K::Drop, 0, 1, 2, 2, "PRE-PREPARE"),
      rec(2'500'000, K::Note, 2, 2, 0, 0, "entered view 1", sim::NoteKind::ViewEntered, 1),
      rec(3'000'000, K::Deliver, 0, 5, 5, 3, "REPLY"),
  };
}

// The sequence diagram's data, as the page embeds it for its script.
json sequence_data_of(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"seqdata\">";
  const auto at = html.find(open);
  REQUIRE(at != std::string::npos);
  const auto end = html.find("</script>", at);
  REQUIRE(end != std::string::npos);
  return json::parse(html.substr(at + open.size(), end - at - open.size()));
}

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("pbftsim-reports-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A strict little XML checker: elements nest, attributes are quoted, text and attribute
// values hold no raw '<' or unknown entity. Collects elements and their decoded
// attributes. Enough to catch what a writer could get wrong; not a general parser.
struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;  // decoded character data directly inside
};

std::string decode_entities(const std::string& s, bool& ok) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') { ok = false; return out; }
    if (s[i] != '&') { out += s[i]; continue; }
    const auto semi = s.find(';', i);
    if (semi == std::string::npos) { ok = false; return out; }
    const std::string e = s.substr(i + 1, semi - i - 1);
    if (e == "lt") out += '<';
    else if (e == "gt") out += '>';
    else if (e == "amp") out += '&';
    else if (e == "quot") out += '"';
    else if (e == "apos" || e == "#39") out += '\'';
    else { ok = false; return out; }
    i = semi;
  }
  return out;
}

bool parse_xml(const std::string& doc, std::vector<XmlElement>& elements) {
  std::vector<std::size_t> open;  // indices into elements
  std::size_t i = 0;
  bool ok = true;
  bool seen_root = false;
  while (i < doc.size()) {
    const auto lt = doc.find('<', i);
    const std::string text = doc.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    const std::string decoded = decode_entities(text, ok);
    if (!ok) return false;
    if (!open.empty()) elements[open.back()].text += decoded;
    else if (text.find_first_not_of(" \n\r\t") != std::string::npos) return false;  // text outside the root
    if (lt == std::string::npos) break;
    const auto gt = doc.find('>', lt);
    if (gt == std::string::npos) return false;
    std::string tag = doc.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag.rfind("?xml", 0) == 0) continue;
    if (tag[0] == '/') {
      if (open.empty() || elements[open.back()].name != tag.substr(1)) return false;
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    XmlElement el;
    std::size_t p = tag.find_first_of(" \n");
    el.name = tag.substr(0, p);
    while (p != std::string::npos && p < tag.size()) {
      p = tag.find_first_not_of(" \n", p);
      if (p == std::string::npos) break;
      const auto eq = tag.find('=', p);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"') return false;
      const auto close = tag.find('"', eq + 2);
      if (close == std::string::npos) return false;
      const std::string key = tag.substr(p, eq - p);
      if (el.attributes.count(key) != 0) return false;
      el.attributes[key] = decode_entities(tag.substr(eq + 2, close - eq - 2), ok);
      if (!ok) return false;
      p = close + 1;
    }
    if (open.empty()) {
      if (seen_root) return false;  // one root element
      seen_root = true;
    }
    elements.push_back(el);
    if (!self_closing) open.push_back(elements.size() - 1);
  }
  return open.empty() && seen_root;
}

std::vector<const XmlElement*> named(const std::vector<XmlElement>& elements, const std::string& name) {
  std::vector<const XmlElement*> out;
  for (const auto& e : elements) {
    if (e.name == name) out.push_back(&e);
  }
  return out;
}

}  // namespace

TEST_CASE("the JSON report has the contract's fields with the run's values") {
  const RunReport r = sample_report();
  const json j = json::parse(to_json(r));
  CHECK(j["scenario"] == "equivocating-primary");
  CHECK(j["seed"] == 7);
  CHECK(j["fingerprint"] == "0123456789abcdef");
  CHECK(j["outcome"] == "fail");
  CHECK(j["faulty_replicas"] == json::array({0, 1}));
  CHECK(j["expect"]["safety"] == "holds");
  CHECK(j["safety"]["holds"] == false);
  REQUIRE(j["safety"]["violations"].size() == 1);
  const json& v = j["safety"]["violations"][0];
  CHECK(v["invariant"] == "agreement");
  CHECK(v["time_ns"] == 21'483'000);
  CHECK(v["detail"] == "replicas 3 and 2 executed different batches at seq 1");
  CHECK(v["replicas"] == json::array({3, 2}));
  CHECK(v["seq"] == 1);
  CHECK(v["values"] == json::array({"c34463fa7191", "4c3a172a7eaa"}));
  CHECK(v["culprits"] == json::array({0, 1}));
  CHECK(j["liveness"]["holds"] == true);
  CHECK(j["liveness"]["required"] == false);  // 2 faulty replicas, f = 1
  CHECK(j["liveness"]["submitted"] == 20);
  CHECK(j["liveness"]["completed"] == 20);
  const json& s = j["stats"];
  CHECK(s["events"] == 1201);
  CHECK(s["messages_sent"] == 560);
  CHECK(s["messages_delivered"] == 550);
  CHECK(s["messages_dropped"] == 10);
  CHECK(s["messages_rejected"] == 3);
  CHECK(s["view_changes"] == 1);
  CHECK(s["final_view"] == 1);
  CHECK(s["executed_seq"] == 20);
  CHECK(s["stable_checkpoint"] == 16);
  CHECK(s["virtual_time_ns"] == 338'603'000);
  CHECK(s["latency_ns"]["p50"] == 31'744'000);
  CHECK(s["latency_ns"]["p99"] == 41'378'000);
  CHECK(s["sent_by_kind"]["COMMIT"] == 240);
  CHECK(s["rejected_by_reason"]["bad_auth"] == 3);
  CHECK(j["replicas"]["3"]["state_digest"] == "bbbbbbbbbbbb");
  CHECK(j["timeline"][0]["kind"] == "view");
  CHECK(j["replay"] == "pbftsim run scenarios/equivocating-primary.json --seed 7");
}

TEST_CASE("the JSON report: a violation without a sequence number or values has neither") {
  RunReport r = sample_report();
  r.violations[0] = Violation{"liveness", 5, "stuck", {}, std::nullopt, "", "", {}};
  const json v = json::parse(to_json(r))["safety"]["violations"][0];
  CHECK_FALSE(v.contains("seq"));
  CHECK_FALSE(v.contains("values"));
  CHECK(v["culprits"].empty());
  CHECK(json::parse(to_json(r))["safety"]["violations"].size() == 1);
}

TEST_CASE("the text summary: verdicts, violation with its culprits, fingerprint, replay line last") {
  RunReport r = sample_report();
  const auto lines = lines_of(to_text(r));
  REQUIRE(lines.size() > 5);
  CHECK(lines.front() == "equivocating-primary (seed 7): FAIL");
  CHECK(lines.back() == "replay: pbftsim run scenarios/equivocating-primary.json --seed 7");
  const std::string text = to_text(r);
  CHECK(text.find("faulty replicas: 0,1") != std::string::npos);
  CHECK(text.find("safety:   VIOLATED (expected holds)") != std::string::npos);
  CHECK(text.find("agreement at 21.483 ms") != std::string::npos);
  CHECK(text.find("[c34463fa7191 vs 4c3a172a7eaa]") != std::string::npos);
  CHECK(text.find("[signed by faulty replicas 0,1]") != std::string::npos);
  CHECK(text.find("fingerprint: 0123456789abcdef") != std::string::npos);
  CHECK(text.find("COMMIT=240") != std::string::npos);
  CHECK(text.find("(not promised: 2 faulty replicas > f = 1)") != std::string::npos);
  r.faulty_replicas = {1};
  CHECK(to_text(r).find("not promised") == std::string::npos);
  CHECK(json::parse(to_json(r))["liveness"]["required"] == true);

  r.outcome = "error";
  r.harness_error = "the run exceeded its event budget of 300 events";
  CHECK(lines_of(to_text(r)).front() == "equivocating-primary (seed 7): ERROR");
  CHECK(to_text(r).find("harness error: the run exceeded its event budget") != std::string::npos);
}

TEST_CASE("the text summary lists the first 20 violations and counts the rest") {
  RunReport r = sample_report();
  r.violations.assign(25, r.violations.front());
  const std::string text = to_text(r);
  std::size_t listed = 0;
  for (std::size_t at = text.find("    - agreement"); at != std::string::npos; at = text.find("    - agreement", at + 1)) listed++;
  CHECK(listed == 20);
  CHECK(text.find("... and 5 more") != std::string::npos);
}

TEST_CASE("write_output: the whole content, replacing what was there") {
  const std::string dir = temp_dir();
  const std::string path = dir + "/r.json";
  CHECK(write_output(path, "old content that is longer\n") == "");
  CHECK(write_output(path, "new\n") == "");
  CHECK(read_file(path) == "new\n");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary left beside it
  std::filesystem::remove_all(dir);
}

TEST_CASE("write_output: an unwritable path leaves nothing and says why") {
  const std::string dir = temp_dir();
  SUBCASE("a missing directory") {
    const std::string err = write_output(dir + "/missing/r.json", "x");
    CHECK(err.find("cannot write " + dir + "/missing/r.json") == 0);
    CHECK_FALSE(std::filesystem::exists(dir + "/missing"));
  }
  SUBCASE("a parent that is a file") {
    CHECK(write_output(dir + "/plain", "x") == "");
    CHECK(write_output(dir + "/plain/r.json", "x") != "");
  }
  SUBCASE("the target is a directory: the rename fails, the temporary is removed") {
    std::filesystem::create_directories(dir + "/taken");
    CHECK(write_output(dir + "/taken", "x") != "");
    CHECK(std::filesystem::is_directory(dir + "/taken"));
  }
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("JUnit XML: well-formed, one testsuite per scenario, one testcase per seed, right counts") {
  std::vector<SuiteEntry> entries;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    RunReport r = sample_report();
    r.seed = seed;
    r.outcome = seed == 2 ? "fail" : "pass";
    r.replay_command = "pbftsim run scenarios/equivocating-primary.json --seed " + std::to_string(seed);
    entries.push_back({r, 0.5});
  }
  RunReport other = sample_report();
  other.scenario = "normal-n4";
  other.scenario_path = "scenarios/normal-n4.json";
  other.outcome = "error";
  other.harness_error = "the run exceeded its event budget of 300 events";
  other.replay_command = "pbftsim run scenarios/normal-n4.json --seed 7";
  entries.push_back({other, 0.25});

  std::vector<XmlElement> xml;
  REQUIRE(parse_xml(to_junit("pbftsim", entries), xml));
  const auto roots = named(xml, "testsuites");
  REQUIRE(roots.size() == 1);
  CHECK(roots[0]->attributes.at("tests") == "4");
  CHECK(roots[0]->attributes.at("failures") == "1");
  CHECK(roots[0]->attributes.at("errors") == "1");
  CHECK(roots[0]->attributes.at("time") == "1.750");
  const auto suites = named(xml, "testsuite");
  REQUIRE(suites.size() == 2);
  CHECK(suites[0]->attributes.at("name") == "equivocating-primary");
  CHECK(suites[0]->attributes.at("tests") == "3");
  CHECK(suites[0]->attributes.at("failures") == "1");
  CHECK(suites[0]->attributes.at("errors") == "0");
  CHECK(suites[1]->attributes.at("errors") == "1");
  const auto cases = named(xml, "testcase");
  REQUIRE(cases.size() == 4);
  CHECK(cases[1]->attributes.at("name") == "seed 2");
  CHECK(cases[1]->attributes.at("classname") == "pbftsim.equivocating-primary");
  const auto failures = named(xml, "failure");
  REQUIRE(failures.size() == 1);
  CHECK(failures[0]->attributes.at("message").find("replay: pbftsim run scenarios/equivocating-primary.json --seed 2") !=
        std::string::npos);
  CHECK(failures[0]->attributes.at("message").find("safety violated (expected holds)") != std::string::npos);
  const auto errors = named(xml, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]->attributes.at("message").find("event budget") != std::string::npos);
  CHECK(errors[0]->attributes.at("message").find("replay: pbftsim run scenarios/normal-n4.json --seed 7") !=
        std::string::npos);
  CHECK(named(xml, "property").size() == 2);
}

TEST_CASE("JUnit XML escapes names and messages, and drops characters XML cannot hold") {
  RunReport r = sample_report();
  r.scenario = "a<b & \"c\" 'd'\x01";
  r.outcome = "fail";
  std::vector<XmlElement> xml;
  REQUIRE(parse_xml(to_junit("suite & <co>", {{r, 0.0}}), xml));
  CHECK(named(xml, "testsuites")[0]->attributes.at("name") == "suite & <co>");
  CHECK(named(xml, "testsuite")[0]->attributes.at("name") == "a<b & \"c\" 'd'?");
  CHECK(named(xml, "failure")[0]->text.find("a<b & \"c\" 'd'?") != std::string::npos);
  CHECK(xml_escape("x\x02y\tz\n") == "x?y\tz\n");
}

TEST_CASE("the suite table: one row per run, the replay line of every failure, totals") {
  std::vector<SuiteEntry> entries;
  RunReport ok = sample_report();
  ok.outcome = "pass";
  RunReport bad = sample_report();
  bad.seed = 8;
  bad.replay_command = "pbftsim run scenarios/equivocating-primary.json --seed 8";
  RunReport err = sample_report();
  err.seed = 9;
  err.outcome = "error";
  err.harness_error = "the run threw: boom";
  err.replay_command = "pbftsim run scenarios/equivocating-primary.json --seed 9";
  entries = {{ok, 0}, {bad, 0}, {err, 0}};
  const std::string table = suite_table(entries);
  const auto lines = lines_of(table);
  CHECK(lines.back() == "3 runs: 1 passed, 1 failed, 1 harness errors");
  CHECK(table.find("  replay: pbftsim run scenarios/equivocating-primary.json --seed 8") != std::string::npos);
  CHECK(table.find("  replay: pbftsim run scenarios/equivocating-primary.json --seed 9") != std::string::npos);
  CHECK(table.find("(the run threw: boom)") != std::string::npos);
  CHECK(table.find("--seed 7\n") == std::string::npos);  // a run that passed has no replay line
  const json j = json::parse(suite_to_json(entries));
  CHECK(j["totals"]["runs"] == 3);
  CHECK(j["totals"]["passed"] == 1);
  CHECK(j["totals"]["failed"] == 1);
  CHECK(j["totals"]["errors"] == 1);
}

TEST_CASE("the explore table: liveness is n/a beyond f, with the share of requests completed") {
  ExploreCell at_f;
  at_f.n = 4, at_f.f = 1, at_f.byzantine = 1, at_f.runs = 4, at_f.safety_held = 4, at_f.liveness_held = 3;
  ExploreCell beyond = at_f;
  beyond.byzantine = 2, beyond.safety_held = 1, beyond.liveness_held = 0, beyond.errors = 1;
  beyond.requests_submitted = 300, beyond.requests_completed = 150;
  beyond.failing_seeds = {1, 3};
  const std::string table = explore_table({at_f, beyond});
  CHECK(table.find("100% /  75% (f)") != std::string::npos);
  CHECK(table.find(" 33% / n/a ( 50% done) E1") != std::string::npos);  // 1 of 3 judged runs safe
  const json j = json::parse(explore_to_json("x", "equivocate", {at_f, beyond}));
  CHECK(j["behaviour"] == "equivocate");
  CHECK(j["cells"][0]["liveness_required"] == true);
  CHECK(j["cells"][1]["liveness_required"] == false);
  CHECK(j["cells"][1]["failing_seeds"] == json::array({1, 3}));
  const std::string html = explore_to_html("x", "equivocate", {at_f, beyond});
  CHECK(html.find("id=\"heatmap\"") != std::string::npos);
  CHECK(html.find("<i>n/a</i> (50.0% done)") != std::string::npos);
}

TEST_CASE("the HTML page: self-contained, lanes per node with faulty ones marked, violation mark") {
  RunReport r = sample_report();
  r.scenario = "<script>alert(1)</script>";
  r.trace = sample_trace();
  const std::string html = to_html(r);
  // Only the SVG namespace name looks like a URL; nothing is fetched.
  std::string rest = html;
  for (auto at = rest.find("http://www.w3.org/2000/svg"); at != std::string::npos; at = rest.find("http://www.w3.org/2000/svg")) {
    rest.erase(at, 26);
  }
  CHECK(rest.find("http:") == std::string::npos);
  CHECK(rest.find("https:") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  // The diagram's data: replicas 0..3 and clients 4 and 5 as lanes (0 and 1 faulty), two
  // messages delivered and one lost, every one of them (none left out), the view change and
  // the violation to jump to.
  const json d = sequence_data_of(html);
  REQUIRE(d["lanes"].size() == 6);
  CHECK(d["lanes"][0]["faulty"] == true);
  CHECK(d["lanes"][1]["faulty"] == true);
  CHECK(d["lanes"][2]["faulty"] == false);
  CHECK(d["lanes"][5]["name"] == "client 5");
  REQUIRE(d["arrows"].size() == 3);
  int delivered = 0, lost = 0;
  for (const auto& a : d["arrows"]) (a[5] == 1 ? lost : delivered)++;
  CHECK(delivered == 2);
  CHECK(lost == 1);
  CHECK(d["arrows"][1][0] == 1000.0);  // the lost PRE-PREPARE: sent at 1 ms (in us), lost at 2 ms
  CHECK(d["arrows"][1][1] == 2000.0);
  std::set<std::string> marks;
  for (const auto& m : d["marks"]) marks.insert(m["type"].get<std::string>());
  CHECK(marks == std::set<std::string>{"view", "view_change", "violation"});
  CHECK(d["focus"].get<double>() >= 0);
  CHECK(html.find("id=\"legend\"") != std::string::npos);
  CHECK(html.find("PRE-PREPARE</span>") != std::string::npos);  // the legend names the kinds used
  CHECK(html.find("signed by faulty replicas 0,1") != std::string::npos);
  CHECK(html.find("id=\"timeline\"") != std::string::npos);
  CHECK(html.find("id=\"latency\"") != std::string::npos);
  CHECK(html.find("id=\"throughput\"") != std::string::npos);
  CHECK(html.find("class=\"ticklabel\"") != std::string::npos);  // the plots have labelled axes
  r.violations.clear();
  CHECK(sequence_data_of(to_html(r))["focus"].get<double>() < 0);
  r.trace.clear();
  CHECK(to_html(r).find("no trace was recorded") != std::string::npos);
}

TEST_CASE("the trace as JSON lines: a header, then each event with its names and a summary") {
  RunReport r = sample_report();
  r.trace = sample_trace();
  const std::string text = trace_jsonl(r);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == r.trace.size() + 1);
  const json head = json::parse(lines[0]);
  CHECK(head["kind"] == "header");
  CHECK(head["scenario"] == r.scenario);
  CHECK(head["seed"] == r.seed);
  CHECK(head["n"] == r.n);
  CHECK(head["f"] == r.f);
  CHECK(head["fingerprint"] == r.fingerprint);
  CHECK(head.contains("pbftsim_version"));
  CHECK(head.contains("fingerprint_scheme"));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const json e = json::parse(lines[i]);
    CHECK(!e["summary"].get<std::string>().empty());
    CHECK(e.contains("what"));
  }
  const json drop = json::parse(lines[6]);
  CHECK(drop["kind"] == "drop");
  CHECK(drop["what"] == "PRE-PREPARE");
  CHECK(drop["summary"] == "0 -> 1 lost by the network: PRE-PREPARE");
  CHECK(json::parse(lines[7])["what"] == "view_entered");
  CHECK(trace_jsonl(r) == text);  // the same bytes for the same report
}

TEST_CASE("the Perfetto trace follows the trace-event format's rules") {
  RunReport r = sample_report();
  r.trace = sample_trace();
  r.faults.push_back({"crash", "1", 500'000, 2'500'000});
  const json doc = json::parse(perfetto_json(r));
  REQUIRE(doc["traceEvents"].is_array());
  std::set<std::pair<int, int>> named_threads;
  std::set<int> named_processes, used_processes;
  std::map<std::uint64_t, int> flow_starts, flow_ends;
  std::set<std::string> names;
  for (const auto& e : doc["traceEvents"]) {
    const std::string ph = e["ph"];
    REQUIRE(e.contains("pid"));
    if (ph == "M") {
      if (e["name"] == "process_name") named_processes.insert(e["pid"].get<int>());
      if (e["name"] == "thread_name") named_threads.insert({e["pid"].get<int>(), e["tid"].get<int>()});
      continue;
    }
    used_processes.insert(e["pid"].get<int>());
    REQUIRE(e["ts"].is_number());
    CHECK(e["ts"].get<double>() >= 0);
    names.insert(e["name"].get<std::string>());
    if (ph == "X") CHECK(e["dur"].get<double>() >= 0);
    if (ph == "i") CHECK((e["s"] == "t" || e["s"] == "g" || e["s"] == "p"));
    if (ph == "s") flow_starts[e["id"].get<std::uint64_t>()]++;
    if (ph == "f") flow_ends[e["id"].get<std::uint64_t>()]++;
    if (ph != "i" || e["s"] != "g") CHECK(named_threads.count({e["pid"].get<int>(), e["tid"].get<int>()}) == 1);
  }
  for (int pid : used_processes) CHECK(named_processes.count(pid) == 1);
  CHECK(flow_starts.size() == 3);  // one per message sent
  for (const auto& [id, n] : flow_ends) CHECK(flow_starts.count(id) == 1);
  CHECK(flow_ends.size() == 3);    // delivered twice, lost once: every flow ends
  CHECK(names.count("view change to 1") == 1);  // replica 2's view change, as a slice
  CHECK(names.count("view 1") == 1);
  CHECK(names.count("crash [1]") == 1);         // the fault window
  CHECK(names.count("violation: agreement") == 1);
  CHECK(names.count("lost PRE-PREPARE from 0") == 1);
  CHECK(doc["otherData"]["seed"] == r.seed);
}

TEST_CASE("the XML checker used above rejects what is not well-formed") {
  std::vector<XmlElement> xml;
  CHECK(parse_xml("<a><b x=\"1\"/>t &amp; u</a>", xml));
  CHECK_FALSE(parse_xml("<a><b></a></b>", xml));
  CHECK_FALSE(parse_xml("<a x=1/>", xml));
  CHECK_FALSE(parse_xml("<a>&bogus;</a>", xml));
  CHECK_FALSE(parse_xml("<a x=\"1\" x=\"2\"/>", xml));
  CHECK_FALSE(parse_xml("<a/><b/>", xml));
  CHECK_FALSE(parse_xml("<a>", xml));
}

TEST_CASE("write_output: a symbolic link is written through, not replaced; a device is not replaced") {
  const std::string dir = temp_dir();
  CHECK(write_output(dir + "/target.json", "old\n") == "");
  std::filesystem::create_symlink("target.json", dir + "/link.json");
  CHECK(write_output(dir + "/link.json", "new through the link\n") == "");
  CHECK(std::filesystem::is_symlink(dir + "/link.json"));
  CHECK(read_file(dir + "/target.json") == "new through the link\n");
  // A full device: an error, and the device is still a device.
  const std::string err = write_output("/dev/full", "x");
  CHECK(err.find("cannot write /dev/full") == 0);
  CHECK(std::filesystem::is_character_file("/dev/full"));
  CHECK(write_output("/dev/null", "discarded") == "");
  CHECK(std::filesystem::is_character_file("/dev/null"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("check_output_path: what would fail is known before a run") {
  const std::string dir = temp_dir();
  CHECK(check_output_path("") == "");
  CHECK(check_output_path(dir + "/new.json") == "");
  CHECK(check_output_path(dir + "/missing/r.json").find("does not exist") != std::string::npos);
  CHECK(check_output_path(dir).find("is a directory") != std::string::npos);
  CHECK(write_output(dir + "/plain", "x") == "");
  CHECK(check_output_path(dir + "/plain") == "");
  CHECK(check_output_path(dir + "/plain/r.json") != "");
  CHECK(check_output_path("/dev/null") == "");
  CHECK_FALSE(std::filesystem::exists(dir + "/new.json"));  // checking writes nothing
  std::filesystem::remove_all(dir);
}

TEST_CASE("from_json reads back every field to_json writes") {
  RunReport r = sample_report();
  r.timeline.push_back({5, 2, "view", 1});
  r.harness_error = "";
  Violation bare;
  bare.invariant = "integrity";
  bare.detail = "no seq, no values";
  r.violations.push_back(bare);
  const RunReport back = from_json(to_json(r));
  CHECK(to_json(back) == to_json(r));
  CHECK(to_text(back) == to_text(r));
  CHECK_FALSE(back.violations.back().seq.has_value());
  CHECK_THROWS(from_json("{\"scenario\": 1}"));
}
