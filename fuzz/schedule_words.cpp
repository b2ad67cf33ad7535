// Prints the schedule words of the text form in libFuzzer's dictionary
// format, one per line: every schedule's name and parameter keys, and each
// word a parameter takes, all from the library's descriptions
// (clr::schedule_catalog). scripts/fuzz.sh adds them to fuzz/schedules.dict,
// which holds the grammar and the numbers, so a new schedule is fuzzed with
// its own words without editing a list.
#include <clr/clr.hpp>

#include <cstdio>
#include <set>
#include <string>

int main() {
    std::set<std::string> words;
    for (const auto& e : clr::schedule_catalog<double>()) {
        words.insert(std::string(e.name) + "(");
        for (const auto& p : e.parameters) {
            if (p.kind == clr::value_kind::schedule || p.kind == clr::value_kind::pieces) continue;
            const std::string key = std::string(p.key) + "=";
            words.insert(p.kind == clr::value_kind::lengths || p.kind == clr::value_kind::numbers ? key + "["
                                                                                                  : key);
            std::string choice;
            for (const char* c = p.choices;; ++c) {
                if (*c == '|' || *c == '\0') {
                    if (!choice.empty()) words.insert(key + choice);
                    choice.clear();
                    if (*c == '\0') break;
                } else {
                    choice += *c;
                }
            }
        }
    }
    for (const auto& w : words) std::printf("\"%s\"\n", w.c_str());
    return 0;
}
