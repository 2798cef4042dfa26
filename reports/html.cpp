// Self-contained HTML pages: inline CSS, SVG and a little JS; no external resources.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "reports/writers.h"

namespace reports {

namespace {

struct Arrow {
  std::int64_t sent_ns, arrived_ns;
  std::uint32_t from, to;
  std::string kind;  // deliver | drop | reject
  std::string label;
};

constexpr std::size_t kArrowsMax = 2000;
constexpr const char* kStyle =
    "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    ".pass{color:#176b2c}.fail{color:#b00020}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    ".box{border:1px solid #ddd;padding:.5em;margin:.8em 0;overflow:auto}"
    "button{margin-right:.4em}code{background:#f4f4f4;padding:.1em .3em}</style>";

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Pairs each delivery (or drop) with its send, from the recorded trace.
std::vector<Arrow> arrows_from(const std::vector<std::string>& lines, std::int64_t focus_ns) {
  std::vector<Arrow> all;
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::string>, std::deque<std::int64_t>> sends;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    const std::string kind = j.value("kind", "");
    const auto from = j.value("from", 0u), to = j.value("to", 0u);
    const auto t = j.value("t", std::int64_t{0});
    const auto key = std::make_tuple(from, to, j.value("hash", std::string()));
    if (kind == "send") {
      sends[key].push_back(t);
    } else if (kind == "deliver" || kind == "drop") {
      auto& q = sends[key];
      const std::int64_t sent = q.empty() ? t : q.front();
      if (!q.empty()) q.pop_front();
      all.push_back({sent, t, from, to, kind, j.value("msg", std::string())});
    } else if (kind == "reject") {
      all.push_back({t, t, from, to, kind, "rejected"});
    }
  }
  if (all.size() <= kArrowsMax) return all;
  // Keep a window of arrows around the focus (the first violation, or the start).
  auto it = std::lower_bound(all.begin(), all.end(), focus_ns,
                             [](const Arrow& a, std::int64_t t) { return a.arrived_ns < t; });
  std::size_t mid = static_cast<std::size_t>(it - all.begin());
  std::size_t lo = mid > kArrowsMax / 2 ? mid - kArrowsMax / 2 : 0;
  lo = std::min(lo, all.size() - kArrowsMax);
  return std::vector<Arrow>(all.begin() + lo, all.begin() + lo + kArrowsMax);
}

std::string sequence_svg(const RunReport& r, std::int64_t focus_ns, std::uint32_t lanes) {
  const auto arrows = arrows_from(r.trace_lines, focus_ns);
  std::int64_t t0 = arrows.empty() ? 0 : arrows.front().sent_ns, t1 = t0 + 1;
  for (const auto& a : arrows) {
    t0 = std::min(t0, a.sent_ns);
    t1 = std::max(t1, a.arrived_ns);
  }
  const double width = 120.0 * lanes + 80, height = std::max<double>(600, arrows.size() * 6.0);
  auto x = [&](std::uint32_t lane) { return 80 + 120.0 * std::min(lane, lanes - 1); };
  auto y = [&](std::int64_t t) { return 40 + (height - 60) * static_cast<double>(t - t0) / static_cast<double>(t1 - t0); };
  std::ostringstream o;
  o << "<svg id=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" height=\"700\" viewBox=\"0 0 "
    << num(width) << " " << num(height) << "\" data-w=\"" << num(width) << "\" data-h=\"" << num(height) << "\">";
  for (std::uint32_t lane = 0; lane < lanes; ++lane) {
    const bool faulty = std::find(r.faulty_replicas.begin(), r.faulty_replicas.end(), lane) != r.faulty_replicas.end();
    const std::string name = lane < r.n ? "replica " + std::to_string(lane) : "client " + std::to_string(lane - r.n);
    o << "<line class=\"lane" << (faulty ? " faulty" : "") << "\" x1=\"" << num(x(lane)) << "\" y1=\"30\" x2=\"" << num(x(lane)) << "\" y2=\"" << num(height)
      << "\" stroke=\"" << (faulty ? "#b00020" : "#999") << "\"/><text x=\"" << num(x(lane)) << "\" y=\"20\" "
      << "text-anchor=\"middle\" font-size=\"11\" fill=\"" << (faulty ? "#b00020" : "#222") << "\">"
      << xml_escape(name) << (faulty ? " (faulty)" : "") << "</text>";
  }
  for (const auto& a : arrows) {
    const char* colour = a.kind == "drop" ? "#d33" : a.kind == "reject" ? "#e08000" : "#3366aa";
    o << "<line class=\"msg " << a.kind << "\" x1=\"" << num(x(a.from)) << "\" y1=\"" << num(y(a.sent_ns)) << "\" x2=\"" << num(x(a.to))
      << "\" y2=\"" << num(y(a.arrived_ns)) << "\" stroke=\"" << colour << "\" stroke-width=\"0.7\"><title>"
      << xml_escape(a.label + " @" + num(a.arrived_ns / 1e6) + " ms") << "</title></line>";
    if (a.kind == "drop") {
      o << "<text x=\"" << num(x(a.to)) << "\" y=\"" << num(y(a.arrived_ns)) << "\" fill=\"#d33\" font-size=\"10\">x</text>";
    }
  }
  if (!r.violations.empty()) {
    o << "<line id=\"violation-mark\" x1=\"0\" x2=\"" << num(width) << "\" y1=\"" << num(y(focus_ns)) << "\" y2=\""
      << num(y(focus_ns)) << "\" stroke=\"#b00020\" stroke-dasharray=\"6 3\"/>";
  }
  o << "</svg>";
  return o.str();
}

std::string timeline_svg(const RunReport& r) {
  const double width = 900, lane_h = 22, height = 30 + lane_h * std::max<std::uint32_t>(r.n, 1);
  const double tmax = std::max<double>(1, static_cast<double>(r.stats.virtual_time_ns));
  std::ostringstream o;
  o << "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  for (std::uint32_t i = 0; i < r.n; ++i) {
    o << "<text x=\"0\" y=\"" << num(25 + lane_h * i) << "\" font-size=\"11\">r" << i << "</text>";
  }
  for (const auto& m : r.timeline) {
    const double xx = 40 + (width - 50) * static_cast<double>(m.time_ns) / tmax;
    const double yy = 12 + lane_h * m.replica;
    const char* colour = m.kind == "view" ? "#7a3fb0" : m.kind == "stable_checkpoint" ? "#3a9d5d"
                         : m.kind == "crash" ? "#b00020" : "#e08000";
    o << "<rect x=\"" << num(xx) << "\" y=\"" << num(yy) << "\" width=\"3\" height=\"16\" fill=\"" << colour
      << "\"><title>" << xml_escape(m.kind + " " + std::to_string(m.value) + " @" + num(m.time_ns / 1e6) + " ms")
      << "</title></rect>";
  }
  o << "</svg>";
  return o.str();
}

std::string plots_svg(const RunReport& r) {
  const double width = 900, height = 200;
  std::int64_t tmax = 1, lmax = 1;
  for (const auto& c : r.completions) {
    tmax = std::max(tmax, c.time_ns);
    lmax = std::max(lmax, c.latency_ns);
  }
  std::ostringstream o;
  o << "<svg id=\"latency\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\"><polyline fill=\"none\" stroke=\"#3366aa\" points=\"";
  for (const auto& c : r.completions) {
    o << num(40 + (width - 50) * c.time_ns / static_cast<double>(tmax)) << ","
      << num(height - 20 - (height - 40) * c.latency_ns / static_cast<double>(lmax)) << " ";
  }
  o << "\"/><text x=\"0\" y=\"14\" font-size=\"11\">latency (max " << num(lmax / 1e6) << " ms) over time</text></svg>";
  constexpr int kBuckets = 60;
  std::vector<int> per(kBuckets, 0);
  for (const auto& c : r.completions) per[std::min<int>(kBuckets - 1, static_cast<int>(kBuckets * c.time_ns / (tmax + 1)))]++;
  const int pmax = std::max(1, *std::max_element(per.begin(), per.end()));
  o << "<svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  for (int b = 0; b < kBuckets; ++b) {
    const double h = (height - 40) * per[b] / pmax;
    o << "<rect x=\"" << num(40 + (width - 50) * b / kBuckets) << "\" y=\"" << num(height - 20 - h) << "\" width=\""
      << num((width - 50) / kBuckets - 1) << "\" height=\"" << num(h) << "\" fill=\"#3a9d5d\"/>";
  }
  o << "<text x=\"0\" y=\"14\" font-size=\"11\">completions per " << num(tmax / 1e6 / kBuckets)
    << " ms</text></svg>";
  return o.str();
}

