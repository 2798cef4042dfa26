#!/usr/bin/env bash
# The HTML reports open in headless Chromium without errors and show what they promise:
# a message sequence diagram with one lane per replica and client (faulty lanes marked),
# arrows for messages, a violation mark to zoom to, the views/checkpoints timeline, the
# plots, and explore's heatmap. The pages must be self-contained: no network at all.
#
# Two loads per page: the page as written (any console message, error or failed load fails
# the check), and a copy with a probe script that records window errors and writes what it
# counted into the DOM, read back with --dump-dom.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
  ko "headless Chromium is installed (scripts/setup-debian.sh --browser installs it)"
  finish
  exit 1
fi

# Flags that work as root on a machine with no network: no sandbox (root), no GPU, and no
# background connections (they would be refused and logged).
chrome() {  # chrome URL -> DOM on stdout, log on $tmp/log
  local profile
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=3000 --dump-dom "$1" 2>"$tmp/log"
}

# Self-contained: the only URL a page may hold is the SVG namespace name (never fetched).
check_offline() {  # check_offline NAME FILE
  if grep -Eo 'https?://[^"'"'"' <>)]*' "$2" | grep -vx 'http://www.w3.org/2000/svg' | grep -q .; then
    ko "$1 references no URL but the SVG namespace ($(grep -Eo 'https?://[^"'"'"' <>)]*' "$2" | grep -vx 'http://www.w3.org/2000/svg' | head -1))"
  elif grep -Eqi '<link|<iframe|<img|src=|@import|url\(' "$2"; then
    ko "$1 loads no external resource"
  else
    ok "$1 is self-contained (no URL, no <link>, src= or url())"
  fi
}

# Loads the page as written: it must log nothing to the console and fail no load.
check_clean_load() {  # check_clean_load NAME FILE
  if ! chrome "file://$2" >"$tmp/dom.html"; then
    ko "$1 loads in headless Chromium (exit status $?): $(tail -3 "$tmp/log")"
    return
  fi
  if grep -E ':CONSOLE|ERR_FILE_NOT_FOUND|ERR_NAME_NOT_RESOLVED|Uncaught' "$tmp/log" >"$tmp/console"; then
    ko "$1 loads without console messages or errors: $(head -3 "$tmp/console")"
  elif ! grep -q '</html>' "$tmp/dom.html"; then
    ko "$1 renders a DOM"
  else
    ok "$1 loads in headless Chromium without console messages or errors"
  fi
}

# A copy of FILE with PROBE (JS run after load) appended and an error recorder first;
# the probe writes its findings into <pre id="probe-result">.
probe() {  # probe FILE PROBE_JS -> the probe's line on stdout
  local copy="$tmp/probe-$(basename "$1")"
  python3 - "$1" "$copy" "$2" <<'PY'
import sys
page, copy, js = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
recorder = ("<script>window.__errors=[];window.addEventListener('error',function(e){"
            "window.__errors.push(String(e.message||e.type));},true);"
            "var __ce=console.error;console.error=function(){window.__errors.push('console.error: '+"
            "Array.prototype.join.call(arguments,' '));__ce.apply(console,arguments);};</script>")
runner = ("<script>window.addEventListener('load',function(){var out;try{out=(" + js + ")();}"
          "catch(e){out='probe threw: '+e;}var pre=document.createElement('pre');pre.id='probe-result';"
          "pre.textContent='PROBE '+out+' errors='+window.__errors.length+' '+window.__errors.join('|');"
          "document.body.appendChild(pre);});</script>")
assert "<head>" in page and "</body>" in page
page = page.replace("<head>", "<head>" + recorder, 1)
at = page.rindex("</body>")
page = page[:at] + runner + page[at:]
open(copy, "w").write(page)
PY
  chrome "file://$copy" | grep -o 'id="probe-result">PROBE [^<]*' | head -1 | sed 's/^id="probe-result">//' 
}

# ---- a run with a violation: f+1 colluding equivocators --------------------------------
run_page="$tmp/run.html"
if "$bin" run scenarios/colluding-equivocation-f-plus-1.json --html "$run_page" -q >/dev/null && [ -s "$run_page" ]; then
  ok "run --html writes a page"
else
  ko "run --html writes a page"
fi
check_offline "run page" "$run_page"
check_clean_load "run page" "$run_page"

