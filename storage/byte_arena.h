#pragma once

// ByteArena: bytes copied into large blocks, handed out as string_views that
// stay valid until Clear(). For the build batch's keys and values: one copy
// per key or value into a block instead of a heap string each, freed all at
// once. Internal to storage.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"

namespace ycr::storage::internal {

class ByteArena {
 public:
  // Blocks of this size (a larger item gets a block of its own size).
  static constexpr size_t kBlockBytes = 1 << 20;
  // Clear keeps up to this many blocks for reuse.
  static constexpr size_t kKeptBlocks = 32;

  ByteArena() = default;
  ByteArena(const ByteArena&) = delete;
  ByteArena& operator=(const ByteArena&) = delete;

  // A copy of `bytes`.
  absl::string_view Add(absl::string_view bytes) {
    char* p = Allocate(bytes.size());
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    return absl::string_view(p, bytes.size());
  }

  // `head` then a copy of `tail`, contiguous.
  absl::string_view Add(char head, absl::string_view tail) {
    char* p = Allocate(tail.size() + 1);
    p[0] = head;
    if (!tail.empty()) std::memcpy(p + 1, tail.data(), tail.size());
    return absl::string_view(p, tail.size() + 1);
  }

  // Bytes handed out since the last Clear.
  size_t bytes() const { return used_; }

  // Invalidates every view handed out; keeps a few blocks to reuse.
  void Clear() {
    std::vector<std::unique_ptr<char[]>> kept;
    for (auto& block : blocks_) {
      if (kept.size() < kKeptBlocks && block.size == kBlockBytes) {
        kept.push_back(std::move(block.data));
      }
    }
    for (auto& block : spare_) {
      if (kept.size() < kKeptBlocks) kept.push_back(std::move(block));
    }
    blocks_.clear();
    spare_ = std::move(kept);
    pos_ = nullptr;
    left_ = 0;
    used_ = 0;
  }

  // Takes the blocks `other` keeps for reuse (up to kKeptBlocks in all).
  void TakeSpares(ByteArena& other) {
    for (auto& block : other.spare_) {
      if (spare_.size() < kKeptBlocks) spare_.push_back(std::move(block));
    }
    other.spare_.clear();
  }

  void Swap(ByteArena& other) {
    blocks_.swap(other.blocks_);
    spare_.swap(other.spare_);
    std::swap(pos_, other.pos_);
    std::swap(left_, other.left_);
    std::swap(used_, other.used_);
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };

  char* Allocate(size_t n) {
    if (n > left_) {
      if (n <= kBlockBytes && !spare_.empty()) {
        blocks_.push_back(Block{std::move(spare_.back()), kBlockBytes});
        spare_.pop_back();
      } else {
        const size_t size = std::max(kBlockBytes, n);
        // Not zeroed: every byte handed out is written first.
        blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
      }
      pos_ = blocks_.back().data.get();
      left_ = blocks_.back().size;
    }
    char* p = pos_;
    pos_ += n;
    left_ -= n;
    used_ += n;
    return p;
  }

  std::vector<Block> blocks_;
  std::vector<std::unique_ptr<char[]>> spare_;
  char* pos_ = nullptr;
  size_t left_ = 0;
  size_t used_ = 0;
};

}  // namespace ycr::storage::internal
