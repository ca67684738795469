// convgen: the schedule's knobs, for experiments and tuning.
//
// Every knob starts unset, meaning "the schedule decides" (the choices measured on the
// benchmark suite, bench/RESULTS.md); a set knob overrides that one choice. Written as
// text, "name=value,name=value", e.g. "pixels=8,channel_tile=16,padded_at=task": the
// form the `schedule` generator parameter, `convgen bench/explain/tune --schedule`,
// convgen_add_kernel(... SCHEDULE ...) and the tuning database take.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace convgen {

struct ScheduleKnobs {
    std::map<std::string, std::string> values;  // knob name -> value, as written

    bool has(const std::string &name) const { return values.count(name) != 0; }
    /// The knob's value, or `fallback` when it is unset.
    int get(const std::string &name, int fallback) const;
    std::string get(const std::string &name, const std::string &fallback) const;
    bool operator==(const ScheduleKnobs &other) const { return values == other.values; }
};

/// One knob: its name, the values it takes (integers in [min, max], or one of `choices`)
/// and what it changes.
struct KnobInfo {
    const char *name;
    int min, max;                      // integer knobs
    std::vector<std::string> choices;  // word knobs (then min == max == 0)
    const char *help;
};

/// Every knob, CPU ones first, then GPU ones, then the autoscheduler.
const std::vector<KnobInfo> &schedule_knobs();

/// Parses "name=value,..." (empty text: no knob set). Throws Error(InvalidSpec) naming
/// an unknown knob (and listing the known ones) or a value out of range.
ScheduleKnobs parse_schedule_knobs(const std::string &text);

/// "name=value,..." in the order of schedule_knobs(); "" when nothing is set.
std::string to_string(const ScheduleKnobs &knobs);

/// Throws Error(InvalidSpec) "schedule knobs: MESSAGE": a knob the layer or target refuses.
[[noreturn]] void knob_error(const std::string &message);

/// A table of every knob with its values and help, for --help texts.
std::string describe_schedule_knobs();

}  // namespace convgen
