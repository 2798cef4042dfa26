// Self-contained HTML pages: inline CSS, SVG and a little JS; no external resources.
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <sstream>

#include <nlohmann/json.hpp>

#include "protocol/io.h"
#include "protocol/message.h"
#include "reports/trace_writers.h"
#include "reports/writers.h"

namespace reports {

namespace {

constexpr std::size_t kViolationsOnPageMax = 50;  // the page lists the first ones (the JSON has all)
constexpr std::uint32_t kClientLanesShownMax = 8;       // more clients share lanes
constexpr std::size_t kWindowArrows = 1500;        // arrows drawn at a time; the page pages through all
constexpr const char* kStyle =
    "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    ".pass{color:#176b2c}.fail{color:#b00020}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    ".box{border:1px solid #ddd;padding:.5em;margin:.8em 0;overflow:auto}"
    "button{margin-right:.4em}code{background:#f4f4f4;padding:.1em .3em}"
    ".legend span{display:inline-block;margin-right:.9em;font-size:12px}"
    ".legend i{display:inline-block;width:1.6em;height:3px;vertical-align:middle;margin-right:.3em}"
    "#seqnav{margin:.4em 0}#seqnav input{width:6em}#seqinfo{font-weight:bold;margin-left:.5em}"
    ".failures li{text-align:left;margin:.2em 0}</style>";

// A colour per message kind (index = protocol::MessageKind), for arrows and the legend.
constexpr const char* kKindColours[] = {"#777777", "#1f77b4", "#2ca02c", "#17becf", "#9467bd", "#8c564b",
                                        "#bcbd22", "#e377c2", "#d62728", "#7f7f7f", "#ff7f0e", "#aec7e8",
                                        "#98df8a", "#c5b0d5", "#c49c94"};
static_assert(sizeof(kKindColours) / sizeof(kKindColours[0]) == protocol::kMessageKindMax + 1);

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

// A time for an axis or a label: ms with a unit, or s from 10 s on.
std::string time_label(double ns) {
  if (ns >= 10e9) return num(ns / 1e9) + " s";
  return num(ns / 1e6) + " ms";
}

// Round tick spacing (1, 2 or 5 x 10^k) giving about `want` ticks over `span`.
double tick_step(double span, int want) {
  const double raw = span / std::max(1, want);
  const double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-9))));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