read -r -d '' run_probe <<'JS'
function(){
  var svg=document.getElementById('sequence');
  if(!svg) return 'no-diagram';
  var lanes=svg.querySelectorAll('line.lane').length;
  var faulty=svg.querySelectorAll('line.lane.faulty').length;
  var arrows=svg.querySelectorAll('line.msg').length;
  var mark=document.getElementById('violation-mark')?1:0;
  var box=document.getElementById('seqbox'),wrap=document.getElementById('seqwrap');
  var m=document.getElementById('violation-mark');
  function markVisible(){var y=+m.getAttribute('y1')/(+wrap.dataset.h)*wrap.offsetHeight;
    return y>=box.scrollTop&&y<=box.scrollTop+box.clientHeight;}
  var openedAtMark=markVisible()?1:0;
  document.getElementById('zreset').click();
  var h0=wrap.offsetHeight,awayFromMark=markVisible()?0:1;
  document.getElementById('zin').click();
  var h1=wrap.offsetHeight;
  box.scrollTop=wrap.offsetHeight;
  awayFromMark=awayFromMark||(markVisible()?0:1);
  document.getElementById('zviol').click();
  var backAtMark=markVisible()?1:0;
  document.getElementById('zreset').click();
  var h2=wrap.offsetHeight;
  var r=svg.getBoundingClientRect();
  var labels=document.querySelectorAll('#lanes .lane-label').length;
  var timeline=document.querySelectorAll('#timeline rect.span').length;
  var plots=document.querySelectorAll('#latency polyline').length+document.querySelectorAll('#throughput rect').length;
  return 'lanes='+lanes+' labels='+labels+' faulty='+faulty+' arrows='+arrows+' mark='+mark+
    ' opened_at_mark='+openedAtMark+' zoomed='+(h1>h0?1:0)+' to_mark='+(awayFromMark&&backAtMark?1:0)+
    ' reset='+(h2==h0?1:0)+' shown='+(r.width>300&&r.height>300?1:0)+' timeline='+timeline+' plots='+plots;
}
JS
result=$(probe "$run_page" "$run_probe")
echo "     $result"
field() { printf '%s' "$result" | sed -nE "s/.* $1=([0-9]+).*/\\1/p"; }
[ "${result#PROBE lanes=}" != "$result" ] && ok "the probe ran in the page" || ko "the probe ran in the page ($result)"
[ "$(field errors)" = "0" ] && ok "no window error while the page loads and zooms" || ko "no window error ($result)"
# n = 4 replicas and 2 clients, replicas 0 and 1 faulty.
[ "$(field lanes)" = "6" ] && [ "$(field labels)" = "6" ] && ok "one named lane per replica and client (6)" || ko "one lane per replica and client ($result)"
[ "$(field faulty)" = "2" ] && ok "the two faulty replicas' lanes are marked" || ko "faulty lanes marked ($result)"
[ "${result#*arrows=}" != "$result" ] && [ "$(field arrows)" -gt 100 ] && ok "the diagram has message arrows" || ko "the diagram has message arrows ($result)"
[ "$(field mark)" = "1" ] && ok "the first violation is marked in the diagram" || ko "violation mark ($result)"
[ "$(field opened_at_mark)" = "1" ] && ok "the page opens with the violation in view" || ko "opens at the violation ($result)"
[ "$(field zoomed)" = "1" ] && [ "$(field to_mark)" = "1" ] && [ "$(field reset)" = "1" ] \
  && ok "zoom in, 'jump to violation' and 'reset' work" || ko "zoom ($result)"
[ "$(field shown)" = "1" ] && ok "the diagram is laid out on the page" || ko "the diagram is laid out ($result)"
[ "${result#*timeline=}" != "$result" ] && [ "$(field timeline)" -ge 4 ] && ok "the timeline has a view band per replica" || ko "timeline ($result)"
[ "${result#*plots=}" != "$result" ] && [ "$(field plots)" -gt 0 ] && ok "latency and throughput plots are drawn" || ko "plots ($result)"

# ---- a run with a view change, crash and restart: timeline marks ------------------------
vc_page="$tmp/vc.html"
"$bin" run scenarios/crash-restart-during-view-change.json --html "$vc_page" -q >/dev/null
check_clean_load "view-change page" "$vc_page"
read -r -d '' vc_probe <<'JS'
function(){
  var t=document.querySelectorAll('#timeline rect.mark title');
  var kinds={};
  for(var i=0;i<t.length;i++){kinds[t[i].textContent.split(' ')[0]]=1;}
  return 'view='+(kinds.view?1:0)+' crash='+(kinds.crash?1:0)+' restart='+(kinds.restart?1:0)+' ';
}
JS
result=$(probe "$vc_page" "$vc_probe")
echo "     $result"
[ "$(field view)" = "1" ] && [ "$(field crash)" = "1" ] && [ "$(field restart)" = "1" ] && [ "$(field errors)" = "0" ] \
  && ok "the timeline marks the view change, the crash and the restart" || ko "timeline marks ($result)"

