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

constexpr std::size_t kArrowsMax = 2000;          // the diagram shows a window around the focus
constexpr std::size_t kViolationsOnPageMax = 50;  // the page lists the first ones
constexpr const char* kStyle =
    "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    ".pass{color:#176b2c}.fail{color:#b00020}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    ".box{border:1px solid #ddd;padding:.5em;margin:.8em 0;overflow:auto}"
    "button{margin-right:.4em}code{background:#f4f4f4;padding:.1em .3em}</style>";

std::string ids(const std::vector<std::uint32_t>& list) {
  std::string out;
  for (auto id : list) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

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

// Diagram coordinates: lanes spread over kDiagramWidth units; the vertical axis is time,
// kUnitsPerArrow units per arrow so that arrows are readable at zoom 1 (1 unit = 1 px).
constexpr double kDiagramWidth = 1000, kDiagramLeft = 70, kUnitsPerArrow = 8;

std::string percent(double v) { return num(100.0 * v / kDiagramWidth) + "%"; }

// The message sequence diagram: a sticky header of lane names (HTML, so text never
// stretches), then the SVG, stretched to the box's width (preserveAspectRatio none, strokes
// that do not scale) inside a scrolling box; zooming changes its height in pixels, and time
// labels are HTML placed in percent of that height.
std::string sequence_html(const RunReport& r, std::int64_t focus_ns, std::uint32_t lanes) {
  const auto arrows = arrows_from(r.trace_lines, focus_ns);
  std::int64_t t0 = arrows.empty() ? 0 : arrows.front().sent_ns, t1 = t0 + 1;
  for (const auto& a : arrows) {
    t0 = std::min(t0, a.sent_ns);
    t1 = std::max(t1, a.arrived_ns);
  }
  const double height = std::max<double>(600, static_cast<double>(arrows.size()) * kUnitsPerArrow);
  auto x = [&](std::uint32_t lane) {
    return kDiagramLeft + (kDiagramWidth - kDiagramLeft - 10) * (std::min(lane, lanes - 1) + 0.5) / lanes;
  };
  auto y = [&](std::int64_t t) { return 20 + (height - 30) * static_cast<double>(t - t0) / static_cast<double>(t1 - t0); };
  auto is_faulty = [&](std::uint32_t lane) {
    return std::find(r.faulty_replicas.begin(), r.faulty_replicas.end(), lane) != r.faulty_replicas.end();
  };
  std::ostringstream o;
  o << "<div id=\"seqbox\" class=\"box\" style=\"height:640px;padding:0;position:relative\">"
    << "<div id=\"lanes\" style=\"position:sticky;top:0;height:2.6em;background:#fff;z-index:1;border-bottom:1px solid #ddd\">";
  for (std::uint32_t lane = 0; lane < lanes; ++lane) {
    const bool faulty = is_faulty(lane);
    const std::string name = lane < r.n ? "replica " + std::to_string(lane) : "client " + std::to_string(lane - r.n);
    o << "<span class=\"lane-label" << (faulty ? " faulty" : "") << "\" style=\"position:absolute;left:" << percent(x(lane))
      << ";transform:translateX(-50%);font-size:11px;text-align:center;top:.2em" << (faulty ? ";color:#b00020" : "")
      << "\">" << xml_escape(name) << (faulty ? "<br>(faulty)" : "") << "</span>";
  }
  o << "</div><div id=\"seqwrap\" style=\"position:relative;height:" << num(height) << "px\" data-h=\"" << num(height) << "\">";
  o << "<svg id=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << num(kDiagramWidth) << " "
    << num(height) << "\" preserveAspectRatio=\"none\" style=\"width:100%;height:100%;display:block\">";
  for (std::uint32_t lane = 0; lane < lanes; ++lane) {
    const bool faulty = is_faulty(lane);
    o << "<line class=\"lane" << (faulty ? " faulty" : "") << "\" x1=\"" << num(x(lane)) << "\" y1=\"0\" x2=\""
      << num(x(lane)) << "\" y2=\"" << num(height) << "\" stroke=\"" << (faulty ? "#b00020" : "#999")
      << "\" stroke-width=\"" << (faulty ? 2 : 1) << "\" vector-effect=\"non-scaling-stroke\"/>";
  }
  for (const auto& a : arrows) {
    const char* colour = a.kind == "drop" ? "#d33" : a.kind == "reject" ? "#e08000" : "#3366aa";
    o << "<line class=\"msg " << a.kind << "\" x1=\"" << num(x(a.from)) << "\" y1=\"" << num(y(a.sent_ns)) << "\" x2=\""
      << num(x(a.to)) << "\" y2=\"" << num(y(a.arrived_ns)) << "\" stroke=\"" << colour
      << "\" vector-effect=\"non-scaling-stroke\"><title>"
      << xml_escape(a.label + " " + std::to_string(a.from) + "\u2192" + std::to_string(a.to) + " @" +
                    num(a.arrived_ns / 1e6) + " ms")
      << "</title></line>";
    if (a.kind == "drop") {  // a small cross where the message was lost
      const double cx = x(a.to), cy = y(a.arrived_ns);
      o << "<path class=\"dropmark\" d=\"M" << num(cx - 5) << " " << num(cy - 3) << "L" << num(cx + 5) << " "
        << num(cy + 3) << "M" << num(cx - 5) << " " << num(cy + 3) << "L" << num(cx + 5) << " " << num(cy - 3)
        << "\" stroke=\"#d33\" vector-effect=\"non-scaling-stroke\"/>";
    }
  }
  if (!r.violations.empty()) {
    o << "<line id=\"violation-mark\" x1=\"0\" x2=\"" << num(kDiagramWidth) << "\" y1=\"" << num(y(focus_ns))
      << "\" y2=\"" << num(y(focus_ns)) << "\" stroke=\"#b00020\" stroke-width=\"2\" stroke-dasharray=\"6 3\" "
      << "vector-effect=\"non-scaling-stroke\"><title>first violation @" << num(focus_ns / 1e6) << " ms</title></line>";
  }
  o << "</svg>";
  // Time labels every 40 arrows' worth of height, in percent so that zooming moves them.
  const int ticks = std::max(2, static_cast<int>(height / (40 * kUnitsPerArrow)));
  for (int i = 0; i <= ticks; ++i) {
    const double t = t0 + static_cast<double>(t1 - t0) * i / ticks;
    o << "<span class=\"tick\" style=\"position:absolute;left:2px;top:" << num(100.0 * y(static_cast<std::int64_t>(t)) / height)
      << "%;font-size:10px;color:#666\">" << num(t / 1e6) << " ms</span>";
  }
  o << "</div></div>";
  return o.str();
}

// One lane per replica: a band per view it was in (colour by view), grey while crashed, and
// ticks for stable checkpoints (green) and state transfers (orange).
std::string timeline_svg(const RunReport& r) {
  constexpr const char* kViewColours[] = {"#cfd8ef", "#d9c6ec", "#c6e5d9", "#efe0c2", "#ecc6cf", "#c9e3ee"};
  const double width = 900, left = 40, lane_h = 22, height = 40 + lane_h * std::max<std::uint32_t>(r.n, 1);
  const double tmax = std::max<double>(1, static_cast<double>(r.stats.virtual_time_ns));
  auto x = [&](std::int64_t t) { return left + (width - left - 10) * static_cast<double>(t) / tmax; };
  std::ostringstream o;
  o << "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  for (std::uint32_t i = 0; i < r.n; ++i) {
    const double top = 10 + lane_h * i;
    const bool faulty = std::find(r.faulty_replicas.begin(), r.faulty_replicas.end(), i) != r.faulty_replicas.end();
    o << "<text x=\"0\" y=\"" << num(top + 13) << "\" font-size=\"11\"" << (faulty ? " fill=\"#b00020\"" : "") << ">r" << i
      << (faulty ? "*" : "") << "</text>";
    // Walk this replica's marks (they are in time order) and close a band at each change.
    std::int64_t since = 0;
    std::uint64_t view = 0;
    bool up = true;
    auto band = [&](std::int64_t until) {
      if (until < since || (until == since && until != r.stats.virtual_time_ns)) return;  // empty band
      const std::string fill = up ? kViewColours[view % 6] : "#999";
      const std::string what = up ? "view " + std::to_string(view) : "crashed";
      o << "<rect class=\"span\" x=\"" << num(x(since)) << "\" y=\"" << num(top) << "\" width=\""
        << num(std::max(1.0, x(until) - x(since))) << "\" height=\"16\" fill=\"" << fill << "\"><title>replica " << i
        << ": " << what << " from " << num(since / 1e6) << " ms to " << num(until / 1e6) << " ms</title></rect>";
    };
    for (const auto& m : r.timeline) {
      if (m.replica != i) continue;
      if (m.kind == "view" || m.kind == "crash" || m.kind == "restart") {
        band(m.time_ns);
        since = m.time_ns;
        if (m.kind == "view") view = m.value;
        if (m.kind == "crash") up = false;
        if (m.kind == "restart") { up = true; view = 0; }
      }
      const char* colour = m.kind == "view" ? "#7a3fb0" : m.kind == "stable_checkpoint" ? "#3a9d5d"
                           : m.kind == "crash" ? "#b00020" : "#e08000";
      o << "<rect class=\"mark\" x=\"" << num(x(m.time_ns)) << "\" y=\"" << num(top) << "\" width=\"2\" height=\"16\" fill=\""
        << colour << "\"><title>" << xml_escape(m.kind + " " + std::to_string(m.value) + " @" + num(m.time_ns / 1e6) + " ms")
        << "</title></rect>";
    }
    band(r.stats.virtual_time_ns);
  }
  const double axis_y = 24 + lane_h * r.n;
  for (int tick = 0; tick <= 4; ++tick) {
    const auto t = static_cast<std::int64_t>(tmax * tick / 4);
    o << "<text x=\"" << num(x(t)) << "\" y=\"" << num(axis_y) << "\" font-size=\"10\" text-anchor=\"middle\">"
      << num(t / 1e6) << " ms</text>";
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

// Zoom scales the diagram's height (k x its natural height) and keeps the point of interest
// in the middle of the box; the page opens at the first violation when there is one.
constexpr const char* kZoomScript = R"JS(<script>
(function(){var box=document.getElementById('seqbox'),wrap=document.getElementById('seqwrap');
if(!box||!wrap)return;var H=+wrap.dataset.h,k=1;
function kmin(){return Math.min(1,(box.clientHeight-40)/H);}
function centre(){return (box.scrollTop+box.clientHeight/2)/wrap.offsetHeight;}
function zoom(nk,at){var c=(at===undefined)?centre():at;k=Math.min(64,Math.max(kmin(),nk));
wrap.style.height=(H*k)+'px';box.scrollTop=Math.max(0,c*H*k-box.clientHeight/2);}
function toViolation(){var m=document.getElementById('violation-mark');if(m)zoom(Math.max(k,2),+m.getAttribute('y1')/H);}
document.getElementById('zin').onclick=function(){zoom(k*2);};
document.getElementById('zout').onclick=function(){zoom(k/2);};
document.getElementById('zall').onclick=function(){zoom(kmin(),0.5);};
document.getElementById('zreset').onclick=function(){zoom(1,0);box.scrollTop=0;};
var v=document.getElementById('zviol');if(v){v.onclick=toViolation;}
box.addEventListener('wheel',function(e){if(!e.ctrlKey&&!e.altKey)return;e.preventDefault();zoom(e.deltaY<0?k*1.25:k/1.25);},{passive:false});
toViolation();
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
    std::size_t listed = 0;
    for (const auto& v : r.violations) {
      if (listed++ == kViolationsOnPageMax) {
        o << "<li>... and " << r.violations.size() - kViolationsOnPageMax << " more (the JSON report has them all)</li>";
        break;
      }
      o << "<li><b>" << xml_escape(v.invariant) << "</b> at " << num(v.time_ns / 1e6) << " ms: " << xml_escape(v.detail);
      if (!v.replicas.empty()) o << "; replicas " << xml_escape(ids(v.replicas));
      if (v.seq) o << "; seq " << *v.seq;
      if (!v.value_a.empty() || !v.value_b.empty()) {
        o << "; <code>" << xml_escape(v.value_a) << "</code> vs <code>" << xml_escape(v.value_b) << "</code>";
      }
      if (!v.culprits.empty()) o << "; signed by faulty replicas " << xml_escape(ids(v.culprits));
      o << "</li>";
    }
    o << "</ul>";
  }
  o << "<h2>Message sequence</h2><div><button id=\"zin\">zoom in</button><button id=\"zout\">zoom out</button>"
    << "<button id=\"zall\">whole run</button><button id=\"zreset\">reset</button>"
    << (r.violations.empty() ? "" : "<button id=\"zviol\">jump to violation</button>")
    << " time runs down; ctrl+wheel zooms; blue: delivered, red cross: dropped, orange: rejected"
    << (r.violations.empty() ? "" : ", dashed red: the first violation")
    << (r.trace_lines.empty() ? " (no trace was recorded)" : "") << "</div>" << sequence_html(r, focus, lanes);
  o << "<h2>Views and checkpoints</h2><div class=\"box\">" << timeline_svg(r)
    << "</div><p>bands: the view each replica was in (grey: crashed; * marks a faulty replica); ticks: purple entered a view, green stable checkpoint, orange state transfer or restart, red crash</p>";
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