// JSON for embedding in a <script>: "</" cannot end the script.
std::string script_json(const nlohmann::ordered_json& j) {
  const std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 1 < s.size() && s[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::uint32_t client_count(const RunReport& r) {
  std::uint32_t nodes = r.n;
  for (const auto& rec : r.trace) nodes = std::max({nodes, rec.event.from + 1, rec.event.to + 1});
  return nodes - r.n;
}

bool is_faulty(const RunReport& r, std::uint32_t replica) {
  return std::find(r.faulty_replicas.begin(), r.faulty_replicas.end(), replica) != r.faulty_replicas.end();
}

// Every message of the run as data for the page's script: lanes, arrows (a send paired with
// its delivery or loss; a rejected delivery marked), and the points worth jumping to.
nlohmann::ordered_json sequence_data(const RunReport& r) {
  const std::uint32_t clients = client_count(r);
  const std::uint32_t client_lanes = std::min(clients, kClientLanesShownMax);
  const auto lane_of = [&](std::uint32_t node) { return node < r.n ? node : r.n + (node - r.n) % kClientLanesShownMax; };
  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
  nlohmann::ordered_json lanes = nlohmann::ordered_json::array();
  for (std::uint32_t i = 0; i < r.n; ++i) {
    lanes.push_back({{"name", "replica " + std::to_string(i)}, {"faulty", is_faulty(r, i)}});
  }
  for (std::uint32_t c = 0; c < client_lanes; ++c) {
    std::string name = "client " + std::to_string(r.n + c);
    if (clients > kClientLanesShownMax) {
      name = "clients " + std::to_string(r.n + c) + " + " + std::to_string(kClientLanesShownMax) + "k";
    }
    lanes.push_back({{"name", name}, {"faulty", false}});
  }
  // [sent_us, arrived_us, from_lane, to_lane, kind, status (0 delivered, 1 lost, 2 rejected), summary]
  nlohmann::ordered_json arrows = nlohmann::ordered_json::array();
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>, std::deque<std::int64_t>> sent;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::size_t> last_delivery;  // (to, hash) -> arrow
  nlohmann::ordered_json marks = nlohmann::ordered_json::array();
  std::set<std::uint64_t> views_marked, changes_marked;
  for (const auto& rec : r.trace) {
    const auto& e = rec.event;
    switch (e.kind) {
      case sim::TraceKind::Send: sent[{e.from, e.to, rec.shown_hash}].push_back(e.time_ns); break;
      case sim::TraceKind::Deliver:
      case sim::TraceKind::Drop: {
        auto& q = sent[{e.from, e.to, rec.shown_hash}];
        const std::int64_t at = q.empty() ? e.time_ns : q.front();
        if (!q.empty()) q.pop_front();
        if (e.kind == sim::TraceKind::Deliver) last_delivery[{e.to, rec.shown_hash}] = arrows.size();
        arrows.push_back({us(at), us(e.time_ns), lane_of(e.from), lane_of(e.to), std::min<std::uint32_t>(e.tag, protocol::kMessageKindMax),
                          e.kind == sim::TraceKind::Drop ? 1 : 0, rec.summary});
        break;
      }
      case sim::TraceKind::Reject: {
        auto it = last_delivery.find({e.to, rec.shown_hash});
        if (it != last_delivery.end()) {
          const auto reason = static_cast<protocol::RejectReason>(std::min<std::uint64_t>(e.a, protocol::kRejectReasons - 1));
          arrows[it->second][5] = 2;
          arrows[it->second][6] = rec.summary + " (rejected: " + protocol::reject_reason_name(reason) + ")";
        }
        break;
      }
      case sim::TraceKind::Note:
        if (rec.note == sim::NoteKind::ViewEntered && views_marked.insert(e.a).second) {
          marks.push_back({{"t", us(e.time_ns)}, {"type", "view"},
                           {"label", "view " + std::to_string(e.a) + " entered (first: replica " + std::to_string(e.to) + ")"}});
        } else if (rec.note == sim::NoteKind::ViewChangeStarted && changes_marked.insert(e.a).second) {
          marks.push_back({{"t", us(e.time_ns)}, {"type", "view_change"},
                           {"label", "view change to " + std::to_string(e.a) + " starts (first: replica " +
                                         std::to_string(e.to) + ")"}});
        } else if (rec.note == sim::NoteKind::FaultStarted || rec.note == sim::NoteKind::FaultEnded) {
          marks.push_back({{"t", us(e.time_ns)}, {"type", "fault"}, {"label", rec.summary}});
        } else if (rec.note == sim::NoteKind::Restarted) {
          marks.push_back({{"t", us(e.time_ns)}, {"type", "fault"}, {"label", "replica " + std::to_string(e.to) + " restarts"}});
        }
        break;
      default: break;
    }
  }
  for (const auto& v : r.violations) {
    marks.push_back({{"t", us(v.time_ns)}, {"type", "violation"}, {"label", "violation: " + v.invariant}});
  }
  std::stable_sort(marks.begin(), marks.end(), [](const nlohmann::ordered_json& a, const nlohmann::ordered_json& b) {
    return a["t"].get<double>() < b["t"].get<double>();
  });
  nlohmann::ordered_json kinds = nlohmann::ordered_json::array();
  for (std::uint32_t k = 0; k <= protocol::kMessageKindMax; ++k) {
    kinds.push_back(k == 0 ? "?" : protocol::message_kind_name(static_cast<protocol::MessageKind>(k)));
  }
  nlohmann::ordered_json colours = nlohmann::ordered_json::array();
  for (const char* c : kKindColours) colours.push_back(c);
  return {{"lanes", lanes}, {"arrows", arrows}, {"marks", marks}, {"kinds", kinds}, {"colours", colours},
          {"window", kWindowArrows}, {"focus", r.violations.empty() ? -1.0 : us(r.violations.front().time_ns)}};
}

// The legend: a colour per message kind that occurs, and how losses and rejections look.
std::string legend_html(const RunReport& r) {
  std::set<std::uint32_t> used;
  for (const auto& rec : r.trace) {
    if (rec.event.kind == sim::TraceKind::Send) used.insert(std::min<std::uint32_t>(rec.event.tag, protocol::kMessageKindMax));
  }
  std::ostringstream o;
  o << "<div class=\"legend\" id=\"legend\">";
  for (auto k : used) {
    o << "<span><i style=\"background:" << kKindColours[k] << "\"></i>"
      << (k == 0 ? "?" : protocol::message_kind_name(static_cast<protocol::MessageKind>(k))) << "</span>";
  }
  o << "<span><i style=\"background:repeating-linear-gradient(90deg,#d33 0 4px,transparent 4px 7px)\"></i>lost "
       "(dashed, a cross where it was headed)</span>"
    << "<span><i style=\"background:#e08000;height:5px\"></i>rejected by the receiver (thick, a circle)</span>"
    << "<span><i style=\"background:#b00020\"></i>violation</span><span><i style=\"background:#7a3fb0\"></i>view change</span>"
    << "<span><i style=\"background:#999\"></i>fault start or end</span></div>";
  return o.str();
}

// Fault windows shaded on a plot whose x axis maps time_ns through `x`.
template <class X>
void shade_faults(std::ostringstream& o, const RunReport& r, X x, double top, double bottom) {
  for (const auto& f : r.faults) {
    o << "<rect class=\"fault-window\" x=\"" << num(x(f.from_ns)) << "\" y=\"" << num(top) << "\" width=\""
      << num(std::max(1.0, x(f.until_ns) - x(f.from_ns))) << "\" height=\"" << num(bottom - top)
      << "\" fill=\"#f3c4c4\" fill-opacity=\"0.45\"><title>fault " << xml_escape(f.kind) << " [" << xml_escape(f.replicas)
      << "] " << time_label(static_cast<double>(f.from_ns)) << " to " << time_label(static_cast<double>(f.until_ns))
      << "</title></rect>";
  }
}

// A time axis along y = `y`, from 0 to tmax, with round ticks and their units.
template <class X>
void time_axis(std::ostringstream& o, X x, double y, double tmax) {
  o << "<line class=\"axis\" x1=\"" << num(x(0)) << "\" x2=\"" << num(x(static_cast<std::int64_t>(tmax))) << "\" y1=\""
    << num(y) << "\" y2=\"" << num(y) << "\" stroke=\"#444\"/>";
  const double step = tick_step(tmax, 8);
  for (double t = 0; t <= tmax + 1; t += step) {
    const double tx = x(static_cast<std::int64_t>(t));
    o << "<line class=\"tick\" x1=\"" << num(tx) << "\" x2=\"" << num(tx) << "\" y1=\"" << num(y) << "\" y2=\"" << num(y + 4)
      << "\" stroke=\"#444\"/><text class=\"ticklabel\" x=\"" << num(tx) << "\" y=\"" << num(y + 15)
      << "\" font-size=\"10\" text-anchor=\"middle\">" << time_label(t) << "</text>";
  }
}

// One lane per replica: a band per view it was in (colour by view), grey while crashed;
// entering a view is a dark line across the band, a stable checkpoint a green tick above it,
// a state transfer or restart an orange one below; fault windows shaded behind.
std::string timeline_svg(const RunReport& r) {
  constexpr const char* kViewColours[] = {"#cfd8ef", "#d9c6ec", "#c6e5d9", "#efe0c2", "#ecc6cf", "#c9e3ee"};
  const double width = 900, left = 40, lane_h = 30, height = 50 + lane_h * std::max<std::uint32_t>(r.n, 1);
  const double tmax = std::max<double>(1, static_cast<double>(r.stats.virtual_time_ns));
  auto x = [&](std::int64_t t) { return left + (width - left - 20) * static_cast<double>(t) / tmax; };
  std::ostringstream o;
  o << "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  shade_faults(o, r, x, 4, 10 + lane_h * r.n);
  for (std::uint32_t i = 0; i < r.n; ++i) {
    const double top = 10 + lane_h * i;
    const bool faulty = is_faulty(r, i);
    o << "<text x=\"0\" y=\"" << num(top + 17) << "\" font-size=\"11\"" << (faulty ? " fill=\"#b00020\"" : "") << ">r" << i
      << (faulty ? "*" : "") << "</text>";
    // Walk this replica's marks (they are in time order) and close a band at each change.
    std::int64_t since = 0;
    std::uint64_t view = 0;
    bool up = true;
    auto band = [&](std::int64_t until) {
      if (until < since || (until == since && until != r.stats.virtual_time_ns)) return;  // empty band
      const std::string fill = up ? kViewColours[view % 6] : "#999";
      const std::string what = up ? "view " + std::to_string(view) : "crashed";
      o << "<rect class=\"span\" x=\"" << num(x(since)) << "\" y=\"" << num(top + 4) << "\" width=\""
        << num(std::max(1.0, x(until) - x(since))) << "\" height=\"16\" fill=\"" << fill << "\"><title>replica " << i
        << ": " << what << " from " << time_label(static_cast<double>(since)) << " to "
        << time_label(static_cast<double>(until)) << "</title></rect>";
    };
    for (const auto& m : r.timeline) {
      if (m.replica != i) continue;
      if (m.kind == "view" || m.kind == "crash" || m.kind == "restart") {
        band(m.time_ns);
        since = m.time_ns;
        if (m.kind == "view") view = m.value;
        if (m.kind == "crash") up = false;
        if (m.kind == "restart") {
          up = true;
          view = 0;
        }
      }
    }
    band(r.stats.virtual_time_ns);
    // The marks on top of the bands, so that none hides under one.
    for (const auto& m : r.timeline) {
      if (m.replica != i) continue;
      const bool checkpoint = m.kind == "stable_checkpoint";
      const bool view_mark = m.kind == "view";
      const char* colour = view_mark ? "#7a3fb0" : checkpoint ? "#3a9d5d" : m.kind == "crash" ? "#b00020" : "#e08000";
      const double y0 = view_mark ? top + 2 : checkpoint ? top - 1 : top + 20;
      const double h = view_mark ? 20 : 5;
      o << "<rect class=\"mark " << xml_escape(m.kind) << "\" x=\"" << num(x(m.time_ns) - (view_mark ? 1 : 0.75))
        << "\" y=\"" << num(y0) << "\" width=\"" << (view_mark ? 2 : 1.5) << "\" height=\"" << num(h) << "\" fill=\""
        << colour << "\"><title>"
        << xml_escape(m.kind + " " + std::to_string(m.value) + " @" + time_label(static_cast<double>(m.time_ns)))
        << "</title></rect>";
    }
  }
  time_axis(o, x, 14 + lane_h * r.n, tmax);
  o << "</svg>";
  return o.str();
}

// Latency of each completed request (a dot at its completion time) and completions per
// time bucket, both with axes and the fault windows shaded.
std::string plots_svg(const RunReport& r) {
  const double width = 900, height = 230, left = 60, right = 20, top = 20, bottom = 40;
  const double tmax = std::max<double>(1, static_cast<double>(r.stats.virtual_time_ns));
  double lmax = 1;
  for (const auto& c : r.completions) lmax = std::max(lmax, static_cast<double>(c.latency_ns));
  auto x = [&](std::int64_t t) { return left + (width - left - right) * static_cast<double>(t) / tmax; };
  auto ly = [&](double ns) { return height - bottom - (height - top - bottom) * ns / lmax; };
  std::ostringstream o;
  o << "<svg id=\"latency\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  shade_faults(o, r, x, top, height - bottom);
  const double lstep = tick_step(lmax, 5);
  for (double l = 0; l <= lmax * 1.0001; l += lstep) {
    o << "<line x1=\"" << num(left - 4) << "\" x2=\"" << num(width - right) << "\" y1=\"" << num(ly(l)) << "\" y2=\""
      << num(ly(l)) << "\" stroke=\"#e4e4e4\"/><text class=\"ticklabel\" x=\"" << num(left - 6) << "\" y=\""
      << num(ly(l) + 3) << "\" font-size=\"10\" text-anchor=\"end\">" << num(l / 1e6) << "</text>";
  }
  o << "<line class=\"axis\" x1=\"" << num(left) << "\" x2=\"" << num(left) << "\" y1=\"" << num(top) << "\" y2=\""
    << num(height - bottom) << "\" stroke=\"#444\"/>";
  for (const auto& c : r.completions) {
    o << "<circle class=\"point\" cx=\"" << num(x(c.time_ns)) << "\" cy=\"" << num(ly(static_cast<double>(c.latency_ns)))
      << "\" r=\"1.6\" fill=\"#3366aa\"/>";
  }
  time_axis(o, x, height - bottom, tmax);
  o << "<text x=\"0\" y=\"12\" font-size=\"11\">request latency (ms) by completion time: " << r.completions.size()
    << " requests, max " << num(lmax / 1e6) << " ms; shaded: fault windows</text></svg>";

  constexpr int kBuckets = 60;
  std::vector<int> per(kBuckets, 0);
  for (const auto& c : r.completions) {
    per[std::min<int>(kBuckets - 1, static_cast<int>(kBuckets * static_cast<double>(c.time_ns) / (tmax + 1)))]++;
  }
  const int pmax = std::max(1, *std::max_element(per.begin(), per.end()));
  auto ty = [&](double v) { return height - bottom - (height - top - bottom) * v / pmax; };
  o << "<svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\">";
  shade_faults(o, r, x, top, height - bottom);
  const double pstep = std::max(1.0, tick_step(pmax, 4));
  for (double v = 0; v <= pmax; v += pstep) {
    o << "<line x1=\"" << num(left - 4) << "\" x2=\"" << num(width - right) << "\" y1=\"" << num(ty(v)) << "\" y2=\""
      << num(ty(v)) << "\" stroke=\"#e4e4e4\"/><text class=\"ticklabel\" x=\"" << num(left - 6) << "\" y=\""
      << num(ty(v) + 3) << "\" font-size=\"10\" text-anchor=\"end\">" << static_cast<int>(v) << "</text>";
  }
  for (int b = 0; b < kBuckets; ++b) {
    const double bx = x(static_cast<std::int64_t>(tmax * b / kBuckets));
    o << "<rect class=\"bar\" x=\"" << num(bx) << "\" y=\"" << num(ty(per[b])) << "\" width=\""
      << num((width - left - right) / kBuckets - 1) << "\" height=\"" << num(height - bottom - ty(per[b]))
      << "\" fill=\"#3a9d5d\"/>";
  }
  o << "<line class=\"axis\" x1=\"" << num(left) << "\" x2=\"" << num(left) << "\" y1=\"" << num(top) << "\" y2=\""
    << num(height - bottom) << "\" stroke=\"#444\"/>";
  time_axis(o, x, height - bottom, tmax);
  o << "<text x=\"0\" y=\"12\" font-size=\"11\">requests completed per " << time_label(tmax / kBuckets)
    << "; shaded: fault windows</text></svg>";
  return o.str();
}

// The sequence diagram, drawn by the script from the embedded data: a window of arrows at a
// time (never more than the data's `window`), the count always shown, paging, a time range,
// and a list of points to jump to (view changes, faults, violations). Time runs down.
constexpr const char* kSequenceScript = R"JS(<script>
(function(){
var D=JSON.parse(document.getElementById('seqdata').textContent);
var box=document.getElementById('seqbox'),wrap=document.getElementById('seqwrap'),svg=document.getElementById('sequence');
var lanesDiv=document.getElementById('lanes'),info=document.getElementById('seqinfo');
var NS='http://www.w3.org/2000/svg',W=1000,L=70,A=D.arrows,N=A.length,lo=0,hi=0,k=1,H=600,t0=0,t1=1,markT=null;
var NL=Math.max(1,D.lanes.length);function lx(l){return L+(W-L-10)*(Math.min(l,NL-1)+0.5)/NL;}
function el(n,a,p){var e=document.createElementNS(NS,n);for(var x in a)e.setAttribute(x,a[x]);if(p)p.appendChild(e);return e;}
function fmt(us){return us>=1e7?(us/1e6).toFixed(2)+' s':(us/1e3).toFixed(1)+' ms';}
D.lanes.forEach(function(l,i){var s=document.createElement('span');s.className='lane-label'+(l.faulty?' faulty':'');
 s.style.cssText='position:absolute;transform:translateX(-50%);font-size:11px;text-align:center;top:.2em;left:'+(lx(i)/W*100)+'%'+(l.faulty?';color:#b00020':'');
 s.textContent=l.name;if(l.faulty){s.appendChild(document.createElement('br'));s.appendChild(document.createTextNode('(faulty)'));}
 lanesDiv.appendChild(s);});
function firstAt(us){var a=0,b=N;while(a<b){var m=(a+b)>>1;if(A[m][1]<us)a=m+1;else b=m;}return a;}
function y(t){return 20+(H-30)*(t-t0)/(t1-t0);}
function draw(){while(svg.firstChild)svg.removeChild(svg.firstChild);
 var n=hi-lo;H=Math.max(600,n*8);wrap.dataset.h=H;wrap.style.height=(H*k)+'px';svg.setAttribute('viewBox','0 0 '+W+' '+H);
 t0=n?A[lo][0]:0;t1=t0+1;for(var i=lo;i<hi;i++){t0=Math.min(t0,A[i][0]);t1=Math.max(t1,A[i][1]);}
 if(markT!==null){t0=Math.min(t0,markT);t1=Math.max(t1,markT+1);}
 D.lanes.forEach(function(l,i){el('line',{'class':'lane'+(l.faulty?' faulty':''),x1:lx(i),x2:lx(i),y1:0,y2:H,stroke:l.faulty?'#b00020':'#999','stroke-width':l.faulty?2:1,'vector-effect':'non-scaling-stroke'},svg);});
 D.marks.forEach(function(m){if(m.t<t0||m.t>t1)return;var c=m.type=='violation'?'#b00020':m.type=='fault'?'#999':'#7a3fb0';
  var a={'class':'seqmark '+m.type,x1:0,x2:W,y1:y(m.t),y2:y(m.t),stroke:c,'stroke-width':m.type=='violation'?2:1.5,'stroke-dasharray':'6 3','vector-effect':'non-scaling-stroke'};
  if(m.type=='violation'&&m.t==D.focus&&!svg.querySelector('#violation-mark'))a.id='violation-mark';
  el('title',{},el('line',a,svg)).textContent=m.label+' @ '+fmt(m.t);});
 for(var i=lo;i<hi;i++){var a=A[i],st=a[5],c=st==1?'#d33':D.colours[a[4]];
  var ln=el('line',{'class':'msg '+(st==1?'drop':st==2?'reject':'deliver'),x1:lx(a[2]),y1:y(a[0]),x2:lx(a[3]),y2:y(a[1]),stroke:c,
   'stroke-width':st==2?2.5:1.2,'vector-effect':'non-scaling-stroke'},svg);if(st==1)ln.setAttribute('stroke-dasharray','4 3');
  el('title',{},ln).textContent=D.kinds[a[4]]+' '+D.lanes[a[2]].name+' \u2192 '+D.lanes[a[3]].name+', sent '+fmt(a[0])+', '+(st==1?'lost':'arrived')+' '+fmt(a[1])+(a[6]?': '+a[6]:'');
  var cx=lx(a[3]),cy=y(a[1]);
  if(st==1)el('path',{'class':'dropmark',d:'M'+(cx-5)+' '+(cy-3)+'L'+(cx+5)+' '+(cy+3)+'M'+(cx-5)+' '+(cy+3)+'L'+(cx+5)+' '+(cy-3),stroke:'#d33','vector-effect':'non-scaling-stroke'},svg);
  if(st==2)el('circle',{'class':'rejectmark',cx:cx,cy:cy,r:4,fill:'none',stroke:'#e08000','vector-effect':'non-scaling-stroke'},svg);}
 var old=wrap.querySelectorAll('.tick');for(var j=0;j<old.length;j++)old[j].parentNode.removeChild(old[j]);
 var ticks=Math.max(2,Math.floor(H/320));for(var j=0;j<=ticks;j++){var t=t0+(t1-t0)*j/ticks,s=document.createElement('span');
  s.className='tick';s.style.cssText='position:absolute;left:2px;font-size:10px;color:#666;top:'+(100*y(t)/H)+'%';s.textContent=fmt(t);wrap.appendChild(s);}
 info.textContent=N?('showing messages '+(lo+1)+'\u2013'+hi+' of '+N+' ('+fmt(t0)+' to '+fmt(t1)+')'):'no messages were recorded';}
function show(a,b,at){lo=Math.max(0,Math.min(a,N));hi=Math.max(lo,Math.min(b,N,lo+D.window));draw();
 if(at!==undefined){box.scrollTop=Math.max(0,y(at)/H*H*k-box.clientHeight/2);}else box.scrollTop=0;}
function showTime(us){markT=us;var i=firstAt(us),a=Math.max(0,i-(D.window>>1));show(a,a+D.window,us);}
function kmin(){return Math.min(1,(box.clientHeight-40)/H);}
function centre(){return (box.scrollTop+box.clientHeight/2)/wrap.offsetHeight;}
function zoom(nk,at){var c=(at===undefined)?centre():at;k=Math.min(64,Math.max(kmin(),nk));
 wrap.style.height=(H*k)+'px';box.scrollTop=Math.max(0,c*H*k-box.clientHeight/2);}
function toViolation(){if(D.focus<0)return;showTime(D.focus);var m=document.getElementById('violation-mark');if(m)zoom(Math.max(k,2),+m.getAttribute('y1')/H);}
var jump=document.getElementById('seqjump');D.marks.forEach(function(m,i){var o=document.createElement('option');o.value=i;o.textContent=fmt(m.t)+': '+m.label;jump.appendChild(o);});
jump.onchange=function(){if(jump.value!=='')showTime(D.marks[+jump.value].t);};
function isType(m,type){return m.type==type||(type=='view'&&m.type=='view_change');}
function next(type){var cur=markT!==null?markT:t0,best=null;
 D.marks.forEach(function(m){if(isType(m,type)&&m.t>cur&&(best===null||m.t<best))best=m.t;});
 if(best===null)D.marks.forEach(function(m){if(isType(m,type)&&best===null)best=m.t;});
 if(best!==null)showTime(best);return best;}
document.getElementById('seqprev').onclick=function(){markT=null;show(lo-D.window,lo);};
document.getElementById('seqnext').onclick=function(){markT=null;show(hi,hi+D.window);};
document.getElementById('seqfirst').onclick=function(){markT=null;show(0,D.window);};
document.getElementById('seqlast').onclick=function(){markT=null;show(N-D.window,N);};
document.getElementById('nextview').onclick=function(){next('view');};
document.getElementById('nextfault').onclick=function(){next('fault');};
document.getElementById('seqgo').onclick=function(){var a=parseFloat(document.getElementById('seqfrom').value),b=parseFloat(document.getElementById('seqto').value);
 if(isNaN(a))a=0;markT=null;var i=firstAt(a*1000),j=isNaN(b)?i+D.window:firstAt(b*1000);show(i,Math.max(j,i+1));};
document.getElementById('zin').onclick=function(){zoom(k*2);};
document.getElementById('zout').onclick=function(){zoom(k/2);};
document.getElementById('zall').onclick=function(){zoom(kmin(),0.5);};
document.getElementById('zreset').onclick=function(){zoom(1,0);box.scrollTop=0;};
var v=document.getElementById('zviol');if(v){v.onclick=toViolation;}
box.addEventListener('wheel',function(e){if(!e.ctrlKey&&!e.altKey)return;e.preventDefault();zoom(e.deltaY<0?k*1.25:k/1.25);},{passive:false});
window.pbftsimSequence={show:show,showTime:showTime,next:next,marks:D.marks,count:N,range:function(){return [lo,hi,t0,t1];}};
show(0,D.window);toViolation();
})();</script>)JS";

}  // namespace

