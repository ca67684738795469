#include "scratch_poison.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace convgen::detail {

bool scratch_poisoned() {
    static const bool poisoned = [] {
        const char *env = std::getenv("CONVGEN_POISON_SCRATCH");
        return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
    }();
    return poisoned;
}

void poison_scratch(void *data, size_t bytes) {
    constexpr uint32_t kQuietNan = 0x7fc00000u;
    unsigned char *p = static_cast<unsigned char *>(data);
    for (size_t i = 0; i < bytes; i += sizeof kQuietNan) {
        std::memcpy(p + i, &kQuietNan, bytes - i < sizeof kQuietNan ? bytes - i : sizeof kQuietNan);
    }
}

}  // namespace convgen::detail
