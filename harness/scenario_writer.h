// Writes a Scenario back as JSON in the documented scenario format (docs/scenario-format.md),
// so that parse_scenario(scenario_to_json(s)) gives back s (source_path and json_path
// aside) and `pbftsim run` of the file replays the same run. Used by `pbftsim fuzz` to save
// failing cases. Times are written in ms, as integers when they are whole.
#pragma once
#include <string>

#include "harness/scenario.h"

namespace harness {

// REQUIRES: `scenario` is valid (as parse_scenario would accept it). Never throws.
std::string scenario_to_json(const Scenario& scenario);

}  // namespace harness
