// The recorded trace of one run (RunReport::trace), serialised: as JSON lines for `--trace`
// (docs/report-format.md, "Trace") and as a Chrome/Perfetto trace-event file for
// `--perfetto` (docs/report-format.md, "Perfetto"), which ui.perfetto.dev and
// chrome://tracing open as is. Both are pure functions of the report: the same run gives the
// same bytes.
#pragma once
#include <string>

#include "harness/run_report.h"

namespace reports {

// The header line, then one JSON object per event, each line ending in '\n'.
std::string trace_jsonl(const harness::RunReport& report);

// One JSON object {"traceEvents": [...], ...}: a process per replica (its views as slices, a
// view change in progress as its own slice, checkpoints and state transfers as instants,
// messages sent and received with a flow from each send to its delivery, losses and
// rejections marked), one for the clients (requests as slices), one for the faults (a slice
// per fault window) and the oracles' violations as instants. Times in microseconds of
// virtual time.
std::string perfetto_json(const harness::RunReport& report);

// A one-line description of a recorded event ("2 receives PREPARE from 3: ...").
std::string describe(const sim::TraceRecord& record);

// The name of what a recorded event's tag means: the message kind for message events, the
// timer for a timer, the note's kind for a note ("" when the tag means nothing).
std::string tag_name(const sim::TraceRecord& record);

}  // namespace reports