constexpr const char* kZoomScript = R"JS(<script>
(function(){var s=document.getElementById('sequence');if(!s)return;
var W=+s.dataset.w,H=+s.dataset.h,vb=[0,0,W,H];
function set(){s.setAttribute('viewBox',vb.join(' '));}
function zoom(f,cy){var h=vb[3]*f;vb[1]=Math.max(0,(cy===undefined?vb[1]+vb[3]/2:cy)-h/2);vb[3]=h;set();}
document.getElementById('zin').onclick=function(){zoom(0.5);};
document.getElementById('zout').onclick=function(){zoom(2);};
document.getElementById('zreset').onclick=function(){vb=[0,0,W,H];set();};
var v=document.getElementById('zviol');if(v)v.onclick=function(){var m=document.getElementById('violation-mark');
if(m){vb[3]=Math.min(H,400);zoom(1,+m.getAttribute('y1'));}};
s.addEventListener('wheel',function(e){e.preventDefault();zoom(e.deltaY<0?0.8:1.25);},{passive:false});
})();</script>)JS";

}  // namespace

std::string to_html(const RunReport& r) {
  std::uint32_t lanes = r.n;
  for (const auto& line : r.trace_lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) lanes = std::max({lanes, j.value("from", 0u) + 1, j.value("to", 0u) + 1});
  }
  lanes = std::max<std::uint32_t>(lanes, 1);
  const std::int64_t focus = r.violations.empty() ? 0 : r.violations.front().time_ns;
  std::ostringstream o;
  o << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pbftsim: " << xml_escape(r.scenario)
    << "</title>" << kStyle << "</head><body>";
  o << "<h1>" << xml_escape(r.scenario) << " <span class=\"" << (r.outcome == "pass" ? "pass" : "fail") << "\">"
    << xml_escape(r.outcome) << "</span></h1>";
  o << "<p>seed " << r.seed << ", fingerprint <code>" << xml_escape(r.fingerprint) << "</code>, replay: <code>"
    << xml_escape(r.replay_command) << "</code></p>";
  o << "<p>safety: <b class=\"" << (r.safety_holds ? "pass" : "fail") << "\">" << (r.safety_holds ? "holds" : "violated")
    << "</b> (expected " << xml_escape(r.expect_safety) << "); liveness: <b class=\""
    << (r.liveness_holds ? "pass" : "fail") << "\">" << (r.liveness_holds ? "holds" : "violated") << "</b> (expected "
    << xml_escape(r.expect_liveness) << "): " << xml_escape(r.liveness_detail) << "</p>";
  if (!r.violations.empty()) {
    o << "<h2>Violations</h2><ul>";
    for (const auto& v : r.violations) {
      o << "<li><b>" << xml_escape(v.invariant) << "</b> at " << num(v.time_ns / 1e6) << " ms: " << xml_escape(v.detail);
      if (!v.value_a.empty()) o << " (" << xml_escape(v.value_a) << " vs " << xml_escape(v.value_b) << ")";
      o << "</li>";
    }
    o << "</ul>";
  }
  o << "<h2>Message sequence</h2><div><button id=\"zin\">zoom in</button><button id=\"zout\">zoom out</button>"
    << "<button id=\"zreset\">reset</button>" << (r.violations.empty() ? "" : "<button id=\"zviol\">jump to violation</button>")
    << " (mouse wheel zooms; blue: delivered, red x: dropped, orange: rejected)</div><div class=\"box\">"
    << sequence_svg(r, focus, lanes) << "</div>";
  o << "<h2>Views and checkpoints</h2><div class=\"box\">" << timeline_svg(r)
    << "</div><p>purple: entered a view; green: stable checkpoint; orange: state transfer / restart; red: crash</p>";
  o << "<h2>Latency and throughput</h2><div class=\"box\">" << plots_svg(r) << "</div>";
  o << kZoomScript << "</body></html>\n";
  return o.str();
}

