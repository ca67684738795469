// The scratch cache (scratch_cache.h).
#include "scratch_cache.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "convgen/aot_kernel.h"  // kScratchCacheBytes
#include "scratch_poison.h"

namespace convgen::detail {

namespace {

// Blocks aligned as Halide's own allocator aligns them (128 bytes), with readable bytes
// around each: the pointer malloc gave just before the block, and more than kSlack bytes
// past its end (generated code may load a few bytes past a buffer; poisoned blocks are
// poisoned that far too, so such loads read NaNs). An empty request gets a block as well:
// Halide asks for them (the unused host side of a GPU intermediate).
constexpr size_t kAlignment = 128;

void *aligned_block(size_t size) {
    if (size > SIZE_MAX / 2) return nullptr;  // (no overflow below)
    const size_t bytes = (size / kAlignment + 2) * kAlignment;  // at least size + kAlignment + 1
    void *original = std::malloc(bytes + kAlignment);
    if (original == nullptr) return nullptr;
    const uintptr_t start = reinterpret_cast<uintptr_t>(original) + sizeof(void *);
    void **block = reinterpret_cast<void **>((start + kAlignment - 1) / kAlignment * kAlignment);
    block[-1] = original;
    return block;
}

void free_aligned_block(void *block) { std::free(static_cast<void **>(block)[-1]); }

// A request takes the smallest cached block that holds it, if that is at most twice its
// size (the tile buffers of a layer's tasks differ a little in size).
//
// Small blocks (a task's tiles and padded planes) are kept by the thread that freed them,
// for its next task: no lock, and the block's lines are still in that core's cache. With
// one shared cache, two threads' tasks queued on its lock and took each other's blocks
// (mobilenet_dw_14 on two threads spent a tenth of its time there).
struct ScratchBlock {
    void *data = nullptr;
    size_t capacity = 0;
    uint64_t returned = 0;  // (lent blocks) g_blocks_returned when this thread got it
};

// Blocks the shared cache has handed back to the system. Once one has, its address may
// come back as another block of another size; a thread's note of a capacity from before
// that is no longer trusted.
std::atomic<uint64_t> g_blocks_returned{0};

bool fits(const ScratchBlock &block, size_t size) { return block.capacity >= size && block.capacity <= 2 * size; }

class ScratchCache {
public:
    ScratchBlock allocate(size_t size) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto cached = free_.lower_bound(size);
            if (cached != free_.end() && cached->first <= 2 * size) {
                const ScratchBlock block{cached->second, cached->first, 0};
                cached_bytes_ -= cached->first;
                free_.erase(cached);
                return block;
            }
            fresh_++;
        }
        void *data = aligned_block(size);
        if (data != nullptr) {
            std::lock_guard<std::mutex> lock(mutex_);
            sizes_[data] = size;
        }
        return {data, size, 0};
    }

    void release(void *data) {
        if (data == nullptr) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto known = sizes_.find(data);
            if (known != sizes_.end() && cached_bytes_ + known->second <= kScratchCacheBytes) {
                free_.emplace(known->second, data);
                cached_bytes_ += known->second;
                return;
            }
            if (known != sizes_.end()) sizes_.erase(known);
        }
        g_blocks_returned++;
        free_aligned_block(data);
    }

    size_t fresh() {
        std::lock_guard<std::mutex> lock(mutex_);
        return fresh_;
    }

private:
    std::mutex mutex_;
    std::multimap<size_t, void *> free_;        // capacity -> block ready for reuse
    std::unordered_map<void *, size_t> sizes_;  // every block allocated, with its capacity
    size_t cached_bytes_ = 0;
    size_t fresh_ = 0;
};

// Never destroyed: kernels may run from other static destructors.
ScratchCache &scratch_cache() {
    static ScratchCache *cache = new ScratchCache;
    return *cache;
}

// A thread's small blocks: those it holds (`lent`, with their capacities, so that freeing
// one needs no look-up in the shared cache) and those it freed (`kept`). A block that
// does not fit (more blocks, larger ones, one freed by another thread, one noted before
// the shared cache last freed memory) takes the shared path. At thread exit the kept
// blocks go back to the shared cache, and later requests on that thread (from other
// destructors) take the shared path.
thread_local bool g_thread_blocks_gone = false;

class ThreadBlocks {
public:
    static constexpr size_t kLargest = 256 * 1024;
    static constexpr size_t kCount = 8;

    ~ThreadBlocks() {
        for (size_t i = 0; i < kept_count_; i++) scratch_cache().release(kept_[i].data);
        kept_count_ = lent_count_ = 0;
        g_thread_blocks_gone = true;
    }

    // A kept block that fits `size`, the smallest; nullptr if none.
    void *take(size_t size) {
        size_t best = kCount;
        for (size_t i = 0; i < kept_count_; i++) {
            if (fits(kept_[i], size) && (best == kCount || kept_[i].capacity < kept_[best].capacity)) best = i;
        }
        if (best == kCount) return nullptr;
        const ScratchBlock block = kept_[best];
        kept_[best] = kept_[--kept_count_];
        lend(block);
        return block.data;
    }

    // Notes a block this thread now holds. An older entry for the same address (a block
    // freed by another thread, its memory since handed out again) is dropped first, so a
    // capacity noted here is always the current one.
    void lend(ScratchBlock block) {
        for (size_t i = 0; i < lent_count_; i++) {
            if (lent_[i].data == block.data) lent_[i--] = lent_[--lent_count_];
        }
        block.returned = g_blocks_returned.load();
        if (block.capacity <= kLargest && lent_count_ < kCount) lent_[lent_count_++] = block;
    }

    // Keeps a block this thread holds; false if it is not one or there is no room.
    bool keep(void *data) {
        for (size_t i = 0; i < lent_count_; i++) {
            if (lent_[i].data != data) continue;
            const ScratchBlock block = lent_[i];
            lent_[i] = lent_[--lent_count_];
            if (kept_count_ == kCount || block.returned != g_blocks_returned.load()) return false;
            kept_[kept_count_++] = block;
            return true;
        }
        return false;
    }

private:
    ScratchBlock lent_[kCount], kept_[kCount];
    size_t lent_count_ = 0, kept_count_ = 0;
};

ThreadBlocks &thread_blocks() {
    thread_local ThreadBlocks blocks;
    return blocks;
}

void *cached_block(size_t size) {
    if (g_thread_blocks_gone) return scratch_cache().allocate(size).data;
    ThreadBlocks &mine = thread_blocks();
    if (void *data = mine.take(size)) return data;
    const ScratchBlock block = scratch_cache().allocate(size);
    if (block.data != nullptr) mine.lend(block);
    return block.data;
}

}  // namespace

void *scratch_malloc(size_t size) {
    void *data = cached_block(size);
    if (data != nullptr && scratch_poisoned()) poison_scratch(data, size + kSlack);
    return data;
}

void scratch_free(void *data) {
    if (data == nullptr) return;
    if (g_thread_blocks_gone || !thread_blocks().keep(data)) scratch_cache().release(data);
}

size_t scratch_fresh_blocks() { return scratch_cache().fresh(); }

}  // namespace convgen::detail