# ---- a long run with a late view change: the whole run, windowed, with navigation -------
long_page="$tmp/long.html"
"$bin" run scenarios/silent-primary.json --html "$long_page" -q >/dev/null
check_clean_load "long-run page" "$long_page"
read -r -d '' long_probe <<'JS'
function(){
  var S=window.pbftsimSequence,info=document.getElementById('seqinfo').textContent;
  var m=/showing messages (\d+)\D(\d+) of (\d+)/.exec(info);
  var total=m?+m[3]:0,shown=m?(+m[2]-+m[1]+1):0;
  var drawn=document.querySelectorAll('#sequence line.msg').length;
  var startsAtZero=S.range()[2]<1000?1:0;
  document.getElementById('nextview').click();
  var r=S.range(),vc=null;
  for(var i=0;i<S.marks.length;i++){if(S.marks[i].type=='view'||S.marks[i].type=='view_change'){vc=S.marks[i].t;break;}}
  var reached=(vc!==null&&r[2]<=vc&&vc<=r[3])?1:0;
  var vmark=document.querySelectorAll('#sequence line.seqmark.view,#sequence line.seqmark.view_change').length;
  var late=r[0]>0?1:0;  // the window moved off the first message
  document.getElementById('seqnext').click();
  var paged=S.range()[0]>r[0]?1:0;
  var jumps=document.querySelectorAll('#seqjump option').length-1;
  var legend=document.querySelectorAll('#legend span').length;
  var shaded=document.querySelectorAll('#timeline rect.fault-window').length;
  var ticks=document.querySelectorAll('#latency text.ticklabel').length;
  var info2=document.getElementById('seqinfo').textContent.indexOf(' of '+total)>=0?1:0;
  return 'total='+total+' shown='+shown+' drawn='+drawn+' zero='+startsAtZero+' reached='+reached+' vmark='+vmark+
    ' late='+late+' paged='+paged+' jumps='+jumps+' legend='+legend+' shaded='+shaded+' ticks='+ticks+' count_kept='+info2+' ';
}
JS
result=$(probe "$long_page" "$long_probe")
echo "     $result"
[ "$(field errors)" = "0" ] && ok "the long-run page runs its navigation without a window error" || ko "long-run page errors ($result)"
[ "${result#*total=}" != "$result" ] && [ "$(field total)" -gt 1500 ] && [ "$(field shown)" -le 1500 ] && [ "$(field drawn)" = "$(field shown)" ] \
  && ok "a window of the messages is drawn and the page says which of how many" || ko "windowed, with 'showing X-Y of Z' ($result)"
[ "$(field zero)" = "1" ] && [ "$(field reached)" = "1" ] && [ "$(field vmark)" -ge 1 ] && [ "$(field late)" = "1" ] \
  && ok "'next view change' moves the window from the start to the view change, marked" || ko "navigation reaches the view change ($result)"
[ "$(field paged)" = "1" ] && [ "$(field count_kept)" = "1" ] && ok "'next' pages on through the run" || ko "paging ($result)"
[ "$(field jumps)" -ge 3 ] && ok "the jump list offers the view change and the fault" || ko "jump list ($result)"
[ "$(field legend)" -ge 5 ] && ok "a legend names the message kinds and the marks" || ko "legend ($result)"
[ "$(field shaded)" -ge 1 ] && [ "$(field ticks)" -ge 3 ] && ok "the plots have labelled axes and the fault window shaded" || ko "axes and shading ($result)"

# ---- explore's heatmap ---------------------------------------------------------------------
heat="$tmp/explore.html"
"$bin" explore scenarios/colluding-equivocation-f.json --n 4 --byzantine 0..2 --seeds 2 --html "$heat" -q >/dev/null
check_offline "explore page" "$heat"
check_clean_load "explore page" "$heat"
read -r -d '' heat_probe <<'JS'
function(){
  var cells=document.querySelectorAll('#heatmap td.cell');
  var na=0;for(var i=0;i<cells.length;i++){if(cells[i].textContent.indexOf('n/a')>=0)na++;}
  var failures=document.querySelectorAll('#failures li.failure');
  var replays=0;for(var i=0;i<failures.length;i++){if(failures[i].textContent.indexOf('pbftsim run')>=0&&failures[i].textContent.indexOf('--perfetto')>=0)replays++;}
  var listed=document.querySelectorAll('#failures li.cell-runs').length;
  return 'cells='+cells.length+' na='+na+' failures='+failures.length+' replays='+replays+' listed='+listed+' ';
}
JS
result=$(probe "$heat" "$heat_probe")
echo "     $result"
# n = 4: byzantine 0, 1 (= f) and 2 (beyond f: liveness not promised).
[ "$(field cells)" = "3" ] && [ "$(field na)" = "1" ] && [ "$(field errors)" = "0" ] \
  && ok "the heatmap has a cell per byzantine count, liveness n/a beyond f" || ko "heatmap ($result)"
[ "$(field listed)" = "3" ] && [ "$(field failures)" -ge 1 ] && [ "$(field replays)" = "$(field failures)" ] \
  && ok "the explore page lists each cell's seeds and every failing seed with its replay and viewer commands" \
  || ko "explore failures listed ($result)"

finish