std::string explore_to_html(const std::string& scenario_name, const std::string& behaviour,
                            const std::vector<ExploreCell>& cells) {
  std::map<std::uint32_t, std::vector<const ExploreCell*>> rows;
  for (const auto& c : cells) rows[c.n].push_back(&c);
  std::ostringstream o;
  o << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pbftsim explore: " << xml_escape(scenario_name)
    << "</title>" << kStyle << "</head><body><h1>Fault tolerance: " << xml_escape(scenario_name) << "</h1>"
    << "<p>Byzantine behaviour: <code>" << xml_escape(behaviour) << "</code>. Each cell: the share of runs where "
    << "safety held / where liveness held; the colour is safety (green: always held, red: never). Cells with "
    << "byzantine = f are outlined. Beyond f PBFT promises no liveness: <i>n/a</i>, with the share of requests "
    << "that completed.</p><table id=\"heatmap\"><tr><th>n</th><th>f</th>";
  if (!rows.empty()) {
    for (const auto* c : rows.begin()->second) o << "<th>byzantine " << c->byzantine << "</th>";
  }
  o << "</tr>";
  for (const auto& [n, row] : rows) {
    o << "<tr><th>" << n << "</th><th>" << row.front()->f << "</th>";
    for (const auto* c : row) {
      const std::uint32_t judged = c->runs - c->errors;
      const double safe = judged == 0 ? 0.0 : static_cast<double>(c->safety_held) / judged;
      const int red = static_cast<int>(200 * (1 - safe)), green = static_cast<int>(150 * safe);
      o << "<td class=\"cell\" style=\"background:rgb(" << red << "," << green << ",60);color:#fff;"
        << (c->byzantine == c->f ? "outline:3px solid #000;" : "") << "\" title=\"" << c->runs << " runs, "
        << c->errors << " harness errors\">";
      if (judged == 0) {
        o << "no run completed";
      } else if (c->liveness_required()) {
        o << num(100 * safe) << "% / " << num(100.0 * c->liveness_held / judged) << "%";
      } else {
        const double done = c->requests_submitted == 0 ? 0.0 : 100.0 * c->requests_completed / c->requests_submitted;
        o << num(100 * safe) << "% / <i>n/a</i> (" << num(done) << "% done)";
      }
      if (c->errors > 0) o << " E" << c->errors;
      o << "</td>";
    }
    o << "</tr>";
  }
  o << "</table></body></html>\n";
  return o.str();
}

}  // namespace reports
