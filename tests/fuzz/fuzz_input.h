#pragma once

// The layout of the fuzz targets' inputs: a sequence of chunks, each a
// 2-byte big-endian length and that many bytes (a short last chunk takes
// what is left). make_seeds.cc writes seeds in the same layout.

#include <cstddef>
#include <cstdint>
#include <string>

namespace ycr::fuzz {

class Chunks {
 public:
  Chunks(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return at_ >= size_; }

  // The next chunk ("" once the input is used up).
  std::string Next() {
    if (at_ + 2 > size_) {
      at_ = size_;
      return "";
    }
    size_t n = (size_t{data_[at_]} << 8) | data_[at_ + 1];
    at_ += 2;
    if (n > size_ - at_) n = size_ - at_;
    std::string out(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return out;
  }

  // The next chunk's first byte (0 when empty), for small choices.
  uint8_t NextByte() {
    const std::string chunk = Next();
    return chunk.empty() ? 0 : static_cast<uint8_t>(chunk[0]);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Appends one chunk to `out` (at most 65535 bytes).
inline void AddChunk(std::string* out, const std::string& chunk) {
  const size_t n = chunk.size() > 65535 ? 65535 : chunk.size();
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n & 0xff));
  out->append(chunk, 0, n);
}

}  // namespace ycr::fuzz