std::string to_html(const RunReport& r) {
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
  o << "<h2>Message sequence</h2>" << legend_html(r) << "<div id=\"seqnav\"><button id=\"seqfirst\">first</button>"
    << "<button id=\"seqprev\">previous</button><button id=\"seqnext\">next</button><button id=\"seqlast\">last</button>"
    << "from <input id=\"seqfrom\" placeholder=\"ms\"> to <input id=\"seqto\" placeholder=\"ms\"> ms "
    << "<button id=\"seqgo\">show</button> <button id=\"nextview\">next view change</button>"
    << "<button id=\"nextfault\">next fault</button> jump to: <select id=\"seqjump\"><option value=\"\">"
    << "(view changes, faults, violations)</option></select><span id=\"seqinfo\"></span></div>"
    << "<div><button id=\"zin\">zoom in</button><button id=\"zout\">zoom out</button>"
    << "<button id=\"zall\">fit</button><button id=\"zreset\">reset</button>"
    << (r.violations.empty() ? "" : "<button id=\"zviol\">jump to violation</button>")
    << " time runs down; ctrl+wheel zooms; hover an arrow for the message"
    << (r.trace.empty() ? " (no trace was recorded)" : "") << "</div>"
    << "<div id=\"seqbox\" class=\"box\" style=\"height:640px;padding:0;position:relative\">"
    << "<div id=\"lanes\" style=\"position:sticky;top:0;height:2.6em;background:#fff;z-index:1;border-bottom:1px solid #ddd\"></div>"
    << "<div id=\"seqwrap\" style=\"position:relative;height:600px\" data-h=\"600\">"
    << "<svg id=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 600\" preserveAspectRatio=\"none\" "
    << "style=\"width:100%;height:100%;display:block\"></svg></div></div>"
    << "<script type=\"application/json\" id=\"seqdata\">" << script_json(sequence_data(r)) << "</script>";
  o << "<h2>Views and checkpoints</h2><div class=\"box\">" << timeline_svg(r)
    << "</div><p>bands: the view each replica was in (grey: crashed; * marks a faulty replica); marks: a purple line "
       "entered a view, a green tick above a stable checkpoint, an orange one below a state transfer or restart, red a "
       "crash; shaded: fault windows</p>";
  o << "<h2>Latency and throughput</h2><div class=\"box\">" << plots_svg(r) << "</div>";
  o << kSequenceScript << "</body></html>\n";
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
  o << "</table><h2>Runs of each cell</h2><ul class=\"failures\" id=\"failures\">";
  for (const auto& c : cells) {
    o << "<li class=\"cell-runs\"><b>n=" << c.n << " byzantine=" << c.byzantine << "</b>: seeds " << c.first_seed << ".."
      << c.first_seed + (c.runs == 0 ? 0 : c.runs - 1) << ", " << c.failures.size() << " failing";
    if (!c.failures.empty()) {
      o << "<ul>";
      for (const auto& f : c.failures) {
        o << "<li class=\"failure\">seed " << f.seed << ": " << xml_escape(f.what) << "<br>replay: <code>"
          << xml_escape(f.replay) << "</code><br>look: <code>" << xml_escape(f.replay) << " --html seed" << f.seed
          << ".html --perfetto seed" << f.seed << ".perfetto.json</code></li>";
      }
      o << "</ul>";
    }
    o << "</li>";
  }
  o << "</ul></body></html>\n";
  return o.str();
}

}  // namespace reports
